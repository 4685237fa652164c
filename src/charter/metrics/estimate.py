"""Performance of a binary classifier estimated without labels, from calibrated scores.

Confidence-based estimation (the idea behind NannyML's CBPE): when ``p_i``, the model's probability
that row ``i`` is positive, is calibrated (of the rows scored 0.8, 80% are positive), each label is a
coin flip ``y_i ~ Bernoulli(p_i)`` and the expected confusion matrix follows from the scores alone.
With ``pred_i = 1`` when the *model's* score is at least ``threshold``:

    E[TP] = sum of p_i over predicted positives      E[FP] = sum of 1 - p_i over predicted positives
    E[FN] = sum of p_i over predicted negatives      E[TN] = sum of 1 - p_i over predicted negatives

Every metric is a ratio ``num / den`` of label counts, and its estimate is ``E[num] / E[den]``:
accuracy ``(TP + TN) / n`` and precision ``TP / (TP + FP)`` have a denominator the labels do not change,
so they are the exact expectations; recall ``TP / (TP + FN)``, specificity ``TN / (TN + FP)``, F1
``2TP / (2TP + FP + FN)`` and ROC AUC are ratios of expectations, consistent as the window grows.

ROC AUC. The realised AUC is ``U / (P N)``: ``U`` counts (positive, negative) pairs ranked right, a tie
counting 1/2, over the ``P N`` such pairs. A row cannot be both positive and negative, so over ordered
pairs of distinct rows, with ``K_ij`` = 1 if ``s_i > s_j``, 1/2 if ``s_i = s_j``, 0 otherwise:

    E[U]   = sum over i != j of p_i (1 - p_j) K_ij
    E[P N] = sum over i != j of p_i (1 - p_j)  =  (sum p)(sum 1 - p) - sum p (1 - p)

    estimated AUC = E[U] / E[P N]

That is the trapezoid area under the expected ROC curve (expected TPR and FPR at each distinct score)
with each row's pairing with itself, ``1/2 p_i (1 - p_i)`` in ``E[U]`` and ``p_i (1 - p_i)`` in
``E[P N]``, taken out; with two rows it is exactly ``E[AUC | one positive, one negative]``. Rows are
ranked by the model's scores and weighed by the calibrated probabilities.

Standard errors are over the unknown labels, the scores held fixed, labels independent: for
``R = E[num] / E[den]``, ``se = sqrt(Var(num - R den)) / E[den]`` (the delta method; exact for accuracy
and precision). For the AUC, ``num - R den`` is a quadratic in the labels and its variance has a closed
form (see :func:`_roc_auc`). :meth:`Estimate.interval` is the normal interval ``value ± z se``, clipped
to [0, 1]. They measure label noise only, not a wrong calibration.

The one assumption is calibration on the window scored. It survives covariate shift (the inputs move,
``p(y | x)`` does not), which is what the method is for. It fails under concept drift (``p(y | x)``
changes), and for a model that was never calibrated: :func:`calibrate` fits a monotone (isotonic) map
from scores to probabilities on labelled reference data, and every estimate takes it as
``calibrator=``.

Registered ids (none has a default threshold: a good accuracy depends on the model, so a policy
compares the estimate with the model's own baseline, for example its reference performance):

    estimated.accuracy    higher_is_better  none
    estimated.precision   higher_is_better  none
    estimated.recall      higher_is_better  none
    estimated.f1          higher_is_better  none
    estimated.roc_auc     higher_is_better  none
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics.inputs import FloatArray, as_float_array, check_binary, same_length
from charter.metrics.registry import register

BoolArray = npt.NDArray[np.bool_]
#: A calibrator from :func:`calibrate`, or its ``to_dict()`` (read back from JSON), or None.
Options: TypeAlias = "Calibrator | Mapping[str, Any] | None"


@dataclass(frozen=True)
class Estimate:
    """An estimated metric and its standard error over the unknown labels."""

    value: float
    standard_error: float

    def interval(self, *, level: float = 0.95) -> tuple[float, float]:
        """The normal interval ``value ± z standard_error`` at ``level``, clipped to [0, 1]."""
        if not 0 < level < 1:
            raise InvalidInput(f"level: must be above 0 and below 1, got {level!r}")
        half = NormalDist().inv_cdf(0.5 + level / 2) * self.standard_error
        return max(0.0, self.value - half), min(1.0, self.value + half)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "standard_error": self.standard_error, "interval_95": list(self.interval())}


@dataclass(frozen=True)
class EstimatedPerformance:
    """What :func:`estimate_performance` returns: expected confusion counts and estimated metrics.

    ``roc_auc`` is None when no pair of rows can be one positive and one negative (one row, or every
    probability 0, or every probability 1).
    """

    rows: int
    threshold: float
    calibrated: bool
    tp: float  # expected true positives
    fp: float
    fn: float
    tn: float
    accuracy: Estimate
    precision: Estimate
    recall: Estimate
    f1: Estimate
    specificity: Estimate
    roc_auc: Estimate | None

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers, lists and dicts (JSON without NaN); intervals at 95%."""
        metrics = ("accuracy", "precision", "recall", "f1", "specificity", "roc_auc")
        shown = {name: getattr(self, name) for name in metrics}
        return {
            "rows": self.rows,
            "threshold": self.threshold,
            "calibrated": self.calibrated,
            "expected_confusion": {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn},
            **{name: None if value is None else value.to_dict() for name, value in shown.items()},
        }


