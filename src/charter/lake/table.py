"""The decision lake on disk: a Delta table of decisions and one of outcomes per model.

``DecisionLake(root)`` places a model's tables at ``<root>/<model>/decisions`` and
``<root>/<model>/outcomes`` (``root`` is ``$CHARTER_HOME/lake`` by default, or any URI the
``deltalake`` package can write, with ``storage_options``). Each write is one Delta commit of
one *batch*: the rows get the batch's id (``_batch``) and their row hashes (``_row_hash``),
and the commit carries the batch id in its metadata, so a batch written twice (a retry after
a crash) is found and not written again. Before the commit, the batch's *manifest* is
written beside the tables (``<model>/_manifests/<kind>/<batch>.arrow``: every decision id
with its row hash, sorted); its SHA-256 and the Merkle root of its hashes are what the
ledger anchors, so verification can name a changed, removed or added row. The tables are
plain Delta: Polars, DuckDB, Spark and pandas read them without Charter.

This module knows nothing of the ledger: anchoring a batch's Merkle root is the services'
job (:mod:`charter.services.lake`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as fs
import pyarrow.ipc as ipc
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from charter.errors import InvalidInput, NotFound
from charter.lake.rowhash import row_hashes
from charter.lake.schema import BATCH, DECISION_FIELDS, DECISION_ID, OUTCOME_FIELDS, ROW_HASH, SUBJECT_ID, TS
from charter.ledger.merkle import ordered_root

Kind = Literal["decisions", "outcomes"]
KINDS: tuple[Kind, ...] = ("decisions", "outcomes")
#: The commit metadata key holding a batch's id.
BATCH_KEY = "charter.batch"
#: How many recent commits are searched for a batch id before writing it again.
RECENT_COMMITS = 500


@dataclass(frozen=True)
class Commit:
    """One written batch: where it went and what anchors it."""

    model: str
    kind: Kind
    batch_id: str
    rows: int
    version: int  # the Delta table version of the commit
    root: bytes  # Merkle root of the rows' hashes ordered by decision_id
    manifest_sha256: str  # of the manifest file
    first_decision: str  # smallest and largest decision id in the batch
    last_decision: str
    written: bool = True  # False: the batch was already in the table (a retry)


@dataclass
class _Seen:
    """The batch ids found in a table's commits up to ``version``."""

    version: int = -1
    batches: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ErasedRow:
    kind: Kind
    decision_id: str
    row_hash: bytes
    batch_id: str


