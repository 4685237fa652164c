"""Label-free performance estimates: against the realised scikit-learn metrics on simulated data.

The simulations draw calibrated probabilities ``p`` and then labels ``y ~ Bernoulli(p)``, so the truth is
known. Given the scores, ``realised - estimate`` has mean 0 (exactly for accuracy and precision, up to
O(1/n) for the ratios) and standard deviation the reported standard error ``se``; the checks allow
``Z = 4`` standard errors (a fresh seed would fail one check about 6 times in 100,000; the seeds are fixed,
so the tests are deterministic). With 200,000 rows ``se`` is about 0.001, and the tests also check that,
so the tolerance stays tight. Separate tests check ``se`` itself: exactly, by enumerating every labelling
of a few rows, and against the spread of realised metrics over thousands of label draws.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.isotonic import IsotonicRegression

from charter.errors import InvalidInput
from charter.metrics import estimate as est
from charter.metrics import performance as perf
from charter.metrics import registry
from charter.metrics.estimate import Calibrator, Estimate, EstimatedPerformance

N = 200_000
Z = 4.0  # tolerance in standard errors, see the module docstring
METRICS = ("accuracy", "precision", "recall", "f1", "specificity", "roc_auc")


def _simulate(p: np.ndarray, seed: int) -> np.ndarray:
    """Labels drawn from calibrated probabilities: y_i ~ Bernoulli(p_i)."""
    return (np.random.default_rng(seed).random(len(p)) < p).astype(int)


def _beta(a: float, b: float, seed: int, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    p = np.random.default_rng(seed).beta(a, b, n)
    return p, _simulate(p, seed + 1)


def _realised(y: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """What the metrics turn out to be once the labels are known (scikit-learn)."""
    pred = (scores >= threshold).astype(int)
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "specificity": skm.recall_score(y, pred, pos_label=0, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, scores),
    }


def _assert_tracks(report: EstimatedPerformance, realised: dict[str, float], *, slack: float = 1.0) -> None:
    """Each estimate within Z (times ``slack``) of its standard errors of the realised metric, and se small."""
    for name, value in realised.items():
        estimate = getattr(report, name)
        assert 0 < estimate.standard_error < 0.005, name
        assert abs(value - estimate.value) <= Z * slack * estimate.standard_error, (name, value, estimate)


# -- calibrated data: the estimate tracks the truth ---------------------------------------

SHAPES = [(2, 2, 0.5), (0.5, 0.5, 0.5), (2, 5, 0.5), (2, 5, 0.3), (5, 2, 0.7)]


@pytest.mark.parametrize(("a", "b", "threshold"), SHAPES, ids=[f"beta{a}-{b}-t{t}" for a, b, t in SHAPES])
def test_estimates_match_the_realised_metrics_of_calibrated_data(a: float, b: float, threshold: float) -> None:
    p, y = _beta(a, b, seed=int(10 * a + b + 100 * threshold))
    report = est.estimate_performance(p, threshold=threshold)
    _assert_tracks(report, _realised(y, p, threshold))
    assert report.rows == N and report.threshold == threshold and not report.calibrated
    # The expected confusion matrix adds up: rows, and predicted positives (known without labels).
    assert math.isclose(report.tp + report.fp + report.fn + report.tn, N, rel_tol=1e-12)
    assert math.isclose(report.tp + report.fp, np.count_nonzero(p >= threshold), rel_tol=1e-12)
    # The single-metric functions give the report's values.
    assert est.estimated_accuracy(p, threshold=threshold) == report.accuracy.value
    assert est.estimated_precision(p, threshold=threshold) == report.precision.value
    assert est.estimated_recall(p, threshold=threshold) == report.recall.value
    assert est.estimated_f1(p, threshold=threshold) == report.f1.value
    assert report.roc_auc is not None and est.estimated_roc_auc(p, threshold=threshold) == report.roc_auc.value


def test_estimated_accuracy_is_the_mean_chance_of_being_right() -> None:
    p, _ = _beta(2, 2, seed=7)
    # At threshold 1/2 a row is right with probability max(p, 1 - p): the hand formula, to the last bit.
    assert est.estimated_accuracy(p) == float(np.mean(np.maximum(p, 1 - p)))
    assert est.estimate_performance(p).accuracy.value == float(np.mean(np.maximum(p, 1 - p)))
    # Precision: the mean probability over the predicted positives; recall: their share of sum(p).
    assert math.isclose(est.estimated_precision(p, threshold=0.3), float(np.mean(p[p >= 0.3])), rel_tol=1e-12)
    assert math.isclose(est.estimated_recall(p), float(p[p >= 0.5].sum() / p.sum()), rel_tol=1e-12)


def test_covariate_shift_moves_the_accuracy_and_the_estimate_follows() -> None:
    # A calibrated model p = P(y = 1 | x) = sigmoid(2x). The inputs shift; p(y | x) does not.
    rng = np.random.default_rng(11)
    x_reference, x_current = rng.normal(0, 1, N), rng.normal(1.5, 1, N)
    p_reference, p_current = (1 / (1 + np.exp(-2 * x)) for x in (x_reference, x_current))
    y_reference, y_current = _simulate(p_reference, 12), _simulate(p_current, 13)
    reference, current = _realised(y_reference, p_reference), _realised(y_current, p_current)
    report = est.estimate_performance(p_current)
    assert current["accuracy"] - reference["accuracy"] > 0.05  # the shift really changed the accuracy
    assert abs(reference["accuracy"] - report.accuracy.value) > 40 * report.accuracy.standard_error
    _assert_tracks(report, current)
    _assert_tracks(est.estimate_performance(p_reference), reference)


def test_concept_drift_is_where_the_estimate_fails() -> None:
    # The model still says sigmoid(2x), but p(y | x) became sigmoid(2x - 1.5): calibration no longer holds.
    rng = np.random.default_rng(21)
    x = rng.normal(0, 1, N)
    p_model = 1 / (1 + np.exp(-2 * x))
    y = _simulate(1 / (1 + np.exp(-(2 * x - 1.5))), 22)
    report, realised = est.estimate_performance(p_model), _realised(y, p_model)
    for name in ("accuracy", "precision", "f1"):
        estimate = getattr(report, name)
        assert abs(realised[name] - estimate.value) > 20 * estimate.standard_error, name


# -- uncalibrated models and calibrate() -------------------------------------------------


def test_an_uncalibrated_model_needs_calibrate() -> None:
    # The model ranks well but its scores are p**3, not probabilities; decisions are scores >= 0.5.
    p_reference, y_reference = _beta(2, 2, seed=31)
    p_current, y_current = _beta(1.5, 2.5, seed=33)  # and the inputs shifted since the reference
    scores_reference, scores_current = p_reference**3, p_current**3
    realised = _realised(y_current, scores_current)

    naive = est.estimate_performance(scores_current)
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        estimate = getattr(naive, name)
        assert abs(realised[name] - estimate.value) > 20 * estimate.standard_error, name

    calibrator = est.calibrate(scores_reference, y_reference)
    report = est.estimate_performance(scores_current, calibrator=calibrator)
    assert report.calibrated
    # The calibrator is fitted on labels as noisy as the current ones (and as many): its error adds a
    # second term of about the same size, so the tolerance is Z standard errors times sqrt(2).
    _assert_tracks(report, realised, slack=math.sqrt(2))
    # Decisions stay the model's: scores >= threshold, not calibrated probabilities >= threshold.
    assert math.isclose(report.tp + report.fp, np.count_nonzero(scores_current >= 0.5), rel_tol=1e-12)
    # A calibrator read back from JSON gives the same numbers.
    stored = json.loads(json.dumps(calibrator.to_dict()))
    assert est.estimate_performance(scores_current, calibrator=stored) == report
    assert report.roc_auc is not None
    assert est.estimated_roc_auc(scores_current, calibrator=Calibrator.from_dict(stored)) == report.roc_auc.value


RNG = np.random.default_rng(41)
P_ISO = RNG.beta(2, 2, 3000)
Y_ISO = _simulate(P_ISO, 42)
ISO_CASES = [
    ("continuous", P_ISO**3, Y_ISO),
    ("ties", np.round(P_ISO, 1), Y_ISO),
    ("few", np.array([0.1, 0.2, 0.2, 0.4, 0.9]), np.array([1, 0, 1, 0, 1])),
    ("decreasing", 1 - P_ISO, Y_ISO),  # a model that is backwards: isotonic can only flatten it
    ("one-score", np.full(10, 0.3), np.array([0, 1] * 5)),
]


@pytest.mark.parametrize(("scores", "labels"), [c[1:] for c in ISO_CASES], ids=[c[0] for c in ISO_CASES])
def test_calibrate_equals_scikit_learn_isotonic_regression(scores: np.ndarray, labels: np.ndarray) -> None:
    calibrator = est.calibrate(scores, labels)
    oracle = IsotonicRegression(out_of_bounds="clip").fit(scores, labels)
    grid = np.concatenate([scores, np.linspace(0, 1, 1001)])  # the knots, between them and beyond them
    assert np.allclose(calibrator.apply(grid), oracle.predict(grid), rtol=0, atol=1e-12)
    assert list(calibrator.scores) == sorted(set(calibrator.scores))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_calibrate_equals_scikit_learn_on_random_small_data(data: st.DataObject) -> None:
    labels = data.draw(st.lists(st.integers(0, 1), min_size=2, max_size=40).filter(lambda v: 0 < sum(v) < len(v)))
    # Rounded: scikit-learn pools scores less than 1e-15 apart as ties, Charter only equal ones.
    values = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1).map(lambda v: round(v, 9)))
    scores = np.array(data.draw(st.lists(values, min_size=len(labels), max_size=len(labels))))
    calibrator = est.calibrate(scores, labels)
    grid = np.concatenate([scores, np.linspace(0, 1, 101)])
    expected = IsotonicRegression(out_of_bounds="clip").fit(scores, labels).predict(grid)
    assert np.allclose(calibrator.apply(grid), expected, rtol=0, atol=1e-9)
    assert np.all(np.diff(calibrator.apply(np.sort(grid))) >= 0)


def test_calibrator_round_trips_through_json() -> None:
    calibrator = est.calibrate([0.1, 0.4, 0.35, 0.8], [0, 1, 0, 1])
    assert calibrator == Calibrator(scores=(0.1, 0.35, 0.4, 0.8), probabilities=(0.0, 0.0, 1.0, 1.0))
    text = json.dumps(calibrator.to_dict())
    assert json.loads(text) == {"method": "isotonic", "scores": [0.1, 0.35, 0.4, 0.8], "probabilities": [0, 0, 1, 1]}
    assert Calibrator.from_dict(json.loads(text)) == calibrator
    assert calibrator.apply([0.0, 0.375, 1.0]).tolist() == [0.0, 0.5, 1.0]  # clipped, interpolated, clipped


# -- the ROC AUC formula ------------------------------------------------------------------


AUC_CASES = [
    ("continuous", None, None),
    ("ties", 1, None),  # scores rounded to one decimal: many ties, some scores exactly 0 or 1
    ("calibrated", None, Calibrator(scores=(0.0, 1.0), probabilities=(0.1, 0.9))),
    ("calibrated-ties", 1, Calibrator(scores=(0.2, 0.6), probabilities=(0.3, 0.7))),
]


@pytest.mark.parametrize(("rounding", "calibrator"), [c[1:] for c in AUC_CASES], ids=[c[0] for c in AUC_CASES])
def test_roc_auc_is_the_weighted_auc_without_self_pairs(rounding: int | None, calibrator: Calibrator | None) -> None:
    # scikit-learn's weighted AUC over each row counted once as a positive (weight p) and once as a
    # negative (weight 1 - p) is the area under the expected ROC curve, self-pairs included:
    # A = sum_{i,j} p_i (1 - p_j) K_ij / (sum p)(sum 1 - p). Taking out i = j (K_ii = 1/2) gives E[U] / E[P N].
    # Rows rank by the model's scores and weigh by the (calibrated) probabilities.
    scores = np.random.default_rng(51).beta(2, 3, 500)
    scores = scores if rounding is None else np.round(scores, rounding)
    p = scores if calibrator is None else calibrator.apply(scores)
    area = skm.roc_auc_score(np.r_[np.ones(500), np.zeros(500)], np.r_[scores, scores], sample_weight=np.r_[p, 1 - p])
    sum_p, sum_q, self_pairs = p.sum(), (1 - p).sum(), (p * (1 - p)).sum()
    expected = (area * sum_p * sum_q - 0.5 * self_pairs) / (sum_p * sum_q - self_pairs)
    assert math.isclose(est.estimated_roc_auc(scores, calibrator=calibrator), expected, rel_tol=1e-12)


def test_roc_auc_of_two_rows_is_the_exact_conditional_expectation() -> None:
    # AUC exists only when one row is positive and the other negative: E[AUC | that] = p1 q2 / (p1 q2 + p2 q1).
    p1, p2 = 0.8, 0.3
    assert math.isclose(est.estimated_roc_auc([p1, p2]), p1 * (1 - p2) / (p1 * (1 - p2) + p2 * (1 - p1)))
    assert est.estimated_roc_auc([0.4, 0.4]) == 0.5


# -- standard errors ----------------------------------------------------------------------

PROBABILITY = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 0.3]), st.floats(0, 1))
# Six decimals at most: every labelling of eight rows keeps a probability far above underflow.
EXACT_PROBABILITY = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 0.3]), st.floats(0, 1).map(lambda v: round(v, 6)))
CALIBRATORS = [None, Calibrator(scores=(0.0, 1.0), probabilities=(0.1, 0.9)), Calibrator((0.3, 0.7), (0.2, 0.6))]


def _enumerated(scores: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(numerator, denominator) of each metric for every possible labelling (one row each)."""
    y = np.array(list(itertools.product([0, 1], repeat=len(p))), dtype=np.float64)
    pred = (scores >= threshold).astype(np.float64)
    tp, fp, fn, tn = y @ pred, (1 - y) @ pred, y @ (1 - pred), (1 - y) @ (1 - pred)
    k = (scores[:, None] > scores[None, :]) + 0.5 * (scores[:, None] == scores[None, :])
    wins = np.einsum("ri,ij,rj->r", y, k, 1 - y)  # the diagonal drops out: y_i (1 - y_i) = 0
    positives = y.sum(axis=1)
    return {
        "accuracy": (tp + tn, np.full(len(y), float(len(p)))),
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "f1": (2 * tp, 2 * tp + fp + fn),
        "specificity": (tn, tn + fp),
        "roc_auc": (wins, positives * (len(p) - positives)),
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(EXACT_PROBABILITY, min_size=1, max_size=8), st.floats(0.01, 0.99), st.sampled_from(CALIBRATORS))
def test_estimates_and_standard_errors_are_exact_over_every_labelling(
    scores_list: list[float], threshold: float, calibrator: Calibrator | None
) -> None:
    # Each estimate is E[num] / E[den] and its se is sqrt(Var(num - R den)) / E[den], R the estimate,
    # over all 2**n labellings weighted by their probability: exactly what the module docstring promises.
    scores = np.array(scores_list)
    p = scores if calibrator is None else calibrator.apply(scores)
    report = est.estimate_performance(scores, threshold=threshold, calibrator=calibrator)
    y = np.array(list(itertools.product([0, 1], repeat=len(p))), dtype=np.float64)
    weight = np.prod(np.where(y == 1, p, 1 - p), axis=1)
    for name, (num, den) in _enumerated(scores, p, threshold).items():
        estimate = getattr(report, name)
        expected_den = weight @ den
        if expected_den == 0:
            assert estimate is None if name == "roc_auc" else estimate == Estimate(0.0, 0.0), name
            continue
        ratio = (weight @ num) / expected_den
        se = math.sqrt(max(weight @ (num - ratio * den) ** 2, 0.0)) / expected_den
        assert math.isclose(estimate.value, ratio, rel_tol=1e-9, abs_tol=1e-12), name
        assert math.isclose(estimate.standard_error, se, rel_tol=1e-9, abs_tol=1e-12), name


