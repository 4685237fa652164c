"""Turning logged calls into decision and outcome rows (Arrow record batches), per lake/schema.py.

Runs on the background writer. Consecutive calls of the same shape (the same feature
layout, prediction type and score shape) are stacked into one run and converted with one
Arrow conversion per column (:mod:`charter.sdk.arrays`); per-call values (time, latency,
trace id) are broadcast with ``take``. Single-row calls arrive already gathered into one
call per batch (:mod:`charter.sdk.rows`), with a time per row. Nothing here raises for bad
data: a value that cannot be stored is recorded as null (or a whole column is left out)
and the problem is reported through ``report``.

A decision batch always has the fixed columns of ``DECISION_FIELDS`` (null where unknown),
then ``prediction``, the features under their own names, and ``group_<attribute>``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import InvalidInput
from charter.lake.schema import (
    DECISION_FIELDS,
    DECISION_ID,
    LABEL,
    OUTCOME_FIELDS,
    PREDICTION,
    TIMESTAMP,
    TS,
    check_names,
    group_column,
)
from charter.sdk.arrays import Report, by_columns, constant, feature_array, to_arrow, value_column
from charter.sdk.snapshot import ArrayRows, Call, Columns, RowMap, snapshot_values

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@dataclass
class Layout:
    """What every decision row of one logger shares, and the column names already checked."""

    model: str
    version: int | None
    alias: str | None
    registered: bool
    features: tuple[str, ...] | None
    groups: tuple[str, ...]
    _checked: set[str] = field(default_factory=set)

    def name_problem(self, name: str, *, what: str) -> str | None:
        """Why the lake cannot hold a column named ``name``, or None."""
        if name in self._checked:
            return None
        try:
            check_names([name], what=what)
        except InvalidInput as exc:
            return str(exc)
        self._checked.add(name)
        return None


def micros(when: datetime) -> int:
    return (when - _EPOCH) // _MICROSECOND


def build_decisions(layout: Layout, calls: Sequence[Call], report: Report) -> list[pa.RecordBatch]:
    """The calls' decision rows, as few batches as their types allow (usually one)."""
    batches: list[pa.RecordBatch] = []
    for run in _runs(calls):
        try:
            batches.append(_build_run(layout, run, report))
        except Exception as exc:  # an input nobody foresaw: try call by call, then give up on the call
            if len(run) > 1:
                for call in run:
                    batches.extend(build_decisions(layout, [call], report))
            else:
                report(
                    f"{run[0].rows:,} decision(s) could not be recorded ({type(exc).__name__}: {exc}); "
                    "they are missing from the lake"
                )
    return concat_batches(batches)


def _key(call: Call) -> tuple[Any, ...]:
    """Calls with equal keys stack: the same feature layout, prediction type and score shape."""
    f = call.features
    if isinstance(f, ArrayRows):
        features: Any = (f.values.shape[1], f.values.dtype, f.names)
    elif isinstance(f, RowMap):
        features = tuple(f.values)
    else:
        features = id(f)  # Columns do not stack; None (no features) is one id
    p = call.predictions
    predictions = p.dtype if isinstance(p, np.ndarray) else (p.type if isinstance(p, pa.Array) else None)
    s = call.scores
    return type(f), features, type(p), predictions, None if s is None else s.shape[1:]


def _runs(calls: Sequence[Call]) -> Iterator[list[Call]]:
    for _, run in itertools.groupby(calls, key=_key):
        yield list(run)


def _build_run(layout: Layout, run: list[Call], report: Report) -> pa.RecordBatch:
    counts = [call.rows for call in run]
    n = sum(counts)
    spread = _Spread(counts)
    score, scores = _scores(run, n)
    columns: dict[str, pa.Array] = {
        DECISION_ID: _ids(run),
        TS: pa.array(_times(run, counts), type=TIMESTAMP),
        "model_version": constant(layout.version, pa.int64(), n),
        "alias": constant(layout.alias, pa.string(), n),
        "registered": constant(layout.registered, pa.bool_(), n),
        "latency_ms": spread.column([c.latency_ms for c in run], pa.float64(), "latency_ms", report),
        "subject_id": spread.column([c.subject_ids for c in run], pa.string(), "subject_ids", report),
        "trace_id": spread.column([c.trace_id for c in run], pa.string(), "trace_id", report),
        "score": score,
        "scores": scores,
    }
    fields = list(DECISION_FIELDS)
    prediction = _predictions(run, n, report)
    columns[PREDICTION] = prediction
    fields.append(pa.field(PREDICTION, prediction.type))
    features = _features(layout, run, report)
    for name, array in features.items():
        columns[name] = array
        fields.append(pa.field(name, array.type))
    for name, array in _groups(layout, run, features, spread, report).items():
        columns[name] = array
        fields.append(pa.field(name, array.type))
    return pa.RecordBatch.from_arrays([columns[f.name] for f in fields], schema=pa.schema(fields))


