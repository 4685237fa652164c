"""Where the decision logger delivers its batches: the one-method-per-table sink protocol.

The lake's Delta sink implements it in production; :class:`MemorySink` keeps batches in
memory, for tests and as the smallest correct example. A sink is called from the logger's
one background thread (and, at shutdown, from the thread that closes the logger).

Both writes must be idempotent: a batch may be delivered again after a crash or a failure
that happened after the sink had in fact stored it (the logger spools the batch and
replays it). Decisions are identified by ``decision_id``; an outcome row by its
``decision_id`` and ``ts`` (a replay carries the same ``ts``; a later label for the same
decision is a new outcome).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from charter.lake.schema import DECISION_ID, TS


# fmt: off
class Sink(Protocol):
    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None: ...  # idempotent by decision_id; raises on failure  # noqa: E501
    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None: ...
# fmt: on


class MemorySink:
    """Batches kept in memory, per model; rows already stored are skipped on a second delivery.

    Decision ids are UUIDv7 text, so their order is the order in which they were made: a
    batch whose smallest id is above the largest stored (every fresh batch from one logger)
    is new throughout and is stored as it is, without looking at its ids one by one. Any
    other batch (a replay, or batches of several loggers crossing) has its ids looked up
    among the stored ones.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: dict[tuple[str, str], list[pa.RecordBatch]] = {}
        self._newest: dict[str, str] = {}  # per model: the largest decision id stored
        self._seen: dict[str, set[Any]] = {}  # per model: the outcomes' (decision_id, ts) stored
        self.calls = 0  # write_* calls, including those that added nothing new

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        ids = batch.column(DECISION_ID)
        bounds = pc.min_max(ids)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        with self._lock:
            self.calls += 1
            stored = self._batches.setdefault(("decisions", model), [])
            newest = self._newest.get(model)
            if stored and (low is None or newest is None or low <= newest):
                known = pa.concat_arrays([b.column(DECISION_ID) for b in stored])
                fresh = pc.invert(pc.is_in(ids, value_set=known))
                if not pc.all(fresh).as_py():
                    batch = batch.filter(fresh)
            if batch.num_rows:
                stored.append(batch)
            if high is not None and (newest is None or high > newest):
                self._newest[model] = high

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        ids = batch.column(DECISION_ID).to_pylist()
        times = batch.column(TS).cast(pa.int64()).to_pylist()
        keys = list(zip(ids, times, strict=True))
        with self._lock:
            self.calls += 1
            seen = self._seen.setdefault(model, set())
            fresh = [key not in seen for key in keys]
            seen.update(keys)
            if not all(fresh):
                batch = batch.filter(pa.array(fresh, type=pa.bool_()))
            if batch.num_rows:
                self._batches.setdefault(("outcomes", model), []).append(batch)

    def decisions(self, model: str) -> pa.Table:
        """Every decision row stored for ``model``, in delivery order."""
        return self._table("decisions", model)

    def outcomes(self, model: str) -> pa.Table:
        return self._table("outcomes", model)

    def decision_ids(self, model: str) -> list[str]:
        ids: list[str] = self.decisions(model).column(DECISION_ID).to_pylist()
        return ids

    def _table(self, table: str, model: str) -> pa.Table:
        with self._lock:
            batches = list(self._batches.get((table, model), []))
        if not batches:
            return pa.table({DECISION_ID: pa.array([], type=pa.string())})
        return pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="permissive")
