"""Fairness by a protected attribute: per-group confusion counts, merged exactly.

Each batch is counted into two :class:`~charter.metrics.fairness.ConfusionCounts` by the
group column ``group_<attribute>``: one over every decision (the selection rates: demographic
parity and disparate impact need no labels), one over the decisions whose outcome has joined
(true and false positive rates: equalized odds, equal opportunity, predictive parity, average
odds). Decisions without a group label or a prediction are left out and counted in a note.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.engines.base import Finished, MetricValue, Plan, Setup
from charter.engines.kinds.performance import as_binary
from charter.errors import InvalidInput
from charter.lake.schema import GROUP_PREFIX, LABEL, PREDICTION, group_column
from charter.metrics.fairness import ConfusionCounts, confusion_counts

#: Metrics from selection rates only (every decision counts).
SELECTION = ("fairness.demographic_parity_difference", "fairness.demographic_parity_ratio", "fairness.disparate_impact")
#: Metrics that need outcomes (the labelled decisions count).
WITH_OUTCOMES = (
    "fairness.equalized_odds_difference",
    "fairness.equalized_odds_ratio",
    "fairness.equal_opportunity_difference",
    "fairness.predictive_parity_difference",
)
#: Groups listed in a value's details at most.
SHOWN_GROUPS = 50
Partial = tuple[ConfusionCounts | None, ConfusionCounts | None, int]


def _merge_counts(a: ConfusionCounts | None, b: ConfusionCounts | None) -> ConfusionCounts | None:
    if a is None:
        return b
    return a if b is None else a.merge(b)


def fairness(setup: Setup) -> Plan:
    options = setup.options(("positive", "privileged", "min_group_size"))
    attribute = setup.spec.group
    if not attribute:
        raise InvalidInput(
            "fairness: the monitor names no group (the protected attribute, logged as group_<attribute>)"
        )
    column = group_column(attribute)
    if column not in setup.schema.names:
        logged = [n[len(GROUP_PREFIX) :] for n in setup.schema.names if n.startswith(GROUP_PREFIX)]
        raise InvalidInput(
            f"fairness: group {attribute!r} is not logged with the decisions of {setup.model!r} "
            f"(no column {column!r}; groups logged: {', '.join(logged) or 'none'})"
        )
    if PREDICTION not in setup.schema.names:
        raise InvalidInput(f"fairness: the decisions of {setup.model!r} have no {PREDICTION!r} column")
    positive = options.get("positive")
    privileged = options.get("privileged")
    min_size = options.get("min_group_size", 30)
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
        raise InvalidInput(f"fairness: option min_group_size must be a whole number >= 0, not {min_size!r}")

    def summarise(batch: pa.RecordBatch) -> Partial:
        groups, predictions = batch.column(column), batch.column(PREDICTION)
        keep = pc.and_(pc.is_valid(groups), pc.is_valid(predictions))
        kept = batch.filter(keep)
        if kept.num_rows == 0:
            return None, None, batch.num_rows
        y_pred = as_binary(kept.column(PREDICTION), positive, "prediction", kind="fairness") == 1
        everyone = confusion_counts(np.zeros(len(y_pred), dtype=bool), y_pred, sensitive=kept.column(column))
        labelled = None
        if LABEL in kept.schema.names:
            known = np.asarray(pc.is_valid(kept.column(LABEL)).to_numpy(zero_copy_only=False), dtype=bool)
            if known.any():
                rows = kept.filter(pa.array(known))
                y_true = as_binary(rows.column(LABEL), positive, "label", kind="fairness") == 1
                labelled = confusion_counts(y_true, y_pred[known], sensitive=rows.column(column))
        return everyone, labelled, batch.num_rows - kept.num_rows

    def merge(a: Partial, b: Partial) -> Partial:
        return _merge_counts(a[0], b[0]), _merge_counts(a[1], b[1]), a[2] + b[2]

    def finish(partial: Partial) -> Finished:
        everyone, labelled, dropped = partial
        notes = [f"{dropped:,} decision(s) without a {column} label or a prediction left out"] if dropped else []
        if everyone is None:
            return Finished([], notes)
        values = _metrics(everyone, SELECTION, privileged, notes, min_size)
        if labelled is None:
            notes.append("no outcomes joined: only the selection-rate metrics are computed")
        else:
            values += _metrics(labelled, WITH_OUTCOMES, privileged, notes, min_size)
            if privileged is not None:
                values += _metrics(labelled, ("fairness.average_odds_difference",), privileged, notes, min_size)
        if len(everyone.groups) == 1:
            notes.append(f"one group only ({everyone.groups[0]!r}): every gap is 0")
        return Finished(values, notes)

    return Plan((column, PREDICTION), summarise, merge, finish, (None, None, 0), outcomes="optional")


def _metrics(
    counts: ConfusionCounts, metrics: tuple[str, ...], privileged: Any, notes: list[str], min_size: int
) -> list[MetricValue]:
    rows = int(counts.count.sum())
    rates = counts.group_rates(min_group_size=min_size)
    labelled = metrics[0] not in SELECTION
    groups = {
        str(r.group): (
            {"count": r.count, "tpr": r.tpr, "fpr": r.fpr, "precision": r.precision, "too_small": r.too_small}
            if labelled
            else {"count": r.count, "selection_rate": r.selection_rate, "too_small": r.too_small}
        )
        for r in rates[:SHOWN_GROUPS]
    }
    small = [str(r.group) for r in rates if r.too_small]
    if small and not labelled:
        notes.append(f"group(s) with fewer than {min_size} decisions: {', '.join(small[:10])}")
    values = []
    for metric in metrics:
        options = (
            {"privileged": privileged}
            if metric in ("fairness.disparate_impact", "fairness.average_odds_difference")
            else {}
        )
        try:
            value = counts.metric(metric, **options)
        except InvalidInput as exc:
            raise InvalidInput(f"fairness: {exc}") from None
        if not math.isfinite(value):
            notes.append(f"{metric}: undefined (the privileged group has no positive prediction), left out")
            continue
        values.append(MetricValue(metric, value, rows, {"groups": groups, "privileged": privileged}))
    return values
