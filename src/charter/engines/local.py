"""The local engine: a monitor kind over a window of the Delta decision lake, on this machine.

:meth:`LocalEngine.compute` plans the kind (which columns it reads, its summarise / merge /
finish steps: :mod:`charter.engines.base`), then streams the window's record batches from
the lake once (only those columns, Arrow's threads decoding Parquet), summarises each batch
and merges it into the running partial result, and finishes. Memory is one batch and the
partial results, however long the window. :meth:`LocalEngine.compute_many` runs several
monitors of one model over one window with a single read.

How the window is read:

- ``start``/``end``, ``versions`` and ``alias`` are the lake's own filters
  (:meth:`charter.lake.table.DecisionLake.read`).
- ``last=N`` first reads the ``ts`` column of that selection to find the N-th latest time
  (and, when decisions tie at it, their ids), then reads the window from that time on; the
  window is the N largest (``ts``, ``decision_id``).
- The spec's ``slice`` is applied to each batch after the window is chosen.
- Kinds that use ground truth get a ``label`` column: the model's outcomes table is read once
  (``decision_id``, ``label``; the latest outcome of a decision wins) and looked up by
  ``decision_id`` in each batch (null where no outcome arrived yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.engines.base import EngineResult, MonitorSpec, PartialResult, Plan, Setup, Window
from charter.engines.kinds import KINDS
from charter.errors import InvalidInput
from charter.lake.schema import DECISION_ID, LABEL, TS
from charter.lake.table import DecisionLake
from charter.metrics.summary import ReferenceProfile

#: A batch holds at most this many bytes of fixed-width columns (when batch_rows is not given).
BATCH_BYTES = 128 * 1024 * 1024
MIN_BATCH_ROWS = 65_536
MAX_BATCH_ROWS = 1_048_576
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Selection:
    """The lake filters of a window, and the tie-break of a last-N window (None: no more filtering)."""

    start: dt.datetime | None
    end: dt.datetime | None
    after: int | None = None  # µs: rows at this time are kept only from decision id ``from_id`` on
    from_id: str | None = None


class LocalEngine:
    """Monitor kinds over windows of ``lake``, computed with Arrow and NumPy on this machine.

    ``batch_rows`` caps the rows of each record batch read (default: enough rows for about
    128 MiB of the columns read, between 65,536 and 1,048,576); ``workers`` the threads a kind
    may use on one batch (default: one per core).
    """

    def __init__(self, lake: DecisionLake, *, batch_rows: int | None = None, workers: int | None = None) -> None:
        if batch_rows is not None and (
            isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1
        ):
            raise InvalidInput(f"batch_rows must be a whole number of at least 1, not {batch_rows!r}")
        self.lake = lake
        self.batch_rows = batch_rows
        self.workers = workers

    def compute(
        self,
        model: str,
        spec: MonitorSpec,
        window: Window,
        *,
        reference: ReferenceProfile | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> EngineResult:
        """Compute ``spec.kind`` over ``window`` of ``model``'s decisions (module docstring)."""
        return self.compute_many(model, [spec], window, reference=reference, context=context)[0]

    def compute_many(
        self,
        model: str,
        specs: Sequence[MonitorSpec],
        window: Window,
        *,
        reference: ReferenceProfile | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[EngineResult]:
        """Several monitors over one window, reading the window once; results in the order of ``specs``."""
        partials = self.summarise_many(model, specs, window, reference=reference, context=context)
        return [partial.finish() for partial in partials]

    def summarise(
        self,
        model: str,
        spec: MonitorSpec,
        window: Window,
        *,
        reference: ReferenceProfile | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> PartialResult:
        """The window's partial result, before :meth:`PartialResult.finish`: partial results of
        adjacent windows merge into the one of both (an hour's into a day's)."""
        return self.summarise_many(model, [spec], window, reference=reference, context=context)[0]

    def summarise_many(
        self,
        model: str,
        specs: Sequence[MonitorSpec],
        window: Window,
        *,
        reference: ReferenceProfile | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[PartialResult]:
        if context is not None and not isinstance(context, Mapping):
            raise InvalidInput(f"context must be a mapping, not {type(context).__name__}")
        if reference is not None and not isinstance(reference, ReferenceProfile):
            raise InvalidInput(f"reference must be a ReferenceProfile, not {type(reference).__name__}")
        if not specs:
            return []
        schema = pa.schema(self.lake.table(model).schema().to_arrow())
        has_outcomes = self.lake.exists(model, "outcomes")
        known = dict(context or {})
        plans = [
            self._plan(Setup(model, spec, window, reference, known, schema, has_outcomes, self.workers))
            for spec in specs
        ]
        partials = [plan.empty for plan in plans]
        rows = [0] * len(specs)
        join = has_outcomes and any(plan.outcomes == "optional" for plan in plans)
        selection = self._select(model, schema, window)
        wanted = [c for plan in plans for c in plan.columns]
        wanted += [spec.slice[0] for spec in specs if spec.slice is not None]
        if join:
            wanted.append(DECISION_ID)
        if selection.after is not None:
            wanted += [TS, DECISION_ID]
        columns = list(dict.fromkeys(wanted))
        labels = self._labels(model) if join else None
        rows_read = 0
        for batch in self._batches(model, schema, window, selection, columns):
            rows_read += batch.num_rows
            if labels is not None:
                batch = _with_labels(batch, *labels)
            for i, (spec, plan) in enumerate(zip(specs, plans, strict=True)):
                part = _sliced(batch, spec)
                if part.num_rows:
                    rows[i] += part.num_rows
                    partials[i] = plan.merge(partials[i], plan.summarise(part))
        return [
            PartialResult(spec.kind, plan, partial, n, rows_read)
            for spec, plan, partial, n in zip(specs, plans, partials, rows, strict=True)
        ]

    # --- planning ------------------------------------------------------------------------

    def _plan(self, setup: Setup) -> Plan:
        spec = setup.spec
        make = KINDS.get(spec.kind)
        if make is None:
            raise InvalidInput(f"unknown monitor kind {spec.kind!r} (kinds: {', '.join(sorted(KINDS))})")
        if spec.slice is not None:
            _check_slice(setup)
        plan = make(setup)
        missing = [c for c in plan.columns if c not in setup.schema.names]
        if missing:  # a kind asks only for columns it checked; this guards the engine's own promise
            raise InvalidInput(f"{spec.kind}: column(s) {', '.join(missing)} not in the decisions of {setup.model!r}")
        return plan

    def rows_per_batch(self, schema: pa.Schema, columns: Sequence[str]) -> int:
        """The rows of each batch read: ``batch_rows``, or about BATCH_BYTES of ``columns``."""
        if self.batch_rows is not None:
            return self.batch_rows
        width = sum(_width(schema.field(name).type) for name in columns) or 8
        return int(min(MAX_BATCH_ROWS, max(MIN_BATCH_ROWS, BATCH_BYTES // width)))

    # --- reading -------------------------------------------------------------------------

    def _read(
        self,
        model: str,
        schema: pa.Schema,
        window: Window,
        columns: Sequence[str],
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> Iterator[pa.RecordBatch]:
        yield from self.lake.read(
            model,
            start=start,
            end=end,
            versions=window.versions,
            alias=window.alias,
            columns=list(columns),
            batch_rows=self.rows_per_batch(schema, columns),
        )

    def _batches(
        self, model: str, schema: pa.Schema, window: Window, selection: _Selection, columns: Sequence[str]
    ) -> Iterator[pa.RecordBatch]:
        """The window's batches, small ones (a Delta file or row group each) joined up to the batch size.

        A lake written in many small commits has many small files; summarising each alone would
        spend more on the per-batch work of the kinds than on the rows.
        """
        target = self.rows_per_batch(schema, columns)
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in self._read(model, schema, window, columns, selection.start, selection.end):
            if selection.after is not None and selection.from_id is not None:
                keep = pc.or_(
                    pc.greater(batch.column(TS).cast(pa.int64()), selection.after),
                    pc.greater_equal(batch.column(DECISION_ID), selection.from_id),
                )
                batch = batch.filter(keep)
            if not batch.num_rows:
                continue
            pending.append(batch)
            rows += batch.num_rows
            if rows >= target:
                yield _joined(pending)
                pending, rows = [], 0
        if pending:
            yield _joined(pending)

    def _select(self, model: str, schema: pa.Schema, window: Window) -> _Selection:
        """The filters of ``window``; for last=N, the time (and id) the N latest decisions start at."""
        if window.last is None:
            return _Selection(window.start, window.end)
        n = window.last
        kept = np.empty(0, dtype=np.int64)
        total = 0
        for batch in self._read(model, schema, window, [TS], window.start, window.end):
            stamps = np.asarray(batch.column(TS).cast(pa.int64()).to_numpy(), dtype=np.int64)
            total += stamps.size
            kept = np.concatenate([kept, stamps])
            if kept.size > 2 * n:
                kept = np.partition(kept, kept.size - n)[kept.size - n :]
        if total <= n:
            return _Selection(window.start, window.end)
        kept = np.partition(kept, kept.size - n)[kept.size - n :]
        cut = int(kept.min())
        needed = n - int(np.count_nonzero(kept > cut))  # of the decisions at exactly ``cut``
        at = EPOCH + dt.timedelta(microseconds=cut)
        tied = [
            batch.column(DECISION_ID)
            for batch in self._read(model, schema, window, [DECISION_ID], at, at + dt.timedelta(microseconds=1))
        ]
        ids = pa.chunked_array(tied, type=pa.string()) if tied else pa.chunked_array([], type=pa.string())
        if len(ids) <= needed:
            return _Selection(at, window.end)
        from_id = ids.take(pc.sort_indices(ids, sort_keys=[("", "descending")]))[needed - 1].as_py()
        return _Selection(at, window.end, after=cut, from_id=from_id)

    def _labels(self, model: str) -> tuple[pa.Array, pa.Array] | None:
        """Every decision id with an outcome, and its latest label."""
        names = pa.schema(self.lake.table(model, "outcomes").schema().to_arrow()).names
        if LABEL not in names:
            return None
        table = self.lake.read_table(model, "outcomes", columns=[DECISION_ID, LABEL, TS])
        if table.num_rows == 0:
            return None
        table = table.sort_by([(TS, "ascending")])
        latest = table.group_by(DECISION_ID, use_threads=False).aggregate([(LABEL, "last")])
        return latest.column(DECISION_ID).combine_chunks(), latest.column(f"{LABEL}_last").combine_chunks()


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    joined: pa.RecordBatch = pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
    return joined


def _width(kind: pa.DataType) -> int:
    try:
        return max(1, int(kind.bit_width) // 8)
    except ValueError:
        return 16  # strings, lists: a guess of their average size


def _check_slice(setup: Setup) -> None:
    assert setup.spec.slice is not None
    column, value = setup.spec.slice
    if column not in setup.schema.names:
        raise InvalidInput(
            f"{setup.kind}: slice column {column!r} is not in the decisions of {setup.model!r} "
            f"(columns: {', '.join(setup.schema.names)})"
        )
    if value is None:
        return
    try:
        pa.scalar(value).cast(setup.schema.field(column).type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        kind = setup.schema.field(column).type
        raise InvalidInput(
            f"{setup.kind}: slice value {value!r} cannot be compared with column {column!r} ({kind})"
        ) from None


def _sliced(batch: pa.RecordBatch, spec: MonitorSpec) -> pa.RecordBatch:
    if spec.slice is None:
        return batch
    column, value = spec.slice
    values = batch.column(column)
    if value is None:
        return batch.filter(pc.is_null(values))
    return batch.filter(pc.equal(values, pa.scalar(value).cast(values.type)))


def _with_labels(batch: pa.RecordBatch, ids: pa.Array, labels: pa.Array) -> pa.RecordBatch:
    """The batch with a ``label`` column: each decision's outcome, null where none is known."""
    found = pc.index_in(batch.column(DECISION_ID), value_set=ids)
    return batch.append_column(LABEL, labels.take(found))
