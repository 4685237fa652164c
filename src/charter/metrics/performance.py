"""Model performance kernels: classification, probability quality and regression.

Each kernel takes arrays first (list, numpy, pandas, polars or pyarrow), options
keyword-only, and returns a plain ``float`` (``confusion_matrix`` a :class:`ConfusionMatrix`).
The numbers equal scikit-learn's (tests use it as the oracle), with ``zero_division=0``:
a ratio whose denominator is 0 is 0.0.

Performance needs complete ``(y_true, y_pred)`` pairs: a missing value (NaN, None,
null) is an error naming the parameter, and the caller drops those rows first.

No metric here has a default alert threshold: what counts as a good accuracy or a bad
log loss depends on the model and the task, so a policy states its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics.inputs import FloatArray, as_float_array, as_label_array, check_binary, same_length
from charter.metrics.registry import register

Average = Literal["binary", "macro", "micro", "weighted"]
IntArray = npt.NDArray[np.intp]
_AVERAGES = ("binary", "macro", "micro", "weighted")
_NULL = np.array(None, dtype=object)  # what as_label_array turns a missing label into


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Counts of (true, predicted) label pairs: ``counts[i, j]`` is true ``labels[i]``, predicted ``labels[j]``."""

    labels: tuple[Any, ...]
    counts: npt.NDArray[np.int64]


# -- reading inputs -----------------------------------------------------------------------


def _check_pair(true: tuple[str, npt.NDArray[Any]], pred: tuple[str, npt.NDArray[Any]]) -> None:
    same_length(true, pred)
    if len(true[1]) == 0:
        raise InvalidInput(f"{true[0]}: no values; performance metrics need at least one ({true[0]}, {pred[0]}) pair")
    for name, array in (true, pred):
        gaps = np.equal(array, _NULL) if array.dtype == object else np.isnan(array)
        missing = int(np.count_nonzero(gaps))
        if missing:
            raise InvalidInput(
                f"{name}: {missing:,} missing value(s) (NaN or null); performance metrics need complete pairs, "
                "so drop those rows first"
            )
        if array.dtype != object and not np.isfinite(array).all():
            raise InvalidInput(f"{name}: infinite values; performance metrics need finite numbers")


def _floats(y_true: Any, y_pred: Any, *, pred_name: str) -> tuple[FloatArray, FloatArray]:
    true = as_float_array(y_true, name="y_true")
    pred = as_float_array(y_pred, name=pred_name)
    _check_pair(("y_true", true), (pred_name, pred))
    return true, pred


def _binary(y_true: Any, y_pred: Any, *, pred_name: str, probabilities: bool) -> tuple[FloatArray, FloatArray]:
    """0/1 labels and scores (or probabilities of the positive class, checked to lie in [0, 1])."""
    true, pred = _floats(y_true, y_pred, pred_name=pred_name)
    check_binary(true, name="y_true")
    if probabilities and (pred.min() < 0 or pred.max() > 1):
        raise InvalidInput(
            f"{pred_name}: probabilities must be between 0 and 1, got values from {pred.min():g} to {pred.max():g}"
        )
    return true, pred


def _encoded(y_true: Any, y_pred: Any) -> tuple[npt.NDArray[Any], IntArray, IntArray]:
    """The sorted labels seen in either array, and both arrays as indices into them."""
    true = as_label_array(y_true, name="y_true")
    pred = as_label_array(y_pred, name="y_pred")
    _check_pair(("y_true", true), ("y_pred", pred))
    try:
        classes, inverse = np.unique(np.concatenate([true, pred]), return_inverse=True)
    except TypeError as exc:
        raise InvalidInput(f"y_true, y_pred: labels must be all numbers or all strings ({exc})") from None
    inverse = inverse.reshape(-1).astype(np.intp)
    return classes, inverse[: len(true)], inverse[len(true) :]


def _shown(labels: npt.NDArray[Any] | Sequence[Any]) -> str:
    return ", ".join(repr(v) for v in list(labels)[:5]) + (", ..." if len(labels) > 5 else "")


# -- classification -----------------------------------------------------------------------