class DecisionLake:
    def __init__(self, root: str | Path, *, storage_options: dict[str, str] | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.storage_options = storage_options
        self._seen: dict[tuple[str, Kind], _Seen] = {}
        # Open tables kept between writes: opening one reads its log (14 ms at 150 commits, growing),
        # where catching up an open one reads only the commits made since (by any writer).
        self._open: dict[tuple[str, Kind], DeltaTable] = {}
        self._writing: dict[tuple[str, Kind], threading.Lock] = {}
        self._locks = threading.Lock()

    # --- locations -----------------------------------------------------------------------

    def uri(self, model: str, kind: Kind = "decisions") -> str:
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        return f"{self.root}/{model}/{kind}"

    def models(self) -> list[str]:
        """The models with a decisions table (local lakes only)."""
        folder = Path(self.root)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if DeltaTable.is_deltatable(str(p / "decisions")))

    def table(self, model: str, kind: Kind = "decisions") -> DeltaTable:
        uri = self.uri(model, kind)
        try:
            return DeltaTable(uri, storage_options=self.storage_options)
        except TableNotFoundError:
            raise NotFound(f"no {kind} logged for model {model!r} yet (no Delta table at {uri})") from None

    def _current(self, model: str, kind: Kind) -> DeltaTable | None:
        """The write path's open table, caught up with every commit so far; None when there is no table yet."""
        found = self._open.get((model, kind))
        if found is not None:
            try:
                found.update_incremental()
                return found
            except DeltaError:  # the table was removed or rewritten under us: open it afresh
                del self._open[(model, kind)]
        if not self.exists(model, kind):
            return None
        found = self._open[(model, kind)] = self.table(model, kind)
        return found

    def exists(self, model: str, kind: Kind = "decisions") -> bool:
        return DeltaTable.is_deltatable(self.uri(model, kind), storage_options=self.storage_options)

    # --- writing -------------------------------------------------------------------------

    def append(self, model: str, kind: Kind, batch: pa.RecordBatch | pa.Table, *, batch_id: str) -> Commit:
        """Write one batch as one commit, with its batch id and row hashes; a batch already written is skipped.

        Writes to one table from threads sharing this object take turns (its open table is theirs in
        turn); other writers, in other processes or with other objects, commit concurrently as Delta
        allows, and each write catches up with their commits first.
        """
        with self._locks:
            lock = self._writing.setdefault((model, kind), threading.Lock())
        with lock:
            return self._append(model, kind, batch, batch_id)

    def _append(self, model: str, kind: Kind, batch: pa.RecordBatch | pa.Table, batch_id: str) -> Commit:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if DECISION_ID not in table.column_names:
            raise InvalidInput(f"{kind} batch for {model!r}: it has no {DECISION_ID!r} column")
        if BATCH in table.column_names or ROW_HASH in table.column_names:
            raise InvalidInput(f"{kind} batch for {model!r}: {BATCH!r} and {ROW_HASH!r} are the lake's to add")
        if table.num_rows == 0:
            raise InvalidInput(f"{kind} batch for {model!r} is empty")
        table = self._typed(model, kind, table)
        hashes = row_hashes(table)
        ids = table.column(DECISION_ID)
        root = ordered_root(ids, hashes)
        first, last = pc.min(ids).as_py(), pc.max(ids).as_py()
        manifest = _manifest(ids, hashes)
        digest = hashlib.sha256(manifest).hexdigest()
        current = self._current(model, kind)
        done = self._committed(current, model, kind, batch_id)
        if done is not None:
            return Commit(model, kind, batch_id, table.num_rows, done, root, digest, first, last, written=False)
        self._write_manifest(model, kind, batch_id, manifest)
        table = table.append_column(pa.field(BATCH, pa.string(), nullable=False), pa.repeat(batch_id, table.num_rows))
        table = table.append_column(pa.field(ROW_HASH, pa.binary(32), nullable=False), hashes)
        try:
            current = self._write(model, kind, current, table, batch_id)
        except DeltaError:
            # The open table may be stale in a way catching up cannot mend (the table was removed and
            # made again): once more from a freshly opened one, which also names a real problem.
            self._open.pop((model, kind), None)
            self._seen.pop((model, kind), None)
            try:
                current = self._write(model, kind, self._current(model, kind), table, batch_id)
            except DeltaError as exc:
                self._open.pop((model, kind), None)
                raise InvalidInput(f"cannot write {kind} of {model!r} to {self.uri(model, kind)}: {exc}") from None
        version = current.version()  # the open table moves to the commit it wrote
        self._seen.setdefault((model, kind), _Seen()).batches[batch_id] = version
        return Commit(model, kind, batch_id, table.num_rows, version, root, digest, first, last)

    def _write(self, model: str, kind: Kind, current: DeltaTable | None, table: pa.Table, batch_id: str) -> DeltaTable:
        """One append commit through the open table (or creating the table); returns the open table after it."""
        write_deltalake(
            current if current is not None else self.uri(model, kind),
            table,
            mode="append",
            schema_mode="merge",
            storage_options=None if current is not None else self.storage_options,
            commit_properties=CommitProperties(custom_metadata={BATCH_KEY: batch_id}),
        )
        if current is None:  # the first commit created the table
            current = self._open[(model, kind)] = self.table(model, kind)
        return current

    def manifest_uri(self, model: str, kind: Kind, batch_id: str) -> str:
        return f"{self.root}/{model}/_manifests/{kind}/{batch_id}.arrow"

    def _write_manifest(self, model: str, kind: Kind, batch_id: str, manifest: bytes) -> None:
        filesystem, path = fs.FileSystem.from_uri(_local(self.manifest_uri(model, kind, batch_id)))
        filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with filesystem.open_output_stream(path) as out:
            out.write(manifest)

    def read_manifest(self, model: str, kind: Kind, batch_id: str) -> tuple[bytes, pa.Table] | None:
        """A batch's manifest bytes and table (decision_id, row_hash), or None when the file is missing."""
        filesystem, path = fs.FileSystem.from_uri(_local(self.manifest_uri(model, kind, batch_id)))
        try:
            with filesystem.open_input_stream(path) as source:
                data = source.read()
        except FileNotFoundError:
            return None
        try:
            return data, ipc.open_stream(data).read_all()
        except pa.ArrowInvalid:
            return data, pa.table({DECISION_ID: pa.array([], pa.string()), ROW_HASH: pa.array([], pa.binary(32))})

    def _typed(self, model: str, kind: Kind, table: pa.Table) -> pa.Table:
        """Columns with no type (every value None) take the table's type for them, or the lake's fixed one.

        A column with no values and no known type is left out: guessing one (text, say) would let a
        concurrent batch that carries values be merged into that guess, changing what its rows read
        back as. Left out, it reads back as null, and null cells are not part of a row's hash anyway.
        """
        untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
        if not untyped:
            return table
        current = self._current(model, kind)
        known = current.schema().to_arrow() if current is not None else None
        fixed = {f.name: f.type for f in (*DECISION_FIELDS, *OUTCOME_FIELDS)}
        for name in untyped:
            i = table.schema.get_field_index(name)
            kind_of = _arrow_type(known, name) or fixed.get(name)
            if kind_of is None:
                table = table.remove_column(i)
            else:
                table = table.set_column(i, pa.field(name, kind_of), pa.nulls(table.num_rows, kind_of))
        return table

    def committed(self, model: str, kind: Kind, batch_id: str) -> int | None:
        """The table version that committed ``batch_id`` among the recent commits, or None.

        The batch ids of commits already read are remembered per table, so each call reads
        only the commits made since the last one (on the write path, usually none but its own).
        """
        return self._committed(self._current(model, kind), model, kind, batch_id)

    def _committed(self, table: DeltaTable | None, model: str, kind: Kind, batch_id: str) -> int | None:
        if table is None:
            return None
        known = self._seen.setdefault((model, kind), _Seen())
        newest = table.version()
        if newest > known.version:
            for entry in table.history(min(RECENT_COMMITS, newest - known.version)):
                found = entry.get(BATCH_KEY) or (entry.get("userMetadata") or {}).get(BATCH_KEY)
                if found is not None:
                    known.batches.setdefault(str(found), int(entry["version"]))
            known.version = newest
        return known.batches.get(batch_id)

    # --- reading -------------------------------------------------------------------------

    def read(
        self,
        model: str,
        kind: Kind = "decisions",
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        versions: Sequence[int] | None = None,
        alias: str | None = None,
        columns: Sequence[str] | None = None,
        batch_rows: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """A window of rows as a stream of record batches: ``start <= ts < end``, of some versions or an alias."""
        dataset = self.table(model, kind).to_pyarrow_dataset()
        names = set(dataset.schema.names)
        wanted = list(columns) if columns is not None else None
        unknown = sorted(set(wanted or ()) - names)
        if unknown:
            raise InvalidInput(
                f"columns: {', '.join(unknown)} not in the {kind} of {model!r} ({', '.join(sorted(names))})"
            )
        condition = _window(start, end, versions, alias, kind)
        yield from dataset.to_batches(columns=wanted, filter=condition, batch_size=batch_rows)

    def read_table(self, model: str, kind: Kind = "decisions", **window: Any) -> pa.Table:
        batches = list(self.read(model, kind, **window))
        if batches:
            return pa.Table.from_batches(batches)
        return self.table(model, kind).to_pyarrow_dataset().schema.empty_table()

    # --- maintenance ---------------------------------------------------------------------

    def compact(self, model: str, kind: Kind = "decisions") -> dict[str, Any]:
        """Rewrite small files into larger ones (rows unchanged, so row hashes and roots stay valid)."""
        metrics: dict[str, Any] = self.table(model, kind).optimize.compact()
        return metrics

    def delete_before(self, model: str, kind: Kind, before: dt.datetime) -> list[ErasedRow]:
        """Delete the rows with ``ts`` before ``before`` and vacuum their files; returns what was deleted."""
        return self._delete(model, kind, ds.field(TS) < pa.scalar(before, type=pa.timestamp("us", tz="UTC")))

    def erase_subject(self, model: str, subject_id: str) -> list[ErasedRow]:
        """Delete a subject's decisions and their outcomes, and vacuum the files that held them."""
        if not self.exists(model, "decisions"):
            return []
        erased = self._delete(model, "decisions", ds.field(SUBJECT_ID) == subject_id)
        ids = [row.decision_id for row in erased]
        if ids and self.exists(model, "outcomes"):
            erased += self._delete(model, "outcomes", ds.field(DECISION_ID).isin(ids))
        return erased

    def _delete(self, model: str, kind: Kind, condition: ds.Expression) -> list[ErasedRow]:
        table = self.table(model, kind)
        doomed = table.to_pyarrow_dataset().to_table(columns=[DECISION_ID, ROW_HASH, BATCH], filter=condition)
        if doomed.num_rows == 0:
            return []
        ids = doomed.column(DECISION_ID).to_pylist()
        for chunk in range(0, len(ids), 1000):
            table.delete(_sql_in(DECISION_ID, ids[chunk : chunk + 1000]))
        table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True)
        return [
            ErasedRow(kind, decision_id, row_hash, batch_id)
            for decision_id, row_hash, batch_id in zip(
                ids, doomed.column(ROW_HASH).to_pylist(), doomed.column(BATCH).to_pylist(), strict=True
            )
        ]


