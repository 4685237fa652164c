"""Performance once outcomes join, and performance estimated from scores before they do.

``performance`` reads the decisions' ``prediction`` (and ``score``), with the ``label`` the
engine joins from the outcomes table; decisions without an outcome yet are left out.
Classification keeps a :class:`~charter.engines.sketch.CountTable` of (label, prediction,
score): exact to merge, and the rows it stands for are rebuilt at the end and passed to the
kernels of :mod:`charter.metrics.performance`, so the numbers are scikit-learn's. Regression
keeps sums (count, absolute and squared errors, relative errors, and the labels' mean and
sum of squared deviations merged as Chan et al. do), equal across splits to rounding.

``estimated_performance`` keeps a count table of the scores and runs
:func:`charter.metrics.estimate.estimate_performance` (confidence-based, as NannyML's CBPE)
on them: no labels needed, optionally through a calibrator fitted on labelled reference data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from charter.engines.base import Finished, MetricValue, Plan, Setup
from charter.engines.sketch import CountTable, merge_counts
from charter.errors import InvalidInput
from charter.lake.schema import LABEL, PREDICTION
from charter.metrics import performance as kernels
from charter.metrics.estimate import Calibrator, calibrate, estimate_performance
from charter.metrics.fairness import ConfusionCounts

TASKS = ("binary_classification", "multiclass_classification", "regression")
SCORE = "score"
NO_OUTCOMES = "no outcomes joined: none of the window's decisions has a label yet"
FloatArray = npt.NDArray[np.float64]


def _task(setup: Setup) -> str:
    task = setup.need("task", f"the model's task: one of {', '.join(TASKS)}")
    if task not in TASKS:
        raise InvalidInput(f"{setup.kind}: context 'task' must be one of {', '.join(TASKS)}, not {task!r}")
    return str(task)


def _valid(values: Any) -> Any:
    """A mask of the present values (not null, not NaN)."""
    return pc.invert(pc.is_null(values, nan_is_null=True))


def _finite_or_null(values: Any) -> Any:
    return pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)


def performance(setup: Setup) -> Plan:
    task = _task(setup)
    options = setup.options(("positive", "average") if task != "regression" else ())
    if PREDICTION not in setup.schema.names:
        raise InvalidInput(f"performance: the decisions of {setup.model!r} have no {PREDICTION!r} column")
    if task == "regression":
        return _regression()
    scored = task == "binary_classification" and SCORE in setup.schema.names
    keys = [LABEL, PREDICTION, *([SCORE] if scored else [])]

    def summarise(batch: pa.RecordBatch) -> CountTable | None:
        if LABEL not in batch.schema.names:
            return None
        labelled = batch.filter(_valid(batch.column(LABEL)))
        if labelled.num_rows == 0:
            return None
        columns = {LABEL: labelled.column(LABEL), PREDICTION: labelled.column(PREDICTION)}
        if scored:
            columns[SCORE] = _finite_or_null(labelled.column(SCORE).cast(pa.float64()))
        return CountTable.of(columns)

    def finish(counts: CountTable | None) -> Finished:
        if counts is None:
            return Finished([], [NO_OUTCOMES])
        complete = counts.table.filter(_valid(counts.table.column(PREDICTION)))
        notes = []
        if complete.num_rows < counts.table.num_rows:
            dropped = counts.rows - CountTable(complete).rows
            notes.append(f"{dropped:,} labelled decision(s) without a prediction left out")
        table = CountTable(complete)
        if table.rows == 0:
            return Finished([], [*notes, NO_OUTCOMES])
        if task == "binary_classification":
            return _binary_metrics(table, options.get("positive"), scored, notes)
        return _multiclass_metrics(table, options.get("average", "macro"), notes)

    return Plan(tuple(keys[1:]), summarise, merge_counts, finish, None, outcomes="optional")


def as_binary(values: pa.Array, positive: Any, what: str, *, kind: str = "performance") -> FloatArray:
    """0/1 floats: ``values == positive``, or the values themselves when they are 0/1 or booleans."""
    if positive is not None:
        try:
            wanted = pa.scalar(positive).cast(values.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise InvalidInput(f"{kind}: option positive {positive!r} cannot be compared with the {what}s") from None
        return np.asarray(pc.equal(values, wanted).to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_boolean(values.type) or pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        array = np.asarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        if np.isin(array, (0.0, 1.0)).all():
            return array
    seen = pc.unique(values).to_pylist()[:5]
    raise InvalidInput(
        f"{kind}: binary outcomes need 0/1 or boolean {what}s, got {seen}; "
        "set the option positive to the positive class's label"
    )


def _binary_metrics(table: CountTable, positive: Any, scored: bool, notes: list[str]) -> Finished:
    """Accuracy, precision, recall and F1 from the confusion counts; the score metrics from the rows rebuilt."""
    counts = table.counts()
    y_true = as_binary(table.table.column(LABEL).combine_chunks(), positive, "label")  # one per distinct row
    y_pred = as_binary(table.table.column(PREDICTION).combine_chunks(), positive, "prediction")
    tn, fp, fn, tp = (int(counts[(y_true == t) & (y_pred == p)].sum()) for t, p in ((0, 0), (0, 1), (1, 0), (1, 1)))
    rates = ConfusionCounts(("all",), (tn,), (fp,), (fn,), (tp,)).performance()  # scikit-learn's, zero_division=0
    rows = tn + fp + fn + tp
    details = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    values = [
        MetricValue(f"performance.{name}", rates[name], rows, details)
        for name in ("accuracy", "precision", "recall", "f1")
    ]
    if not scored:
        return Finished(values, [*notes, "no score column: ROC AUC, PR AUC, log loss and Brier left out"])
    score = np.asarray(table.table.column(SCORE).to_numpy(), dtype=np.float64)
    has = ~np.isnan(score)
    if not has.any():
        return Finished(values, [*notes, "no scores logged: ROC AUC, PR AUC, log loss and Brier left out"])
    if not has.all():
        dropped = int(counts[~has].sum())
        notes.append(f"{dropped:,} labelled decision(s) without a score left out of the score metrics")
    true, prob = np.repeat(y_true[has], counts[has]), np.repeat(score[has], counts[has])
    true, prob = y_true[has], score[has]
    scored_rows = len(true)
    if 0 < true.sum() < len(true):
        values.append(MetricValue("performance.roc_auc", kernels.roc_auc(true, prob), scored_rows))
    else:
        notes.append("only one class among the labels: ROC AUC is undefined and left out")
    if true.sum() > 0:
        values.append(MetricValue("performance.pr_auc", kernels.pr_auc(true, prob), scored_rows))
    if prob.min() >= 0 and prob.max() <= 1:
        values.append(MetricValue("performance.log_loss", kernels.log_loss(true, prob), scored_rows))
        values.append(MetricValue("performance.brier", kernels.brier(true, prob), scored_rows))
    else:
        notes.append("scores outside [0, 1]: log loss and Brier left out")
    return Finished(values, notes)


def _multiclass_metrics(table: CountTable, average: Any, notes: list[str]) -> Finished:
    if average not in ("macro", "micro", "weighted"):
        raise InvalidInput(f"performance: option average must be macro, micro or weighted, not {average!r}")
    y_true = table.repeat(LABEL).to_numpy(zero_copy_only=False)
    y_pred = table.repeat(PREDICTION).to_numpy(zero_copy_only=False)
    rows = len(y_true)
    values = [MetricValue("performance.accuracy", kernels.accuracy(y_true, y_pred), rows)]
    for name, function in (("precision", kernels.precision), ("recall", kernels.recall), ("f1", kernels.f1)):
        values.append(
            MetricValue(f"performance.{name}", function(y_true, y_pred, average=average), rows, {"average": average})
        )
    return Finished(values, notes)


# --- regression ----------------------------------------------------------------------------

# count, sum |e|, sum e^2, sum |e| / max(|y|, eps), mean of y, sum of squared deviations of y
Sums = tuple[int, float, float, float, float, float]
EMPTY_SUMS: Sums = (0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _regression() -> Plan:
    def summarise(batch: pa.RecordBatch) -> Sums:
        if LABEL not in batch.schema.names:
            return EMPTY_SUMS
        keep = pc.and_(_valid(batch.column(LABEL)), _valid(batch.column(PREDICTION)))
        y = np.asarray(batch.column(LABEL).filter(keep).cast(pa.float64()).to_numpy(zero_copy_only=False))
        p = np.asarray(batch.column(PREDICTION).filter(keep).cast(pa.float64()).to_numpy(zero_copy_only=False))
        if y.size == 0:
            return EMPTY_SUMS
        error = np.abs(p - y)
        relative = error / np.maximum(np.abs(y), np.finfo(np.float64).eps)
        mean = float(y.mean())
        return (
            y.size,
            float(error.sum()),
            float(np.dot(error, error)),
            float(relative.sum()),
            mean,
            float(((y - mean) ** 2).sum()),
        )

    def merge(a: Sums, b: Sums) -> Sums:
        n = a[0] + b[0]
        if a[0] == 0 or b[0] == 0:
            return a if b[0] == 0 else b
        delta = b[4] - a[4]
        mean = a[4] + delta * b[0] / n
        deviations = a[5] + b[5] + delta * delta * a[0] * b[0] / n
        return (n, a[1] + b[1], a[2] + b[2], a[3] + b[3], mean, deviations)

    def finish(sums: Sums) -> Finished:
        n, absolute, squared, relative, _, deviations = sums
        if n == 0:
            return Finished([], [NO_OUTCOMES])
        values = [
            MetricValue("performance.mae", absolute / n, n),
            MetricValue("performance.rmse", float(np.sqrt(squared / n)), n),
            MetricValue("performance.mape", relative / n, n),
        ]
        if n >= 2:
            r2 = (1.0 if squared == 0 else 0.0) if deviations == 0 else 1 - squared / deviations
            values.append(MetricValue("performance.r2", r2, n))
        return Finished(values, [] if n >= 2 else ["one labelled decision: R^2 needs two"])

    return Plan((PREDICTION,), summarise, merge, finish, EMPTY_SUMS, outcomes="optional")


# --- estimated performance ----------------------------------------------------------------


def _calibrator(setup: Setup) -> Calibrator | None:
    given = setup.context.get("calibrator")
    if given is not None:
        return given if isinstance(given, Calibrator) else Calibrator.from_dict(given)
    scores, labels = setup.context.get("reference_scores"), setup.context.get("reference_labels")
    if scores is None and labels is None:
        return None
    if scores is None or labels is None:
        missing = "reference_labels" if labels is None else "reference_scores"
        raise InvalidInput(f"estimated_performance: the context has no {missing!r} (calibrating needs both)")
    return calibrate(scores, labels)


def estimated_performance(setup: Setup) -> Plan:
    options = setup.options(("threshold",))
    task = setup.context.get("task")
    if task is not None and task != "binary_classification":
        raise InvalidInput(f"estimated_performance: estimates are for binary_classification, not {task!r}")
    if SCORE not in setup.schema.names:
        raise InvalidInput(f"estimated_performance: the decisions of {setup.model!r} have no {SCORE!r} column")
    threshold = options.get("threshold", 0.5)
    calibrator = _calibrator(setup)

    def summarise(batch: pa.RecordBatch) -> tuple[CountTable | None, int]:
        scores = batch.column(SCORE).cast(pa.float64())
        present = scores.filter(_valid(scores))
        counted = CountTable.of({SCORE: present}) if len(present) else None
        return counted, batch.num_rows - len(present)

    def merge(a: tuple[CountTable | None, int], b: tuple[CountTable | None, int]) -> tuple[CountTable | None, int]:
        return merge_counts(a[0], b[0]), a[1] + b[1]

    def finish(partial: tuple[CountTable | None, int]) -> Finished:
        counts, unscored = partial
        notes = [f"{unscored:,} decision(s) without a score left out"] if unscored else []
        if counts is None:
            return Finished([], [*notes, "no scores logged"])
        if calibrator is None:
            notes.append("no calibrator in the context: the scores are taken as calibrated probabilities")
        scores = np.asarray(counts.repeat(SCORE).to_numpy(zero_copy_only=False), dtype=np.float64)
        try:
            estimate = estimate_performance(scores, threshold=threshold, calibrator=calibrator)
        except InvalidInput as exc:
            raise InvalidInput(f"estimated_performance: {exc}") from None
        values = []
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            found = getattr(estimate, name)
            if found is None:
                notes.append(f"estimated.{name}: no pair of decisions can be one positive and one negative")
                continue
            details = {**found.to_dict(), "threshold": estimate.threshold, "calibrated": estimate.calibrated}
            details.pop("value")
            values.append(MetricValue(f"estimated.{name}", found.value, estimate.rows, details))
        return Finished(values, notes)

    return Plan((SCORE,), summarise, merge, finish, (None, 0))