def test_standard_errors_match_the_spread_over_label_draws() -> None:
    # Hold 2,000 scores fixed, draw the labels 4,000 times: the realised metrics' standard deviation is
    # the reported se within 5% (that standard deviation has a sampling error of about 1.1%; the delta
    # method's own error at 2,000 rows is smaller still), and their mean is the estimate within 4 standard
    # errors of a mean of 4,000 draws (the ratios' O(1/n) bias is well inside that).
    n, draws = 2000, 4000
    p = np.random.default_rng(61).beta(2, 3, n)
    report = est.estimate_performance(p)
    y = (np.random.default_rng(62).random((draws, n)) < p).astype(np.float64)
    pred = (p >= 0.5).astype(np.float64)
    tp, fn, tn = y @ pred, y @ (1 - pred), (1 - y) @ (1 - pred)
    positives = y.sum(axis=1)
    ranks = stats.rankdata(p)  # midranks; the same for every draw because the scores are fixed
    realised = {
        "accuracy": (tp + tn) / n,
        "precision": tp / pred.sum(),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (tp + pred.sum() + fn),
        "specificity": tn / (n - positives),
        "roc_auc": (y @ ranks - positives * (positives + 1) / 2) / (positives * (n - positives)),
    }
    for name, values in realised.items():
        estimate = getattr(report, name)
        assert math.isclose(values.std(), estimate.standard_error, rel_tol=0.05), name
        assert abs(values.mean() - estimate.value) < Z * estimate.standard_error / math.sqrt(draws), name