def accuracy(y_true: Any, y_pred: Any) -> float:
    """The share of predictions equal to the true label."""
    _, true, pred = _encoded(y_true, y_pred)
    return float(np.mean(true == pred))


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _prf(
    y_true: Any, y_pred: Any, average: Average, pos_label: Any, which: Literal["precision", "recall", "f1"]
) -> float:
    if average not in _AVERAGES:
        raise InvalidInput(f"average must be one of {', '.join(map(repr, _AVERAGES))}, got {average!r}")
    classes, true, pred = _encoded(y_true, y_pred)
    k = len(classes)
    tp = np.bincount(true[true == pred], minlength=k).astype(np.float64)
    pred_sum = np.bincount(pred, minlength=k).astype(np.float64)
    true_sum = np.bincount(true, minlength=k).astype(np.float64)
    if average == "binary":
        if k > 2:
            raise InvalidInput(
                f"average='binary' needs at most two labels, got {k} ({_shown(classes)}); "
                "use average='macro', 'micro' or 'weighted'"
            )
        hit = np.flatnonzero(classes == pos_label)
        if k == 2 and hit.size == 0:
            raise InvalidInput(f"pos_label={pos_label!r} is not one of the labels ({_shown(classes)})")
        # With one label only (say all negative) and pos_label absent, every count is 0: the score is 0.
        tp, pred_sum, true_sum = (a[hit] if hit.size else np.zeros(1) for a in (tp, pred_sum, true_sum))
    elif average == "micro":
        tp, pred_sum, true_sum = (np.array([a.sum()]) for a in (tp, pred_sum, true_sum))
    if which == "precision":
        scores = _ratio(tp, pred_sum)
    elif which == "recall":
        scores = _ratio(tp, true_sum)
    else:
        scores = _ratio(2 * tp, pred_sum + true_sum)
    if average == "weighted":
        total = true_sum.sum()
        return float(scores @ true_sum / total) if total > 0 else 0.0
    return float(scores.mean())


def precision(y_true: Any, y_pred: Any, *, average: Average = "binary", pos_label: Any = 1) -> float:
    """TP / (TP + FP): of the predicted positives, the share truly positive (0.0 when nothing is predicted).

    ``average="binary"`` scores ``pos_label`` only; ``"macro"`` is the unweighted mean over the labels
    seen in either array, ``"weighted"`` the mean weighted by each label's count in ``y_true``, and
    ``"micro"`` pools the counts of every label.
    """
    return _prf(y_true, y_pred, average, pos_label, "precision")


def recall(y_true: Any, y_pred: Any, *, average: Average = "binary", pos_label: Any = 1) -> float:
    """TP / (TP + FN): of the true positives, the share found (averages as for :func:`precision`)."""
    return _prf(y_true, y_pred, average, pos_label, "recall")


def f1(y_true: Any, y_pred: Any, *, average: Average = "binary", pos_label: Any = 1) -> float:
    """2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall (averages as for :func:`precision`)."""
    return _prf(y_true, y_pred, average, pos_label, "f1")


def confusion_matrix(y_true: Any, y_pred: Any, *, labels: Sequence[Any] | None = None) -> ConfusionMatrix:
    """Rows are true labels, columns predicted ones; labels sorted, or in the order given.

    With ``labels`` given, pairs whose true or predicted label is not among them are not counted.
    """
    classes, true, pred = _encoded(y_true, y_pred)
    if labels is None:
        order = tuple(classes.tolist())
        position = np.arange(len(classes))
    else:
        order = tuple(labels)
        if not order:
            raise InvalidInput("labels: give at least one label, or leave labels out to use every label seen")
        index: dict[Any, int] = {}
        for i, label in enumerate(order):
            if label in index:
                raise InvalidInput(f"labels: {label!r} is listed twice")
            index[label] = i
        # A loop over the distinct labels, not over rows: -1 marks labels not asked for.
        position = np.array([index.get(c, -1) for c in classes.tolist()], dtype=np.intp)
    k = len(order)
    t, p = position[true], position[pred]
    kept = (t >= 0) & (p >= 0)
    counts = np.bincount(t[kept] * k + p[kept], minlength=k * k).reshape(k, k).astype(np.int64)
    counts.setflags(write=False)
    return ConfusionMatrix(labels=order, counts=counts)


def _class_counts(true: FloatArray, score: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Positives and negatives at each distinct score, in ascending score order."""
    _, inverse = np.unique(score, return_inverse=True)
    inverse = inverse.reshape(-1)
    positives = np.asarray(np.bincount(inverse, weights=true), dtype=np.float64)
    return positives, np.asarray(np.bincount(inverse, weights=1.0 - true), dtype=np.float64)


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties counting 1/2.

    The Mann-Whitney U statistic with midranks for tied scores; ``y_true`` holds 0/1 labels.
    """
    true, score = _binary(y_true, y_score, pred_name="y_score", probabilities=False)
    positives, negatives = int(true.sum()), int(len(true) - true.sum())
    if positives == 0 or negatives == 0:
        raise InvalidInput("roc_auc needs both classes in y_true")
    pos, neg = _class_counts(true, score)
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (positives * negatives))


def pr_auc(y_true: Any, y_score: Any) -> float:
    """Average precision: the mean over positives of the precision at their score (highest score first).

    Tied scores form one threshold, as in scikit-learn's ``average_precision_score``.
    """
    true, score = _binary(y_true, y_score, pred_name="y_score", probabilities=False)
    positives = true.sum()
    if positives == 0:
        raise InvalidInput("pr_auc needs at least one positive (1) in y_true")
    pos, neg = (a[::-1] for a in _class_counts(true, score))
    found = np.cumsum(pos)
    precision_at = found / (found + np.cumsum(neg))
    return float(np.sum(pos / positives * precision_at))