def _arrow_type(schema: Any, name: str) -> pa.DataType | None:
    """The type of ``name`` in a Delta table's schema, as Arrow; None when it has no such column."""
    if schema is None:
        return None
    arrow = pa.schema(schema)
    index = arrow.get_field_index(name)
    return None if index < 0 else arrow.field(index).type


def _manifest(ids: pa.ChunkedArray | pa.Array, hashes: pa.Array) -> bytes:
    """Arrow IPC stream bytes of (decision_id, row_hash), sorted by decision_id."""
    table = pa.table({DECISION_ID: ids, ROW_HASH: hashes}).sort_by(DECISION_ID)
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _local(uri: str) -> str:
    """pyarrow.fs wants an absolute path or a URI with a scheme."""
    return uri if "://" in uri else str(Path(uri).resolve())


def _window(
    start: dt.datetime | None,
    end: dt.datetime | None,
    versions: Sequence[int] | None,
    alias: str | None,
    kind: Kind,
) -> ds.Expression | None:
    stamp = pa.timestamp("us", tz="UTC")
    parts: list[ds.Expression] = []
    if start is not None:
        parts.append(ds.field(TS) >= pa.scalar(_utc(start, "start"), type=stamp))
    if end is not None:
        parts.append(ds.field(TS) < pa.scalar(_utc(end, "end"), type=stamp))
    if start is not None and end is not None and start >= end:
        raise InvalidInput(f"the window is empty: start {start.isoformat()} is not before end {end.isoformat()}")
    if (versions is not None or alias is not None) and kind != "decisions":
        raise InvalidInput("versions and alias select decisions; outcomes are read by time only")
    if versions is not None:
        parts.append(ds.field("model_version").isin(list(versions)))
    if alias is not None:
        parts.append(ds.field("alias") == alias)
    if not parts:
        return None
    condition = parts[0]
    for part in parts[1:]:
        condition = condition & part
    return condition


def _utc(moment: dt.datetime, what: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} {moment.isoformat()} has no time zone; give a UTC time")
    return moment.astimezone(dt.UTC)


def _sql_in(column: str, values: list[str]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"