def test_interval_is_the_normal_interval_clipped_to_zero_one() -> None:
    estimate = Estimate(0.8, 0.01)
    low, high = estimate.interval()
    assert math.isclose(low, 0.8 - 1.959963984540054 * 0.01) and math.isclose(high, 0.8 + 1.959963984540054 * 0.01)
    assert estimate.interval(level=0.99)[0] < low
    assert Estimate(0.99, 0.05).interval() == (pytest.approx(0.99 - 1.959963984540054 * 0.05), 1.0)
    assert Estimate(0.01, 0.05).interval()[0] == 0.0


def test_report_to_dict_is_json() -> None:
    report = est.estimate_performance([0.9, 0.2, 0.6, 0.4])
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["rows"] == 4 and data["threshold"] == 0.5 and data["calibrated"] is False
    assert set(data) == {"rows", "threshold", "calibrated", "expected_confusion", *METRICS}
    assert data["expected_confusion"] == pytest.approx({"tp": 1.5, "fp": 0.5, "fn": 0.6, "tn": 1.4})
    assert data["accuracy"]["value"] == pytest.approx(0.725)
    assert data["accuracy"]["interval_95"] == pytest.approx(list(report.accuracy.interval()))
    # No AUC when no pair of rows can be one positive and one negative.
    assert est.estimate_performance([1.0, 1.0]).to_dict()["roc_auc"] is None
    assert est.estimate_performance([0.3]).roc_auc is None


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(PROBABILITY, min_size=1, max_size=200), st.floats(0.01, 0.99))
def test_estimates_lie_in_zero_one(scores: list[float], threshold: float) -> None:
    report = est.estimate_performance(scores, threshold=threshold)
    for name in METRICS:
        estimate = getattr(report, name)
        if estimate is None:
            continue
        low, high = estimate.interval()
        assert 0.0 <= low <= estimate.value <= high <= 1.0, name
        assert math.isfinite(estimate.standard_error) and estimate.standard_error >= 0, name