def log_loss(y_true: Any, y_prob: Any, *, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of the 0/1 labels under the predicted positive probabilities.

    Probabilities are clipped to ``[eps, 1 - eps]`` so a confident miss costs ``-log(eps)``, not infinity.
    """
    if not 0 < eps < 0.5:
        raise InvalidInput(f"eps: must be above 0 and below 0.5, got {eps!r}")
    true, prob = _binary(y_true, y_prob, pred_name="y_prob", probabilities=True)
    prob = np.clip(prob, eps, 1 - eps)
    return float(-np.mean(np.log(np.where(true == 1, prob, 1 - prob))))


def brier(y_true: Any, y_prob: Any) -> float:
    """Mean squared difference between the positive probability and the 0/1 label."""
    true, prob = _binary(y_true, y_prob, pred_name="y_prob", probabilities=True)
    return float(np.mean((prob - true) ** 2))


def expected_calibration_error(y_true: Any, y_prob: Any, *, bins: int = 10) -> float:
    """Weighted mean over equal-width bins of |observed positive rate - mean predicted probability|.

    Binary, on the positive-class probability (not the top-label confidence): bin ``i`` holds
    ``i / bins <= p < (i + 1) / bins`` (the last bin also holds 1.0, i.e. the bin is ``floor(p * bins)``).
    In each bin, accuracy is the share of positives and confidence the mean ``p``; each bin weighs
    by its share of the rows, and empty bins count nothing.
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise InvalidInput(f"bins: must be a whole number of at least 1, got {bins!r}")
    true, prob = _binary(y_true, y_prob, pred_name="y_prob", probabilities=True)
    which = np.minimum((prob * bins).astype(np.intp), int(bins) - 1)
    # sum over bins of n_b/n * |mean(y)_b - mean(p)_b| = sum over bins of |sum(y)_b - sum(p)_b| / n
    gap = np.bincount(which, weights=true, minlength=bins) - np.bincount(which, weights=prob, minlength=bins)
    return float(np.abs(gap).sum() / len(true))


# -- regression ---------------------------------------------------------------------------


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error."""
    true, pred = _floats(y_true, y_pred, pred_name="y_pred")
    return float(np.mean(np.abs(pred - true)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    true, pred = _floats(y_true, y_pred, pred_name="y_pred")
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, as a fraction (0.1 is 10%), as scikit-learn defines it.

    Each error is divided by ``max(|y_true|, machine epsilon)``: a true value of 0 gives a huge
    but finite term rather than infinity.
    """
    true, pred = _floats(y_true, y_pred, pred_name="y_pred")
    return float(np.mean(np.abs(pred - true) / np.maximum(np.abs(true), np.finfo(np.float64).eps)))


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot.

    When ``y_true`` is constant (SS_tot = 0): 1.0 for a perfect prediction, else 0.0 (scikit-learn's
    ``force_finite``).
    """
    true, pred = _floats(y_true, y_pred, pred_name="y_pred")
    if len(true) < 2:
        raise InvalidInput("r2 needs at least two (y_true, y_pred) pairs")
    residual = np.sum((true - pred) ** 2)
    total = np.sum((true - true.mean()) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


# -- registration -------------------------------------------------------------------------

_METRICS: tuple[tuple[str, Any, Literal["higher_is_worse", "higher_is_better"], str], ...] = (
    ("performance.accuracy", accuracy, "higher_is_better", "Share of predictions equal to the true label."),
    ("performance.precision", precision, "higher_is_better", "Of the predicted positives, the share truly positive."),
    ("performance.recall", recall, "higher_is_better", "Of the true positives, the share the model found."),
    ("performance.f1", f1, "higher_is_better", "Harmonic mean of precision and recall."),
    ("performance.roc_auc", roc_auc, "higher_is_better", "Area under the ROC curve (ranking of positives)."),
    ("performance.pr_auc", pr_auc, "higher_is_better", "Average precision: area under the precision-recall curve."),
    ("performance.log_loss", log_loss, "higher_is_worse", "Mean negative log-likelihood of the true labels."),
    ("performance.brier", brier, "higher_is_worse", "Mean squared error of the predicted probabilities."),
    (
        "performance.ece",
        expected_calibration_error,
        "higher_is_worse",
        "Expected calibration error: mean gap between predicted probability and observed rate.",
    ),
    ("performance.mae", mae, "higher_is_worse", "Mean absolute error."),
    ("performance.rmse", rmse, "higher_is_worse", "Root mean squared error."),
    ("performance.mape", mape, "higher_is_worse", "Mean absolute percentage error, as a fraction."),
    ("performance.r2", r2, "higher_is_better", "Coefficient of determination: share of variance explained."),
)

for _id, _function, _direction, _summary in _METRICS:
    register(_id, _function, direction=_direction, threshold=None, summary=_summary)