def _times(run: list[Call], counts: list[int]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Each row's time: a call's one time repeated over its rows, or its own time per row."""
    times = [c.ts for c in run]
    if all(isinstance(t, int) for t in times):
        return np.repeat(np.array(times, dtype=np.int64), counts)
    return np.concatenate([np.full(c.rows, c.ts, dtype=np.int64) if isinstance(c.ts, int) else c.ts for c in run])


class _Spread:
    """Per-call values (a scalar for all of a call's rows, or one per row) spread over a run's rows."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.rows = sum(counts)
        self._index: pa.Array | None = None

    def index(self) -> pa.Array:
        if self._index is None:
            self._index = pa.array(np.repeat(np.arange(len(self.counts), dtype=np.int64), self.counts))
        return self._index

    def column(self, values: list[Any], type_: pa.DataType | None, what: str, report: Report) -> pa.Array:
        if all(v is None for v in values):
            return constant(None, type_ or pa.null(), self.rows)
        if not any(isinstance(v, _SEQUENCES) for v in values):
            per_call = to_arrow(values, type_, what, report)
            return per_call if len(values) == self.rows else per_call.take(self.index())
        parts = [
            to_arrow(v if _is_sequence(v) else [v] * count, type_, what, report)
            for v, count in zip(values, self.counts, strict=True)
        ]
        if type_ is None:  # let Arrow find a common type, or fall back to text
            try:
                return pa.concat_arrays(parts)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                parts = [p.cast(pa.string()) for p in parts]
        return pa.concat_arrays(parts)


_SEQUENCES = (np.ndarray, list, pa.Array)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, _SEQUENCES)


def _ids(run: list[Call]) -> pa.Array:
    if all(isinstance(c.ids, str) for c in run):
        return pa.array([c.ids for c in run], type=pa.string())
    parts = [pa.array([c.ids], type=pa.string()) if isinstance(c.ids, str) else c.ids for c in run]
    return pa.concat_arrays(parts)


def _scores(run: list[Call], n: int) -> tuple[pa.Array, pa.Array]:
    first = run[0].scores
    no_list = constant(None, pa.list_(pa.float64()), n)
    if first is None:
        return constant(None, pa.float64(), n), no_list
    stacked = np.concatenate([c.scores for c in run if c.scores is not None]) if len(run) > 1 else first
    if stacked.ndim == 1:
        return pa.array(stacked, type=pa.float64()), no_list
    classes = stacked.shape[1]
    offsets = pa.array(np.arange(0, n * classes + 1, classes, dtype=np.int32))
    listed = pa.ListArray.from_arrays(offsets, pa.array(stacked.reshape(-1), type=pa.float64()))
    score = pa.array(stacked[:, -1], type=pa.float64()) if classes == 2 else pa.nulls(n, pa.float64())
    return score, listed


def _predictions(run: list[Call], n: int, report: Report) -> pa.Array:
    values = [c.predictions for c in run]
    first = values[0]
    if first is None:
        return pa.nulls(n)
    if len(values) == 1:
        merged = first
    elif isinstance(first, np.ndarray):
        merged = np.concatenate(values)
    elif isinstance(first, pa.Array):
        merged = pa.concat_arrays(values)
    else:
        merged = list(itertools.chain.from_iterable(values))
    return value_column(merged, what="predictions", report=report)


def _features(layout: Layout, run: list[Call], report: Report) -> dict[str, pa.Array]:
    first = run[0].features
    if first is None:
        return {}
    if isinstance(first, ArrayRows):
        by_column = by_columns([c.features.values for c in run if isinstance(c.features, ArrayRows)])
        names = first.names or layout.features or tuple(f"f{j}" for j in range(len(by_column)))
        pairs: Iterator[tuple[str, Any]] = zip(names, by_column, strict=True)
    elif isinstance(first, RowMap):
        keys = list(first.values)
        pairs = ((str(k), [c.features.values[k] for c in run]) for k in keys)  # type: ignore[union-attr]
    else:
        assert isinstance(first, Columns)
        pairs = zip(first.names, first.values, strict=True)
    columns: dict[str, pa.Array] = {}
    for name, values in pairs:
        problem = layout.name_problem(name, what="feature")
        if problem is None and name in columns:
            problem = f"feature {name!r} appears twice in the inputs"
        if problem is not None:
            report(f"{problem}; column not recorded")
            continue
        columns[name] = feature_array(values, name, report)
    return columns


def _groups(
    layout: Layout, run: list[Call], features: dict[str, pa.Array], spread: _Spread, report: Report
) -> dict[str, pa.Array]:
    given = sorted({name for c in run if c.groups for name in c.groups} - set(layout.groups))
    columns: dict[str, pa.Array] = {}
    for attribute in (*layout.groups, *given):
        problem = layout.name_problem(attribute, what="group")
        if problem is None and group_column(attribute) in features:
            problem = f"group {attribute!r}: the inputs have a feature named {group_column(attribute)!r} already"
        if problem is not None:
            report(f"{problem}; group not recorded")
            continue
        values = [(c.groups or {}).get(attribute) for c in run]
        if any(v is not None for v in values):
            columns[group_column(attribute)] = spread.column(values, None, f"group {attribute!r}", report)
        elif attribute in features:
            columns[group_column(attribute)] = features[attribute]
        else:
            report(
                f"group {attribute!r}: neither a column of the inputs nor given in groups=; "
                f"recorded as null for {spread.rows:,} row(s)"
            )
            columns[group_column(attribute)] = pa.nulls(spread.rows, pa.string())
    return columns


def build_outcomes(decision_ids: Any, labels: Any, ts: datetime, report: Report) -> pa.RecordBatch | None:
    """Outcome rows (decision_id, ts, label); rows without a valid decision id are left out."""
    if isinstance(decision_ids, str):
        decision_ids = [decision_ids]
    ids, id_count, problem = snapshot_values(decision_ids, what="decision_ids")
    if problem is not None or ids is None:
        report(problem or "decision_ids: none given; no outcomes recorded")
        return None
    labels_snapshot, label_count, problem = snapshot_values(labels, what="labels")
    if problem is not None or labels_snapshot is None:
        report(problem or "labels: none given; no outcomes recorded")
        return None
    if id_count != label_count:
        report(f"labels: {label_count:,} values for {id_count:,} decision ids; no outcomes recorded")
        return None
    id_array = to_arrow(ids, pa.string(), "decision_ids", report)
    label_array = value_column(labels_snapshot, what="labels", report=report)
    valid = pc.fill_null(pc.match_substring_regex(id_array, _UUID_TEXT), False)
    invalid = len(id_array) - pc.sum(valid).as_py() if len(id_array) else 0
    if invalid:
        example = id_array.filter(pc.invert(valid))[0].as_py()
        report(f"decision_ids: {invalid:,} value(s) are not decision ids (UUID text), e.g. {example!r}; skipped")
        id_array, label_array = id_array.filter(valid), label_array.filter(valid)
    n = len(id_array)
    if n == 0:
        return None
    when = pa.repeat(pa.scalar(micros(ts), type=pa.int64()), n).cast(TIMESTAMP)
    fields = [*OUTCOME_FIELDS, pa.field(LABEL, label_array.type)]
    return pa.RecordBatch.from_arrays([id_array, when, label_array], schema=pa.schema(fields))


def concat_batches(batches: list[pa.RecordBatch]) -> list[pa.RecordBatch]:
    """One batch if the schemas can be unified (a null column takes the other's type), else one per family."""
    if len(batches) <= 1:
        return batches
    families: list[tuple[pa.Schema, list[pa.RecordBatch]]] = []
    for batch in batches:
        for i, (schema, members) in enumerate(families):
            try:
                unified = pa.unify_schemas([schema, batch.schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                continue
            members.append(batch)
            families[i] = (unified, members)
            break
        else:
            families.append((batch.schema, [batch]))
    return [_one_batch(members) for _, members in families]


def _one_batch(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    tables = [pa.Table.from_batches([b]) for b in batches]
    table = pa.concat_tables(tables, promote_options="permissive").combine_chunks()
    return table.to_batches()[0]