@given(st.lists(st.integers(0, 1), min_size=1, max_size=60), st.floats(0.01, 0.99))
def test_certain_scores_give_the_exact_metrics(labels: list[int], threshold: float) -> None:
    # Scores of exactly 0 or 1 leave no doubt: the labels are the scores, the estimates the exact metrics.
    predicted = [int(v >= threshold) for v in labels]
    report = est.estimate_performance([float(v) for v in labels], threshold=threshold)
    assert report.accuracy == Estimate(perf.accuracy(labels, predicted), 0.0)
    assert report.precision == Estimate(perf.precision(labels, predicted), 0.0)
    assert report.recall == Estimate(perf.recall(labels, predicted), 0.0)
    assert report.f1 == Estimate(perf.f1(labels, predicted), 0.0)
    if 0 < sum(labels) < len(labels):
        assert report.roc_auc == Estimate(perf.roc_auc(labels, labels), 0.0)


# -- every input type gives the same number ----------------------------------------------

CONVERTERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("list", lambda a: np.asarray(a).tolist()),
    ("numpy", np.asarray),
    ("pandas", pd.Series),
    ("polars", lambda a: pl.Series(np.asarray(a).tolist())),
    ("pyarrow", lambda a: pa.array(np.asarray(a).tolist())),
]
P_TYPES, Y_TYPES = _beta(2, 3, seed=71, n=400)
KERNELS: list[tuple[str, Callable[..., float]]] = [
    ("accuracy", est.estimated_accuracy),
    ("precision", est.estimated_precision),
    ("recall", est.estimated_recall),
    ("f1", est.estimated_f1),
    ("roc_auc", est.estimated_roc_auc),
]


