"""Performance kernels against scikit-learn on the same arrays, over every input type."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import sklearn.calibration as skc
import sklearn.metrics as skm
from hypothesis import assume, given
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.metrics import performance as perf
from charter.metrics import registry

N = 500
RNG = np.random.default_rng(20240611)
Y_BIN = RNG.integers(0, 2, N)
P_BIN = np.where(RNG.random(N) < 0.8, Y_BIN, 1 - Y_BIN)  # a model right 80% of the time
Y_MULTI = RNG.integers(0, 4, N)
P_MULTI = np.where(RNG.random(N) < 0.6, Y_MULTI, RNG.integers(0, 5, N))  # label 4 only ever predicted
NAMES = np.array(["cat", "dog", "eel"], dtype=object)
Y_STR = NAMES[RNG.integers(0, 3, N)]
P_STR = np.where(RNG.random(N) < 0.7, Y_STR, NAMES[RNG.integers(0, 3, N)])
SCORE = Y_BIN * 0.7 + RNG.normal(0, 0.5, N)  # continuous, no ties
SCORE_TIED = np.round(SCORE * 2) / 2  # a handful of distinct values: many ties
PROB = np.clip(1 / (1 + np.exp(-3 * (SCORE - 0.35))), 0.001, 0.999)
Y_REG = RNG.normal(10, 3, N)
P_REG = Y_REG + RNG.normal(0, 1, N)
Y_REG_ZEROS = np.where(RNG.random(N) < 0.1, 0.0, Y_REG)  # mape divides by max(|y|, eps)


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)


# -- equal to scikit-learn ----------------------------------------------------------------

Kernel = Callable[..., float]
ORACLE_CASES: list[tuple[str, Kernel, Kernel, tuple[Any, ...]]] = [
    ("accuracy-binary", perf.accuracy, skm.accuracy_score, (Y_BIN, P_BIN)),
    ("accuracy-multiclass", perf.accuracy, skm.accuracy_score, (Y_MULTI, P_MULTI)),
    ("accuracy-strings", perf.accuracy, skm.accuracy_score, (Y_STR, P_STR)),
    ("roc_auc", perf.roc_auc, skm.roc_auc_score, (Y_BIN, SCORE)),
    ("roc_auc-ties", perf.roc_auc, skm.roc_auc_score, (Y_BIN, SCORE_TIED)),
    ("roc_auc-hard-labels", perf.roc_auc, skm.roc_auc_score, (Y_BIN, P_BIN)),
    ("pr_auc", perf.pr_auc, skm.average_precision_score, (Y_BIN, SCORE)),
    ("pr_auc-ties", perf.pr_auc, skm.average_precision_score, (Y_BIN, SCORE_TIED)),
    ("log_loss", perf.log_loss, skm.log_loss, (Y_BIN, PROB)),
    ("brier", perf.brier, skm.brier_score_loss, (Y_BIN, PROB)),
    ("mae", perf.mae, skm.mean_absolute_error, (Y_REG, P_REG)),
    ("rmse", perf.rmse, skm.root_mean_squared_error, (Y_REG, P_REG)),
    ("mape", perf.mape, skm.mean_absolute_percentage_error, (Y_REG, P_REG)),
    ("mape-zeros", perf.mape, skm.mean_absolute_percentage_error, (Y_REG_ZEROS, P_REG)),
    ("r2", perf.r2, skm.r2_score, (Y_REG, P_REG)),
    ("r2-constant-truth-miss", perf.r2, skm.r2_score, (np.full(5, 2.0), np.arange(5.0))),
    ("r2-constant-truth-hit", perf.r2, skm.r2_score, (np.full(5, 2.0), np.full(5, 2.0))),
]


@pytest.mark.parametrize(("kernel", "oracle", "args"), [c[1:] for c in ORACLE_CASES], ids=[c[0] for c in ORACLE_CASES])
def test_equals_scikit_learn(kernel: Kernel, oracle: Kernel, args: tuple[Any, ...]) -> None:
    assert close(kernel(*args), float(oracle(*args)))


PRF = [(perf.precision, skm.precision_score), (perf.recall, skm.recall_score), (perf.f1, skm.f1_score)]
PRF_DATA: list[tuple[str, Any, Any, str, Any]] = [
    ("binary", Y_BIN, P_BIN, average, 1) for average in ("binary", "macro", "micro", "weighted")
]
PRF_DATA += [("binary-pos0", Y_BIN, P_BIN, "binary", 0), ("strings-binary", Y_STR[:2], P_STR[:2], "macro", 1)]
PRF_DATA += [
    (name, y, p, average, 1)
    for name, y, p in (("multiclass", Y_MULTI, P_MULTI), ("strings", Y_STR, P_STR))
    for average in ("macro", "micro", "weighted")
]
PRF_DATA += [  # zero_division: nothing predicted positive, nothing truly positive, nothing at all
    ("no-predicted-positives", [0, 1, 1, 0], [0, 0, 0, 0], "binary", 1),
    ("no-true-positives", [0, 0, 0, 0], [0, 1, 1, 0], "binary", 1),
    ("one-label-only", [0, 0, 0], [0, 0, 0], "binary", 1),
    ("label-never-true", [0, 1, 2, 2], [0, 1, 3, 3], "macro", 1),
]


@pytest.mark.parametrize(("kernel", "oracle"), PRF, ids=["precision", "recall", "f1"])
@pytest.mark.parametrize(
    ("y_true", "y_pred", "average", "pos_label"), [d[1:] for d in PRF_DATA], ids=[d[0] for d in PRF_DATA]
)
def test_precision_recall_f1_equal_scikit_learn(
    kernel: Kernel, oracle: Kernel, y_true: Any, y_pred: Any, average: Any, pos_label: Any
) -> None:
    expected = oracle(y_true, y_pred, average=average, pos_label=pos_label, zero_division=0)
    assert close(kernel(y_true, y_pred, average=average, pos_label=pos_label), float(expected))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels"),
    [
        (Y_MULTI, P_MULTI, None),
        (Y_STR, P_STR, None),
        (Y_MULTI, P_MULTI, [3, 1, 0]),  # a subset, out of order: other pairs are not counted
        (Y_STR, P_STR, ["eel", "cat", "yak"]),  # a label never seen gets a row and column of zeros
    ],
    ids=["multiclass", "strings", "subset", "unseen-label"],
)
def test_confusion_matrix_equals_scikit_learn(y_true: Any, y_pred: Any, labels: Any) -> None:
    matrix = perf.confusion_matrix(y_true, y_pred, labels=labels)
    expected_labels = tuple(sorted(set(y_true) | set(y_pred))) if labels is None else tuple(labels)
    assert matrix.labels == expected_labels
    assert matrix.counts.dtype == np.int64
    assert np.array_equal(matrix.counts, skm.confusion_matrix(y_true, y_pred, labels=list(expected_labels)))
    assert not matrix.counts.flags.writeable


def test_log_loss_clips_at_eps() -> None:
    y, p = [1, 0, 1], [0.0, 1.0, 0.5]
    for eps in (1e-15, 1e-3):
        expected = skm.log_loss(y, np.clip(p, eps, 1 - eps))
        assert close(perf.log_loss(y, p, eps=eps), expected)
    assert math.isfinite(perf.log_loss(y, p))


# -- expected calibration error ----------------------------------------------------------


def test_ece_by_hand() -> None:
    # Five bins of width 0.2. Bin [0, .2): p .1 .1, y 0 1 -> |.5 - .1| = .4, weight 2/7.
    # [.2, .4): p .3, y 0 -> .3, weight 1/7.  [.4, .6): empty.  [.6, .8): p .7 .7, y 1 1 -> .3, weight 2/7.
    # [.8, 1]: p .9 1.0, y 1 1 -> |1 - .95| = .05, weight 2/7 (1.0 falls in the last bin).
    y = [0, 1, 0, 1, 1, 1, 1]
    p = [0.1, 0.1, 0.3, 0.7, 0.7, 0.9, 1.0]
    assert close(perf.expected_calibration_error(y, p, bins=5), (2 * 0.4 + 0.3 + 2 * 0.3 + 2 * 0.05) / 7)
    # One bin: |positive rate - mean probability| = |5/7 - 3.8/7|.
    assert close(perf.expected_calibration_error(y, p, bins=1), abs(5 - 3.8) / 7)
    # A left edge belongs to the bin it opens: 0.2 with five bins is in [.2, .4), alone with y=0 -> .2 / 2.
    assert close(perf.expected_calibration_error([1, 0], [0.1, 0.2], bins=5), (0.9 + 0.2) / 2)
    assert perf.expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.0


def test_ece_agrees_with_scikit_learn_calibration_curve() -> None:
    prob_true, prob_pred = skc.calibration_curve(Y_BIN, PROB, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], PROB, side="right"), minlength=10)
    expected = np.sum(counts[counts > 0] / N * np.abs(prob_true - prob_pred))
    assert close(perf.expected_calibration_error(Y_BIN, PROB, bins=10), float(expected))


# -- every input type gives the same number ----------------------------------------------

CONVERTERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("list", lambda a: np.asarray(a).tolist()),
    ("numpy", np.asarray),
    ("pandas", pd.Series),
    ("polars", lambda a: pl.Series(np.asarray(a).tolist())),
    ("pyarrow", lambda a: pa.array(np.asarray(a).tolist())),
]
TYPE_CASES: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("accuracy", perf.accuracy, (Y_MULTI, P_MULTI), {}),
    ("accuracy-strings", perf.accuracy, (Y_STR, P_STR), {}),
    ("precision", perf.precision, (Y_BIN, P_BIN), {}),
    ("recall-macro-strings", perf.recall, (Y_STR, P_STR), {"average": "macro"}),
    ("f1-weighted", perf.f1, (Y_MULTI, P_MULTI), {"average": "weighted"}),
    ("roc_auc", perf.roc_auc, (Y_BIN, SCORE_TIED), {}),
    ("pr_auc", perf.pr_auc, (Y_BIN, SCORE), {}),
    ("log_loss", perf.log_loss, (Y_BIN, PROB), {}),
    ("brier", perf.brier, (Y_BIN, PROB), {}),
    ("ece", perf.expected_calibration_error, (Y_BIN, PROB), {"bins": 7}),
    ("mae", perf.mae, (Y_REG, P_REG), {}),
    ("rmse", perf.rmse, (Y_REG, P_REG), {}),
    ("mape", perf.mape, (Y_REG_ZEROS, P_REG), {}),
    ("r2", perf.r2, (Y_REG, P_REG), {}),
]


@pytest.mark.parametrize(("to_input"), [c[1] for c in CONVERTERS], ids=[c[0] for c in CONVERTERS])
@pytest.mark.parametrize(("kernel", "args", "options"), [c[1:] for c in TYPE_CASES], ids=[c[0] for c in TYPE_CASES])
def test_every_input_type_gives_the_same_number(
    to_input: Callable[[Any], Any], kernel: Callable[..., Any], args: tuple[Any, ...], options: dict[str, Any]
) -> None:
    result = kernel(*(to_input(a) for a in args), **options)
    assert type(result) is float
    assert result == kernel(*args, **options)


@pytest.mark.parametrize(("to_input"), [c[1] for c in CONVERTERS], ids=[c[0] for c in CONVERTERS])
def test_confusion_matrix_from_every_input_type(to_input: Callable[[Any], Any]) -> None:
    matrix = perf.confusion_matrix(to_input(Y_STR), to_input(P_STR))
    expected = perf.confusion_matrix(Y_STR, P_STR)
    assert matrix.labels == expected.labels == ("cat", "dog", "eel")
    assert np.array_equal(matrix.counts, expected.counts)


# -- bad input ----------------------------------------------------------------------------

MISSING = "missing value(s) (NaN or null); performance metrics need complete pairs, so drop those rows first"
ERROR_CASES: list[tuple[str, Callable[[], Any], str]] = [
    (
        "length",
        lambda: perf.accuracy([1, 0, 1], [1, 0]),
        "the inputs must have the same length: y_true has 3, y_pred has 2",
    ),
    (
        "length-scores",
        lambda: perf.roc_auc([1, 0], [0.5]),
        "the inputs must have the same length: y_true has 2, y_score has 1",
    ),
    (
        "empty",
        lambda: perf.mae([], []),
        "y_true: no values; performance metrics need at least one (y_true, y_pred) pair",
    ),
    (
        "empty-scores",
        lambda: perf.pr_auc([], []),
        "y_true: no values; performance metrics need at least one (y_true, y_score) pair",
    ),
    ("label-missing", lambda: perf.accuracy([1, None, 0], [1, 0, 0]), f"y_true: 1 {MISSING}"),
    ("label-nan", lambda: perf.f1([1, 0, 0], [1, float("nan"), np.nan]), f"y_pred: 2 {MISSING}"),
    ("float-nan", lambda: perf.rmse([1.0, np.nan], [1.0, 2.0]), f"y_true: 1 {MISSING}"),
    ("score-nan", lambda: perf.roc_auc([1, 0], [0.3, None]), f"y_score: 1 {MISSING}"),
    ("prob-nan", lambda: perf.log_loss([1, 0], [np.nan, 0.2]), f"y_prob: 1 {MISSING}"),
    (
        "infinite",
        lambda: perf.r2([1.0, 2.0], [np.inf, 2.0]),
        "y_pred: infinite values; performance metrics need finite numbers",
    ),
    ("single-class", lambda: perf.roc_auc([1, 1, 1], [0.2, 0.4, 0.9]), "roc_auc needs both classes in y_true"),
    ("no-positive", lambda: perf.pr_auc([0, 0], [0.2, 0.4]), "pr_auc needs at least one positive (1) in y_true"),
    (
        "not-binary",
        lambda: perf.brier([0, 2, 1, 3], [0.1] * 4),
        "y_true: expected binary labels 0 and 1 (or False and True), got 2, 3",
    ),
    (
        "not-probability",
        lambda: perf.expected_calibration_error([0, 1], [-0.5, 1.5]),
        "y_prob: probabilities must be between 0 and 1, got values from -0.5 to 1.5",
    ),
    (
        "binary-multiclass",
        lambda: perf.precision([0, 1, 2], [0, 1, 1]),
        "average='binary' needs at most two labels, got 3 (0, 1, 2); use average='macro', 'micro' or 'weighted'",
    ),
    (
        "pos-label",
        lambda: perf.recall(["no", "yes"], ["yes", "yes"]),
        "pos_label=1 is not one of the labels ('no', 'yes')",
    ),
    (
        "average",
        lambda: perf.f1([0, 1], [0, 1], average="samples"),  # type: ignore[arg-type]
        "average must be one of 'binary', 'macro', 'micro', 'weighted', got 'samples'",
    ),
    (
        "bins-zero",
        lambda: perf.expected_calibration_error([0, 1], [0.1, 0.9], bins=0),
        "bins: must be a whole number of at least 1, got 0",
    ),
    (
        "bins-float",
        lambda: perf.expected_calibration_error([0, 1], [0.1, 0.9], bins=2.5),  # type: ignore[arg-type]
        "bins: must be a whole number of at least 1, got 2.5",
    ),
    ("eps", lambda: perf.log_loss([0, 1], [0.1, 0.9], eps=0.0), "eps: must be above 0 and below 0.5, got 0.0"),
    ("r2-one-pair", lambda: perf.r2([1.0], [1.0]), "r2 needs at least two (y_true, y_pred) pairs"),
    (
        "labels-empty",
        lambda: perf.confusion_matrix([0], [0], labels=[]),
        "labels: give at least one label, or leave labels out to use every label seen",
    ),
    ("labels-twice", lambda: perf.confusion_matrix([0], [0], labels=[0, 1, 0]), "labels: 0 is listed twice"),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_bad_input_errors(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.code == "input.invalid"
    assert str(caught.value) == message


def test_mixed_label_types_are_an_error() -> None:
    with pytest.raises(InvalidInput, match=r"^y_true, y_pred: labels must be all numbers or all strings \("):
        perf.accuracy([1, "a"], [1, "a"])


# -- properties ---------------------------------------------------------------------------

BINARY = st.lists(st.integers(0, 1), min_size=1, max_size=60)
SCORES = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.data())
def test_scores_lie_in_zero_one(data: st.DataObject) -> None:
    y = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=60))
    p = data.draw(st.lists(st.integers(0, 3), min_size=len(y), max_size=len(y)))
    scores = [perf.accuracy(y, p)]
    scores += [
        k(y, p, average=a) for k in (perf.precision, perf.recall, perf.f1) for a in ("macro", "micro", "weighted")
    ]
    yb, pb = [v % 2 for v in y], [v % 2 for v in p]
    scores += [k(yb, pb) for k in (perf.precision, perf.recall, perf.f1)]
    if 0 < sum(yb) < len(yb):
        scores.append(perf.roc_auc(yb, data.draw(st.lists(SCORES, min_size=len(y), max_size=len(y)))))
    assert all(0.0 <= s <= 1.0 for s in scores)


@given(st.data())
def test_roc_auc_of_negated_scores_is_one_minus(data: st.DataObject) -> None:
    y = data.draw(BINARY)
    assume(0 < sum(y) < len(y))
    s = np.array(data.draw(st.lists(SCORES, min_size=len(y), max_size=len(y))))
    assert math.isclose(perf.roc_auc(y, s), 1 - perf.roc_auc(y, -s), abs_tol=1e-12)


@given(st.data())
def test_ranking_scores_equal_scikit_learn_with_heavy_ties(data: st.DataObject) -> None:
    y = data.draw(BINARY)
    assume(0 < sum(y) < len(y))
    s = data.draw(st.lists(st.integers(0, 4), min_size=len(y), max_size=len(y)))
    assert close(perf.roc_auc(y, s), float(skm.roc_auc_score(y, s)))
    assert close(perf.pr_auc(y, s), float(skm.average_precision_score(y, s)))


# -- registration -------------------------------------------------------------------------

EXPECTED = {
    "performance.accuracy": (perf.accuracy, "higher_is_better"),
    "performance.precision": (perf.precision, "higher_is_better"),
    "performance.recall": (perf.recall, "higher_is_better"),
    "performance.f1": (perf.f1, "higher_is_better"),
    "performance.roc_auc": (perf.roc_auc, "higher_is_better"),
    "performance.pr_auc": (perf.pr_auc, "higher_is_better"),
    "performance.log_loss": (perf.log_loss, "higher_is_worse"),
    "performance.brier": (perf.brier, "higher_is_worse"),
    "performance.ece": (perf.expected_calibration_error, "higher_is_worse"),
    "performance.mae": (perf.mae, "higher_is_worse"),
    "performance.rmse": (perf.rmse, "higher_is_worse"),
    "performance.mape": (perf.mape, "higher_is_worse"),
    "performance.r2": (perf.r2, "higher_is_better"),
}


def test_every_performance_metric_is_registered_with_a_summary() -> None:
    assert "charter.metrics.performance" in registry.MODULES
    # The registry as filled by importing this module (all_metrics() also imports the other kernel modules).
    registered = {k: m for k, m in registry._REGISTRY.items() if k.startswith("performance.")}
    assert set(registered) == set(EXPECTED)
    for metric_id, (function, direction) in EXPECTED.items():
        metric = registered[metric_id]
        assert (metric.function, metric.direction, metric.threshold) == (function, direction, None)
        assert metric.summary.strip() and metric.summary.endswith(".")
