"""A model's scorecard on labelled data: the performance metrics its task calls for, per slice, and fairness.

This is what an evaluation stores and what gates read (``evaluation.metrics.roc_auc``,
``fairness.sex.disparate_impact``). Pure: arrays in, plain dictionaries of floats out.

Metrics by task (short names, the ``performance.`` ids without their prefix):

- binary classification: accuracy, precision, recall, f1 (of the positive class); with
  scores also roc_auc, pr_auc, log_loss, brier and ece;
- multiclass classification: accuracy, and macro-averaged precision, recall and f1;
- regression: mae, rmse, r2, and mape when no true value is zero.

A metric that is undefined on the data (roc_auc when a slice holds one class only) is left
out, and ``notes`` says why: a gate that needs it then fails closed on missing evidence
rather than on a made-up number.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics import performance
from charter.metrics.fairness import confusion_counts

TASKS = ("binary_classification", "multiclass_classification", "regression", "ranking")
#: Fairness metrics stored per protected attribute (short names of ``fairness.*`` ids).
FAIRNESS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "predictive_parity_difference",
)
#: A protected attribute with more distinct values than this is not grouped (band it first).
MAX_GROUPS = 20
#: Slices smaller than this are reported with their count but no metrics.
MIN_SLICE_ROWS = 10


def performance_metrics(
    task: str,
    y_true: npt.NDArray[Any],
    y_pred: npt.NDArray[Any],
    *,
    scores: npt.NDArray[np.float64] | None = None,
    positive: Any = 1,
    notes: list[str] | None = None,
) -> dict[str, float]:
    """The task's metrics on one set of rows; undefined ones are left out and noted."""
    notes = notes if notes is not None else []
    found: dict[str, float] = {}

    def put(name: str, compute: Callable[[], float]) -> None:
        try:
            value = float(compute())
        except (InvalidInput, ValueError, ZeroDivisionError) as exc:
            notes.append(f"{name}: not defined here ({exc})")
            return
        if np.isfinite(value):
            found[name] = value
        else:
            notes.append(f"{name}: not defined here (the value is {value})")

    if task == "binary_classification":
        truth, predicted = y_true == positive, y_pred == positive
        put("accuracy", lambda: performance.accuracy(truth, predicted))
        for name, fn in (("precision", performance.precision), ("recall", performance.recall), ("f1", performance.f1)):
            put(name, functools.partial(fn, truth, predicted, pos_label=True))
        if scores is not None:
            if len(np.unique(truth)) < 2:
                notes.append("roc_auc, pr_auc: not defined here (only one class is present)")
            else:
                put("roc_auc", lambda: performance.roc_auc(truth, scores))
                put("pr_auc", lambda: performance.pr_auc(truth, scores))
            put("log_loss", lambda: performance.log_loss(truth, scores))
            put("brier", lambda: performance.brier(truth, scores))
            put("ece", lambda: performance.expected_calibration_error(truth, scores))
    elif task == "multiclass_classification":
        put("accuracy", lambda: performance.accuracy(y_true, y_pred))
        for name, fn in (("precision", performance.precision), ("recall", performance.recall), ("f1", performance.f1)):
            put(name, functools.partial(fn, y_true, y_pred, average="macro"))
    elif task in ("regression", "ranking"):
        true, pred = y_true.astype(np.float64), y_pred.astype(np.float64)
        put("mae", lambda: performance.mae(true, pred))
        put("rmse", lambda: performance.rmse(true, pred))
        put("r2", lambda: performance.r2(true, pred))
        if np.all(true != 0):
            put("mape", lambda: performance.mape(true, pred))
    else:
        raise InvalidInput(f"task {task!r} has no scorecard (tasks: {', '.join(TASKS)})")
    return found


def slice_metrics(
    task: str,
    y_true: npt.NDArray[Any],
    y_pred: npt.NDArray[Any],
    values: Sequence[Any],
    *,
    scores: npt.NDArray[np.float64] | None = None,
    positive: Any = 1,
    notes: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The task's metrics for each value of a slice column: ``{value: {"rows": n, **metrics}}``."""
    keys = np.array(["<missing>" if v is None else str(v) for v in values], dtype=object)
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(set(keys.tolist())):
        mask = keys == key
        rows = int(mask.sum())
        if rows < MIN_SLICE_ROWS:
            found[key] = {"rows": rows}
            continue
        found[key] = {
            "rows": rows,
            **performance_metrics(
                task, y_true[mask], y_pred[mask], scores=None if scores is None else scores[mask],
                positive=positive, notes=[],
            ),
        }  # fmt: skip
    if notes is not None and any(len(v) == 1 for v in found.values()):
        small = [k for k, v in found.items() if len(v) == 1]
        notes.append(f"slices with fewer than {MIN_SLICE_ROWS} rows have no metrics: {', '.join(small)}")
    return found


def fairness_metrics(
    y_true: npt.NDArray[Any],
    y_pred: npt.NDArray[Any],
    groups: Sequence[Any],
    *,
    positive: Any = 1,
    attribute: str,
    notes: list[str] | None = None,
) -> dict[str, Any] | None:
    """Fairness of a binary classifier over one protected attribute, or None (noted) when it cannot be grouped."""
    labels = ["<missing>" if g is None else str(g) for g in groups]
    distinct = len(set(labels))
    if distinct > MAX_GROUPS:
        if notes is not None:
            notes.append(
                f"fairness on {attribute}: {distinct} distinct values is too many groups (at most {MAX_GROUPS}); "
                f"register a banded column (e.g. {attribute}_band) and mark it protected"
            )
        return None
    if distinct < 2:
        if notes is not None:
            notes.append(f"fairness on {attribute}: only one group ({labels[0] if labels else 'none'}) in the data")
        return None
    counts = confusion_counts(y_true == positive, y_pred == positive, sensitive=np.array(labels, dtype=object))
    found: dict[str, Any] = {}
    for name in FAIRNESS:
        value = counts.metric(f"fairness.{name}")
        if np.isfinite(value):
            found[name] = float(value)
    rates = counts.rates()
    found["groups"] = {
        str(group): {
            "rows": int(counts.count[i]),
            "selection_rate": _finite(rates["selection_rate"][i]),
            "tpr": _finite(rates["tpr"][i]),
            "fpr": _finite(rates["fpr"][i]),
        }
        for i, group in enumerate(counts.groups)
    }
    return found


def _finite(value: Any) -> float | None:
    """JSON has no NaN: an undefined rate (no positives in a group) is stored as null."""
    number = float(value)
    return number if np.isfinite(number) else None