@pytest.mark.parametrize("to_input", [c[1] for c in CONVERTERS], ids=[c[0] for c in CONVERTERS])
@pytest.mark.parametrize("kernel", [k[1] for k in KERNELS], ids=[k[0] for k in KERNELS])
def test_every_input_type_gives_the_same_number(to_input: Callable[[Any], Any], kernel: Callable[..., float]) -> None:
    calibrator = est.calibrate(P_TYPES**2, Y_TYPES)
    for options in ({}, {"threshold": 0.35}, {"calibrator": calibrator}):
        result = kernel(to_input(P_TYPES), **options)
        assert type(result) is float
        assert result == kernel(P_TYPES, **options)


@pytest.mark.parametrize("to_input", [c[1] for c in CONVERTERS], ids=[c[0] for c in CONVERTERS])
def test_report_and_calibrate_from_every_input_type(to_input: Callable[[Any], Any]) -> None:
    calibrator = est.calibrate(to_input(P_TYPES**2), to_input(Y_TYPES))
    assert calibrator == est.calibrate(P_TYPES**2, Y_TYPES)
    assert calibrator.apply(to_input(P_TYPES)).tolist() == calibrator.apply(P_TYPES).tolist()
    report = est.estimate_performance(to_input(P_TYPES), calibrator=calibrator)
    assert report == est.estimate_performance(P_TYPES, calibrator=calibrator)


