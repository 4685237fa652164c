"""Writing ingested batches: group commit, and idempotence by decision id.

A Delta commit costs tens of milliseconds whatever its size (the table's log is read, a Parquet
file and a commit written, the batch anchored on the ledger), so one commit per 1,000-row request
would cap ingest near 30,000 decisions/s on a small machine. Instead, batches of one model that
arrive while a commit runs wait, and whoever takes the writer lock next writes all of them
(:func:`ModelIngest.commit`; up to :data:`GROUP_ROWS` rows, one commit per principal and schema, so
each ledger anchor names the principal whose rows it holds). One writer per model on purpose: two
would halve the groups, and a Delta table's cost grows with its number of commits (measured: 2
writers gave 120 commits of 1,650 rows where 1 gave 26 of 7,600, and a third of the throughput). A
batch alone is written under the lake's content batch id, as the embedded
:class:`~charter.services.decisions.LakeSink` writes it.

Before writing, decision ids already in the lake are dropped. Each ``lake.committed`` anchor on the
ledger holds its commit's smallest and largest decision id; the anchors are indexed in memory by
range (read once, then only the new ones: replicas sharing the store see each other's commits), and
only commits whose range overlaps a batch's are checked id by id — from memory for recent commits,
from the lake's manifests for older ones. Fresh UUIDv7 ids overlap only the last few commits, so the
check costs next to nothing; a batch older than the index (:data:`INDEX_ANCHORS` commits) is checked
against every anchor on the ledger. Workers and servers sharing the store take turns through a lock
of the store (:mod:`charter.store.locks`) from that check to the anchor, so none writes an id another
has just committed.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from charter.errors import InvalidInput, NotFound
from charter.lake.privacy import MaskingPolicy
from charter.lake.schema import DECISION_ID
from charter.lake.table import Commit
from charter.server.api.decisions.payload import Registry, invalid
from charter.services.context import Context
from charter.services.decisions import batch_id_of, model_policy
from charter.services.lake import COMMITTED, anchor_commit, append_batch, lake_of, write_batch
from charter.services.pseudonym_keys import ensure_keys
from charter.services.registry import list_versions
from charter.store.locks import store_lock
from charter.store.schema import ledger_entries

GROUP_ROWS = 100_000  # the most rows one commit takes from waiting batches
FACTS_SECONDS = 5.0  # how long a model's registry facts and masking policy are reused
INDEX_ANCHORS = 100_000  # commits whose id ranges are kept in memory, per model
CACHED_IDS = 500_000  # decision ids of recent commits kept in memory, per model


@dataclass(frozen=True)
class Facts:
    registry: Registry
    policy: MaskingPolicy
    keys: Any  # the home's pseudonym keys, when the policy pseudonymises
    until: float

    @property
    def masks(self) -> bool:
        return any(rule.action != "keep" for rule in self.policy.rules.values())


@dataclass(eq=False)
class Item:
    """One request's batch waiting for its commit, and what became of it."""

    batch: pa.RecordBatch
    context: Context
    taken: bool = False  # in a commit's group (written, or failed, once commit() returns)
    written: int = 0
    duplicates: int = 0
    version: int | None = None
    error: Exception | None = None
    fresh: pa.RecordBatch | None = field(default=None, repr=False)