# -- calibration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibrator:
    """A non-decreasing map from a model's scores to probabilities, fitted by :func:`calibrate`.

    Piecewise linear through the knots ``(scores[k], probabilities[k])`` and constant beyond the first
    and last, as scikit-learn's ``IsotonicRegression(out_of_bounds="clip").predict``. Plain tuples, so
    :meth:`to_dict` is JSON and :meth:`from_dict` reads it back.
    """

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]
    method: Literal["isotonic"] = "isotonic"

    def __post_init__(self) -> None:
        if self.method != "isotonic":
            raise InvalidInput(f"calibrator: unknown method {self.method!r} (known: 'isotonic')")
        x, y = np.asarray(self.scores, dtype=np.float64), np.asarray(self.probabilities, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or not x.size:
            raise InvalidInput(
                f"calibrator: scores and probabilities must be lists of the same length, at least one "
                f"(got {len(self.scores)} and {len(self.probabilities)})"
            )
        if not (np.isfinite(x).all() and (np.diff(x) > 0).all()):
            raise InvalidInput("calibrator: scores must be finite and strictly increasing")
        if not ((y >= 0).all() and (y <= 1).all() and (np.diff(y) >= 0).all()):
            raise InvalidInput("calibrator: probabilities must lie between 0 and 1 and never decrease")

    def apply(self, scores: Any) -> FloatArray:
        """Calibrated probabilities for ``scores`` (probabilities of the positive class, as given to estimates)."""
        return self._map(_scores(scores, name="scores"))

    def _map(self, scores: FloatArray) -> FloatArray:
        knots = np.asarray(self.scores, dtype=np.float64)
        return np.interp(scores, knots, np.asarray(self.probabilities, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "scores": list(self.scores), "probabilities": list(self.probabilities)}

    @classmethod
    def from_dict(cls, data: object) -> Calibrator:
        """The calibrator :meth:`to_dict` described (for example read back from JSON)."""
        if not isinstance(data, Mapping):
            raise InvalidInput(
                f"calibrator: expected a Calibrator from calibrate() or its to_dict(), got {type(data).__name__}"
            )
        try:
            scores = tuple(float(v) for v in data["scores"])
            probabilities = tuple(float(v) for v in data["probabilities"])
        except KeyError as exc:
            raise InvalidInput(f"calibrator: missing field {exc.args[0]!r} (needs scores and probabilities)") from None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"calibrator: scores and probabilities must be lists of numbers ({exc})") from None
        return cls(scores=scores, probabilities=probabilities, method=data.get("method", "isotonic"))


def _pool_adjacent_violators(values: FloatArray, weights: FloatArray) -> FloatArray:
    """The non-decreasing sequence nearest ``values`` in weighted least squares.

    One pass with a stack of blocks (weighted mean, weight, length): a value below the block before
    it merges with it, and the merged block keeps merging backwards while it lies below its
    predecessor. Each value enters and leaves the stack at most once. It loops in Python over the
    distinct reference scores once, when fitting; scoring decisions (:meth:`Calibrator.apply`) is numpy.
    """
    means: list[float] = []
    totals: list[float] = []
    lengths: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        length = 1
        while means and means[-1] > value:
            previous, previous_weight = means.pop(), totals.pop()
            value = (previous * previous_weight + value * weight) / (previous_weight + weight)
            weight += previous_weight
            length += lengths.pop()
        means.append(value)
        totals.append(weight)
        lengths.append(length)
    return np.repeat(np.asarray(means, dtype=np.float64), lengths)


def calibrate(reference_scores: Any, reference_labels: Any) -> Calibrator:
    """Fit an isotonic calibrator on labelled reference data: scores in [0, 1], labels 0/1 with both classes.

    The fitted probabilities equal scikit-learn's ``IsotonicRegression`` (tied scores pooled first).
    Fit it on data the model did not train on, from before any drift.
    """
    scores = as_float_array(reference_scores, name="reference_scores")
    labels = as_float_array(reference_labels, name="reference_labels")
    same_length(("reference_scores", scores), ("reference_labels", labels))
    scores = _scores(scores, name="reference_scores")
    check_binary(labels, name="reference_labels", missing_reason="calibration needs a label for every score")
    if labels.min() == labels.max():
        raise InvalidInput(
            f"reference_labels: every label is {labels[0]:g}; calibrate needs both classes (0 and 1) in the reference"
        )
    distinct, inverse = np.unique(scores, return_inverse=True)
    inverse = inverse.reshape(-1)
    weights = np.bincount(inverse).astype(np.float64)
    fitted = _pool_adjacent_violators(np.bincount(inverse, weights=labels) / weights, weights)
    # Knots inside a run of equal probabilities add nothing to the interpolation: keep each run's ends.
    keep = np.ones(len(fitted), dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibrator(scores=tuple(distinct[keep].tolist()), probabilities=tuple(fitted[keep].tolist()))


# -- reading inputs -----------------------------------------------------------------------


def _scores(values: Any, *, name: str) -> FloatArray:
    scores = as_float_array(values, name=name)
    if len(scores) == 0:
        raise InvalidInput(f"{name}: no values; an estimate needs at least one score")
    missing = int(np.count_nonzero(np.isnan(scores)))
    if missing:
        raise InvalidInput(
            f"{name}: {missing:,} missing value(s) (NaN or null); every row needs a score, so drop those rows first"
        )
    if scores.min() < 0 or scores.max() > 1:
        raise InvalidInput(
            f"{name}: probabilities must be between 0 and 1, got values from {scores.min():g} to {scores.max():g}"
        )
    return scores


def _prepared(y_score: Any, threshold: float, calibrator: Options) -> tuple[FloatArray, FloatArray, BoolArray]:
    """The model's scores, the probabilities each row is positive, and the model's decisions."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float | np.integer | np.floating)
        or not 0 < threshold < 1
    ):
        raise InvalidInput(f"threshold: must be a number above 0 and below 1, got {threshold!r}")
    fitted = (
        calibrator if calibrator is None or isinstance(calibrator, Calibrator) else Calibrator.from_dict(calibrator)
    )
    scores = _scores(y_score, name="y_score")
    probabilities = scores if fitted is None else fitted._map(scores)
    return scores, probabilities, scores >= threshold


# -- estimates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expected:
    """Expected confusion counts and the label variance on each side of the threshold."""

    rows: int
    predicted: int  # rows predicted positive (known: the model's decisions)
    tp: float
    fp: float
    fn: float
    tn: float
    var_predicted: float  # sum of p (1 - p) over predicted positives: Var(TP) = Var(FP)
    var_rejected: float  # the same over predicted negatives: Var(FN) = Var(TN)


def _expected(probabilities: FloatArray, predicted: BoolArray) -> _Expected:
    p, q = probabilities, 1.0 - probabilities
    variance = p * q
    return _Expected(
        rows=len(p),
        predicted=int(np.count_nonzero(predicted)),
        tp=float(p[predicted].sum()),
        fp=float(q[predicted].sum()),
        fn=float(p[~predicted].sum()),
        tn=float(q[~predicted].sum()),
        var_predicted=float(variance[predicted].sum()),
        var_rejected=float(variance[~predicted].sum()),
    )


def _share(a: float, var_a: float, b: float, var_b: float) -> Estimate:
    """``a / (a + b)`` for independent sums ``a`` and ``b``; se by the delta method; 0.0 when a + b = 0."""
    total = a + b
    if total <= 0:
        return Estimate(0.0, 0.0)
    share_a, share_b = a / total, b / total  # dividing first: total**2 can underflow to 0
    return Estimate(share_a, math.sqrt(share_b * share_b * var_a + share_a * share_a * var_b) / total)


def _accuracy(probabilities: FloatArray, predicted: BoolArray, e: _Expected) -> Estimate:
    # (E[TP] + E[TN]) / n, as the mean of each row's chance of being right (the same sum, one rounding).
    value = float(np.mean(np.where(predicted, probabilities, 1.0 - probabilities)))
    return Estimate(value, math.sqrt(e.var_predicted + e.var_rejected) / e.rows)


def _precision(e: _Expected) -> Estimate:
    if e.predicted == 0:
        return Estimate(0.0, 0.0)
    return Estimate(e.tp / e.predicted, math.sqrt(e.var_predicted) / e.predicted)


def _f1(e: _Expected) -> Estimate:
    # F1 = 2 TP / (TP + m + FN), with m = TP + FP the (known) number of predicted positives.
    total = 2 * e.tp + e.fp + e.fn
    if total <= 0:
        return Estimate(0.0, 0.0)
    # Partial derivatives 2 (m + FN) / total**2 and -2 TP / total**2, each divided by total once here.
    slope_tp, slope_fn = 2 * (e.tp + e.fp + e.fn) / total, 2 * e.tp / total
    return Estimate(2 * e.tp / total, math.sqrt(slope_tp**2 * e.var_predicted + slope_fn**2 * e.var_rejected) / total)


def _roc_auc(scores: FloatArray, probabilities: FloatArray) -> Estimate | None:
    """E[U] / E[P N] (module docstring), or None when E[P N] = 0.

    Standard error: with ``R`` the estimate, ``h_ij = K_ij - R`` and ``y_i = p_i + e_i``, the statistic
    ``T = U - R P N = sum over i != j of h_ij y_i (1 - y_j)`` has mean 0 and, as ``h_ij + h_ji = 1 - 2R``,

        T = sum_i a_i e_i - (1 - 2R) sum over i < j of e_i e_j    (plus a constant)
        a_i = sum over j != i of (K_ij - p_j - R (1 - 2 p_j))
            = (midrank_i - 1) - (S - p_i) - R (n - 1 - 2 (S - p_i)),   S = sum p

    The two parts are uncorrelated, so ``Var T = sum_i v_i a_i^2 + (1 - 2R)^2 sum over i < j of v_i v_j``
    with ``v_i = p_i (1 - p_i)``, and ``se = sqrt(Var T) / E[P N]``.
    """
    p = probabilities
    v = p * (1.0 - p)
    n, sum_p, sum_v = len(p), float(p.sum()), float(v.sum())
    pairs = sum_p * (n - sum_p) - sum_v
    if not pairs > 0:
        return None
    _, inverse, ties = np.unique(scores, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    # Expected positives and negatives at each distinct score, ascending; pairs of a row with itself taken out.
    positives = np.bincount(inverse, weights=p)
    negatives = np.bincount(inverse, weights=1.0 - p)
    wins = float(np.sum(positives * (np.cumsum(negatives) - 0.5 * negatives))) - 0.5 * sum_v
    auc = wins / pairs
    beaten = (np.cumsum(ties) - ties + 0.5 * (ties - 1))[inverse]  # sum over j != i of K_ij
    others = sum_p - p
    a = beaten - others - auc * (n - 1 - 2 * others)
    variance = float(np.sum(v * a * a)) + (1 - 2 * auc) ** 2 * (sum_v**2 - float(np.sum(v * v))) / 2
    return Estimate(min(1.0, max(0.0, auc)), math.sqrt(max(variance, 0.0)) / pairs)


def estimate_performance(y_score: Any, *, threshold: float = 0.5, calibrator: Options = None) -> EstimatedPerformance:
    """Estimated confusion counts, accuracy, precision, recall, F1, specificity and ROC AUC, without labels.

    ``y_score`` holds the model's probabilities of the positive class; a row is predicted positive when
    its score is at least ``threshold``. With ``calibrator`` (from :func:`calibrate`, or its
    ``to_dict()``), the decisions and the ranking still use the model's scores, and the calibrated
    probabilities stand for the chance that each row is positive.
    """
    scores, probabilities, predicted = _prepared(y_score, threshold, calibrator)
    e = _expected(probabilities, predicted)
    return EstimatedPerformance(
        rows=e.rows,
        threshold=float(threshold),
        calibrated=calibrator is not None,
        tp=e.tp,
        fp=e.fp,
        fn=e.fn,
        tn=e.tn,
        accuracy=_accuracy(probabilities, predicted, e),
        precision=_precision(e),
        recall=_share(e.tp, e.var_predicted, e.fn, e.var_rejected),
        f1=_f1(e),
        specificity=_share(e.tn, e.var_rejected, e.fp, e.var_predicted),
        roc_auc=_roc_auc(scores, probabilities),
    )


def estimated_accuracy(y_score: Any, *, threshold: float = 0.5, calibrator: Options = None) -> float:
    """Expected share of right decisions: the mean over rows of p (predicted positive) or 1 - p (negative)."""
    _, probabilities, predicted = _prepared(y_score, threshold, calibrator)
    return _accuracy(probabilities, predicted, _expected(probabilities, predicted)).value


def estimated_precision(y_score: Any, *, threshold: float = 0.5, calibrator: Options = None) -> float:
    """E[TP] / predicted positives: the mean p over the predicted positives (0.0 when there are none)."""
    _, probabilities, predicted = _prepared(y_score, threshold, calibrator)
    return _precision(_expected(probabilities, predicted)).value


def estimated_recall(y_score: Any, *, threshold: float = 0.5, calibrator: Options = None) -> float:
    """E[TP] / (E[TP] + E[FN]): the share of the expected positives that are predicted positive."""
    _, probabilities, predicted = _prepared(y_score, threshold, calibrator)
    e = _expected(probabilities, predicted)
    return _share(e.tp, e.var_predicted, e.fn, e.var_rejected).value


def estimated_f1(y_score: Any, *, threshold: float = 0.5, calibrator: Options = None) -> float:
    """2 E[TP] / (2 E[TP] + E[FP] + E[FN])."""
    _, probabilities, predicted = _prepared(y_score, threshold, calibrator)
    return _f1(_expected(probabilities, predicted)).value


def estimated_roc_auc(y_score: Any, *, threshold: float = 0.5, calibrator: Options = None) -> float:
    """E[U] / E[P N]: the expected share of (positive, negative) pairs ranked right (module docstring).

    ``threshold`` is checked but does not change the AUC, which ranks by the scores.
    """
    scores, probabilities, _ = _prepared(y_score, threshold, calibrator)
    auc = _roc_auc(scores, probabilities)
    if auc is None:
        raise InvalidInput(
            "y_score: no pair of rows can be one positive and one negative (fewer than two rows, or every "
            "probability is 0, or every probability is 1), so the ROC AUC cannot be estimated"
        )
    return auc.value


# -- registration -------------------------------------------------------------------------

_WHY = " No default threshold: the baseline is per model."
_METRICS: tuple[tuple[str, Any, str], ...] = (
    ("estimated.accuracy", estimated_accuracy, "Accuracy expected from calibrated scores, without labels."),
    ("estimated.precision", estimated_precision, "Precision expected from calibrated scores, without labels."),
    ("estimated.recall", estimated_recall, "Recall estimated from calibrated scores, without labels."),
    ("estimated.f1", estimated_f1, "F1 estimated from calibrated scores, without labels."),
    ("estimated.roc_auc", estimated_roc_auc, "ROC AUC estimated from calibrated scores, without labels."),
)

for _id, _function, _summary in _METRICS:
    register(_id, _function, direction="higher_is_better", threshold=None, summary=_summary + _WHY)