# -- bad input ----------------------------------------------------------------------------

MISSING = "missing value(s) (NaN or null); every row needs a score, so drop those rows first"
RANGE = "probabilities must be between 0 and 1, got values from"
THRESHOLD = "threshold: must be a number above 0 and below 1, got"
NO_AUC = (
    "y_score: no pair of rows can be one positive and one negative (fewer than two rows, or every probability "
    "is 0, or every probability is 1), so the ROC AUC cannot be estimated"
)
ERROR_CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("empty", lambda: est.estimate_performance([]), "y_score: no values; an estimate needs at least one score"),
    ("nan", lambda: est.estimated_accuracy([0.2, np.nan, 0.9]), f"y_score: 1 {MISSING}"),
    ("none", lambda: est.estimated_f1([None, 0.5, None]), f"y_score: 2 {MISSING}"),
    ("arrow-null", lambda: est.estimated_recall(pa.array([0.1, None])), f"y_score: 1 {MISSING}"),
    ("above-one", lambda: est.estimated_precision([0.2, 1.5]), f"y_score: {RANGE} 0.2 to 1.5"),
    ("below-zero", lambda: est.estimate_performance([-0.1, 0.5]), f"y_score: {RANGE} -0.1 to 0.5"),
    ("infinite", lambda: est.estimate_performance([0.5, np.inf]), f"y_score: {RANGE} 0.5 to inf"),
    ("not-numbers", lambda: est.estimated_accuracy(["high", "low"]), "y_score: values must be numbers"),
    ("threshold-zero", lambda: est.estimate_performance([0.5], threshold=0), f"{THRESHOLD} 0"),
    ("threshold-one", lambda: est.estimated_accuracy([0.5], threshold=1.0), f"{THRESHOLD} 1.0"),
    ("threshold-above", lambda: est.estimated_roc_auc([0.5, 0.2], threshold=1.5), f"{THRESHOLD} 1.5"),
    ("threshold-nan", lambda: est.estimated_f1([0.5], threshold=math.nan), f"{THRESHOLD} nan"),
    ("threshold-bool", lambda: est.estimated_f1([0.5], threshold=True), f"{THRESHOLD} True"),
    ("threshold-str", lambda: est.estimated_f1([0.5], threshold="0.5"), f"{THRESHOLD} '0.5'"),  # type: ignore[arg-type]
    ("auc-one-row", lambda: est.estimated_roc_auc([0.7]), NO_AUC),
    ("auc-certain", lambda: est.estimated_roc_auc([1.0, 1.0, 1.0]), NO_AUC),
    (
        "calibrate-single-class",
        lambda: est.calibrate([0.2, 0.6, 0.9], [1, 1, 1]),
        "reference_labels: every label is 1; calibrate needs both classes (0 and 1) in the reference",
    ),
    (
        "calibrate-length",
        lambda: est.calibrate([0.2, 0.6, 0.9], [0, 1]),
        "the inputs must have the same length: reference_scores has 3, reference_labels has 2",
    ),
    (
        "calibrate-empty",
        lambda: est.calibrate([], []),
        "reference_scores: no values; an estimate needs at least one score",
    ),
    (
        "calibrate-labels",
        lambda: est.calibrate([0.2, 0.6, 0.9], [0, 2, 1]),
        "reference_labels: expected binary labels 0 and 1 (or False and True), got 2",
    ),
    (
        "calibrate-missing-label",
        lambda: est.calibrate([0.2, 0.6], [0, None]),
        "reference_labels: 1 missing value(s) (NaN or null); calibration needs a label for every score, "
        "so drop those rows first",
    ),
    ("calibrate-scores", lambda: est.calibrate([0.2, 2.0], [0, 1]), f"reference_scores: {RANGE} 0.2 to 2"),
    ("apply-scores", lambda: Calibrator((0.0, 1.0), (0.0, 1.0)).apply([np.nan]), f"scores: 1 {MISSING}"),
    (
        "calibrator-type",
        lambda: est.estimate_performance([0.5], calibrator=[0.1, 0.9]),  # type: ignore[arg-type]
        "calibrator: expected a Calibrator from calibrate() or its to_dict(), got list",
    ),
    (
        "calibrator-field",
        lambda: est.estimate_performance([0.5], calibrator={"scores": [0.5]}),
        "calibrator: missing field 'probabilities' (needs scores and probabilities)",
    ),
    (
        "calibrator-method",
        lambda: Calibrator.from_dict({"method": "platt", "scores": [0.5], "probabilities": [0.5]}),
        "calibrator: unknown method 'platt' (known: 'isotonic')",
    ),
    (
        "calibrator-lengths",
        lambda: Calibrator.from_dict({"scores": [0.1, 0.5], "probabilities": [0.5]}),
        "calibrator: scores and probabilities must be lists of the same length, at least one (got 2 and 1)",
    ),
    (
        "calibrator-order",
        lambda: Calibrator((0.5, 0.1), (0.2, 0.3)),
        "calibrator: scores must be finite and strictly increasing",
    ),
    (
        "calibrator-decreasing",
        lambda: Calibrator((0.1, 0.5), (0.3, 0.2)),
        "calibrator: probabilities must lie between 0 and 1 and never decrease",
    ),
    ("level", lambda: Estimate(0.5, 0.1).interval(level=95), "level: must be above 0 and below 1, got 95"),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_bad_input_errors(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}") as caught:
        call()
    assert caught.value.code == "input.invalid"


# -- registration -------------------------------------------------------------------------

EXPECTED = {
    "estimated.accuracy": est.estimated_accuracy,
    "estimated.precision": est.estimated_precision,
    "estimated.recall": est.estimated_recall,
    "estimated.f1": est.estimated_f1,
    "estimated.roc_auc": est.estimated_roc_auc,
}


def test_every_estimate_is_registered_with_a_summary() -> None:
    # The registry as filled by importing this module.
    registered = {k: m for k, m in registry._REGISTRY.items() if k.startswith("estimated.")}
    assert set(registered) == set(EXPECTED)
    for metric_id, function in EXPECTED.items():
        metric = registered[metric_id]
        assert (metric.function, metric.direction, metric.threshold) == (function, "higher_is_better", None)
        assert metric.summary.endswith("No default threshold: the baseline is per model.")