class ModelIngest:
    """One model's ingest in this process: the waiting batches, the writer lock, the index of committed ids."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()  # the queue and the facts
        self.writer = threading.Lock()  # one commit at a time: the index of committed ids stays exact
        self.queue: list[Item] = []
        self._outcomes = threading.Lock()
        self._facts: Facts | None = None
        self._cursor = -1  # the ledger seq of the last anchor read; -1: none read yet
        self._lasts: list[str] = []  # each indexed commit's largest id, sorted; its anchor at the same index:
        self._anchors: list[tuple[str, str]] = []  # (smallest id, batch id)
        self._batches: set[str] = set()
        self._horizon = ""  # ids up to this one may be in commits the index dropped
        self._ids: OrderedDict[str, pa.Array] = OrderedDict()  # recent commits' decision ids
        self._cached = 0
        self._unanchored: list[tuple[Context, Commit]] = []  # in the lake, not yet on the ledger

    def facts(self, context: Context) -> Facts:
        """The model's versions, aliases and masking policy, re-read every :data:`FACTS_SECONDS`."""
        with self.lock:
            if self._facts is None or self._facts.until < time.monotonic():
                try:
                    versions = list_versions(context, self.name)
                except NotFound:
                    versions = []  # an unregistered model: its decisions are recorded as such
                schemas = {
                    v.version: {f["name"]: f.get("type", "") for f in (v.input_schema or {}).get("features", [])}
                    for v in versions
                }
                aliases = {alias: v.version for v in versions for alias in v.aliases}
                latest = max((v.version for v in versions if v.status == "registered"), default=None)
                policy = model_policy(context, self.name)
                found = Facts(Registry(schemas, aliases, latest), policy, None, time.monotonic() + FACTS_SECONDS)
                self._facts = Facts(found.registry, policy, ensure_keys(context), found.until) if found.masks else found
            return self._facts

    def commit(self, mine: Item) -> None:
        """Write ``mine`` and the batches waiting with it, unless a commit that took it has already run.

        The store's lock for this model's ingest is held from reading the committed ids to anchoring
        the commit, so that another worker process (or server) cannot write the same ids in between.
        """
        while True:
            with self.writer:
                if mine.taken:  # the commit that ran while this thread waited for the lock took it
                    return
                with store_lock(mine.context.engine, f"ingest:{self.name}"):
                    self._commit_next(mine)

    def _commit_next(self, mine: Item) -> None:
        """One commit of the oldest waiting batches (the caller holds the writer lock)."""
        if mine.taken:  # the commit that ran while this thread waited for the lock took it
            return
        with self.lock:
            group: list[Item] = []
            rows = 0
            while self.queue and (not group or rows + self.queue[0].batch.num_rows <= GROUP_ROWS):
                group.append(self.queue.pop(0))
                group[-1].taken = True
                rows += group[-1].batch.num_rows
        try:
            self._refresh(mine.context)
            self._drop_committed(group)
        except Exception as exc:
            for item in group:
                item.error = exc
            return
        families: list[list[Item]] = []
        for item in group:
            family = next((f for f in families if _together(f[0], item)), None)
            family.append(item) if family is not None else families.append([item])
        for family in families:
            try:
                self._write(family)
            except Exception as exc:  # the store failed: these batches are not written; their clients retry
                for item in family:
                    item.error = item.error or exc

    def _drop_committed(self, group: list[Item]) -> None:
        """Each batch's rows without the decision ids already committed, or earlier in the group."""
        taken: list[pa.Array] = []
        for item in group:
            ids = item.batch.column(DECISION_ID)
            seen = [a for a in (self._committed(ids, item.context), *taken) if a is not None]
            item.fresh = item.batch
            if seen:
                item.fresh = item.batch.filter(pc.invert(pc.is_in(ids, value_set=pa.concat_arrays(seen))))
                item.duplicates = item.batch.num_rows - item.fresh.num_rows
            taken.append(ids)

    def write_outcomes(self, context: Context, batch: pa.RecordBatch) -> tuple[int, int, int]:
        """One commit under the lake's batch id of the (decision id, time) pairs: (written, duplicates, version)."""
        with self._outcomes:
            done = write_batch(context, self.name, "outcomes", batch, batch_id=batch_id_of(batch, with_times=True))
        rows = batch.num_rows
        return (rows, 0, done.version) if done.written else (0, rows, done.version)

    def _write(self, family: list[Item]) -> None:
        """One commit for the family's fresh rows; if the lake refuses it, each batch alone (a bad one fails alone).

        A commit whose anchoring failed (the store went away between the two) stays in the index, so
        its rows are not written again whatever group a retry lands in, and is anchored before any
        later write of this model answers: a batch is acknowledged only once its rows are anchored.
        """
        self._anchor_pending()
        batches = [item.fresh for item in family if item.fresh is not None and item.fresh.num_rows]
        if not batches:
            return
        table = pa.Table.from_batches(batches).combine_chunks()  # one chunk a column: row hashing is a third faster
        context = family[0].context
        try:
            done = append_batch(context, self.name, "decisions", table, batch_id=batch_id_of(table))
        except InvalidInput as exc:
            if len(family) == 1:
                family[0].error = invalid(str(exc))
            else:
                for item in family:
                    self._write([item])
            return
        self._remember(done.batch_id, table.column(DECISION_ID).combine_chunks(), done.first_decision,
                       done.last_decision)  # fmt: skip
        try:
            anchor_commit(context, done)
        except Exception:
            self._unanchored.append((context, done))
            raise
        for item in family:
            rows = item.fresh.num_rows if item.fresh is not None else 0
            item.version = done.version
            if done.written:
                item.written += rows
            else:  # the lake had this very content already (a retry after a crash between commit and answer)
                item.duplicates += rows

    def _anchor_pending(self) -> None:
        """Anchor the commits whose anchoring failed, as the principals whose rows they hold (oldest first)."""
        while self._unanchored:
            context, commit = self._unanchored[0]
            anchor_commit(context, commit, check=True)
            self._unanchored.pop(0)

    # ---- the index of committed decision ids -------------------------------------------------------

    def _refresh(self, context: Context) -> None:
        """Index the anchors added to the ledger since the last look (by any server sharing the store)."""
        c = ledger_entries.c
        query = select(c.seq, c.payload).where(c.subject == f"lake:{self.name}", c.action == COMMITTED)
        first = self._cursor < 0
        query = query.order_by(c.seq.desc()).limit(INDEX_ANCHORS) if first else query.where(c.seq > self._cursor)
        with context.engine.connect() as connection:
            rows = connection.execute(query).all()
        for seq, payload in rows:
            data = json.loads(payload)
            self._cursor = max(self._cursor, int(seq))
            if data.get("kind") == "decisions" and data["batch"] not in self._batches:
                self._index(data["first_decision"], data["last_decision"], data["batch"])
        if first and len(rows) >= INDEX_ANCHORS:  # older commits exist that the index does not hold
            self._horizon = max(self._horizon, min(low for low, _ in self._anchors))
        self._cursor = max(self._cursor, 0)

    def _index(self, first: str, last: str, batch: str) -> None:
        at = bisect.bisect_right(self._lasts, last)
        self._lasts.insert(at, last)
        self._anchors.insert(at, (first, batch))
        self._batches.add(batch)
        if len(self._lasts) > INDEX_ANCHORS:
            self._horizon = max(self._horizon, self._lasts.pop(0))
            self._batches.discard(self._anchors.pop(0)[1])

    def _committed(self, ids: pa.Array, context: Context) -> pa.Array | None:
        """The decision ids of every commit whose id range overlaps that of ``ids`` (None: no commit does)."""
        bounds = pc.min_max(ids)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low <= self._horizon:  # older than the index: every anchor, from the ledger
            c = ledger_entries.c
            query = select(c.payload).where(c.subject == f"lake:{self.name}", c.action == COMMITTED)
            with context.engine.connect() as connection:
                anchors = [json.loads(p) for p in connection.execute(query).scalars()]
            overlap = [a for a in anchors if a["first_decision"] <= high and a["last_decision"] >= low]
            batches = [a["batch"] for a in overlap if a["kind"] == "decisions"]
        else:
            start = bisect.bisect_left(self._lasts, low)
            batches = [batch for first, batch in self._anchors[start:] if first <= high]
        found = [self._ids_of(batch, context) for batch in batches]
        return pa.concat_arrays(found) if found else None

    def _ids_of(self, batch: str, context: Context) -> pa.Array:
        if batch in self._ids:
            return self._ids[batch]
        manifest = lake_of(context).read_manifest(self.name, "decisions", batch)
        return manifest[1].column(DECISION_ID).combine_chunks() if manifest else pa.array([], pa.string())

    def _remember(self, batch: str, ids: pa.Array, first: str, last: str) -> None:
        if batch not in self._batches:
            self._index(first, last, batch)
        self._ids[batch] = ids
        self._cached += len(ids)
        while self._cached > CACHED_IDS and len(self._ids) > 1:
            self._cached -= len(self._ids.popitem(last=False)[1])


def _together(a: Item, b: Item) -> bool:
    """Batches share a commit when the same principal sent them and their columns are the same."""
    return a.context.actor == b.context.actor and a.fresh is not None and b.fresh is not None and (
        a.fresh.schema.equals(b.fresh.schema))  # fmt: skip
