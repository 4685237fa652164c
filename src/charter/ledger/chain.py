"""Reading the ledger: the head, filtered entries, checkpoints, and the raw chain."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select

from charter.clock import format_timestamp
from charter.ledger import native
from charter.ledger.native import FastScan
from charter.ledger.uow import Entry
from charter.store.engine import translate_errors
from charter.store.schema import ledger_checkpoints, ledger_entries, ledger_head

#: A ledger row as verification reads it: seq, ts, actor, action, subject, payload, prev_hash, hash.
RawEntry = tuple[int, str, str, str, str, str, str, str]

CHAIN_COLUMNS = "seq, ts, actor, action, subject, payload, prev_hash, hash"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    ts: str
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "head_hash": self.head_hash,
            "ts": self.ts,
            "key_id": self.key_id,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class EntryFilter:
    subject: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Keyset paging: only entries with ``seq`` below / above these (the API's ledger cursor).
    before_seq: int | None = None
    after_seq: int | None = None


def read_head(engine: Engine) -> tuple[int, str]:
    with translate_errors(engine.url), engine.connect() as connection:
        seq, head_hash = connection.execute(
            select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
        ).one()
    return int(seq), str(head_hash)


def _filtered(query: Select[Any], where: EntryFilter) -> Select[Any]:
    c = ledger_entries.c
    if where.subject is not None:
        query = query.where(c.subject == where.subject)
    if where.actor is not None:
        query = query.where(c.actor == where.actor)
    if where.action is not None:
        if where.action.endswith("*"):
            query = query.where(c.action.startswith(where.action[:-1], autoescape=True))
        else:
            query = query.where(c.action == where.action)
    if where.since is not None:
        query = query.where(c.ts >= format_timestamp(where.since))
    if where.until is not None:
        query = query.where(c.ts < format_timestamp(where.until))
    if where.before_seq is not None:
        query = query.where(c.seq < where.before_seq)
    if where.after_seq is not None:
        query = query.where(c.seq > where.after_seq)
    return query


def list_entries(
    engine: Engine, where: EntryFilter = EntryFilter(), *, limit: int | None = 100, newest_first: bool = True
) -> list[Entry]:
    """Entries matching ``where``; ``limit=None`` for all of them."""
    c = ledger_entries.c
    query = _filtered(select(*ledger_entries.columns), where)
    query = query.order_by(c.seq.desc() if newest_first else c.seq)
    if limit is not None:
        query = query.limit(limit)
    with translate_errors(engine.url), engine.connect() as connection:
        return [Entry(**row._mapping) for row in connection.execute(query)]


def list_checkpoints(engine: Engine) -> list[Checkpoint]:
    with translate_errors(engine.url), engine.connect() as connection:
        rows = connection.execute(select(*ledger_checkpoints.columns).order_by(ledger_checkpoints.c.seq))
        return [Checkpoint(*row) for row in rows]


class ChainSnapshot:
    """The head, checkpoints and entries of the ledger as of one moment.

    Verification and export read through this, so an append that lands while they
    run is simply not part of what they see (and cannot look like tampering).
    """

    def __init__(self, raw: Any, dialect_name: str, database_path: str | None = None):
        self._raw = raw
        self._postgres = dialect_name == "postgresql"
        self._database_path = database_path
        self._cursors = 0
        cursor = raw.cursor()
        try:
            if self._postgres:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            else:
                raw.driver_connection.execute("BEGIN")
            cursor.execute("SELECT seq, hash FROM ledger_head WHERE id = 1")
            seq, head_hash = cursor.fetchone()
            self.head: tuple[int, str] = (int(seq), str(head_hash))
            cursor.execute("SELECT seq, head_hash, ts, key_id, signature FROM ledger_checkpoints ORDER BY seq")
            self.checkpoints = [Checkpoint(*row) for row in cursor.fetchall()]
            cursor.execute("SELECT min(seq), max(seq) FROM ledger_entries")
            self._seq_range: tuple[int | None, int | None] = cursor.fetchone()
        finally:
            cursor.close()

    def native_scan(
        self, wanted: set[int], checkpoint_action: str, progress: Callable[[int], None] | None
    ) -> FastScan | None:
        """The fast pass in C on every core, for a SQLite file when the extension is built."""
        if self._database_path is None or not native.available():
            return None
        head_seq = self.head[0]
        low, high = self._seq_range
        if (low is not None and low < 1) or (high or 0) != head_seq:
            return FastScan(clean=False)  # entries outside 1..head: the slow path says which
        return native.scan_sqlite(self._database_path, head_seq, wanted, checkpoint_action, progress)

    def chunks(self, size: int = 50_000) -> Iterator[list[RawEntry]]:
        """The whole chain in seq order, in lists of at most ``size`` rows (plain tuples)."""
        sql = f"SELECT {CHAIN_COLUMNS} FROM ledger_entries ORDER BY seq"
        if self._postgres:
            # A server-side cursor streams the chain instead of loading it whole.
            self._cursors += 1
            cursor = self._raw.driver_connection.cursor(name=f"charter_chain_{self._cursors}")
            cursor.itersize = size
        else:
            cursor = self._raw.cursor()
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()


@contextlib.contextmanager
def chain_snapshot(engine: Engine) -> Iterator[ChainSnapshot]:
    with translate_errors(engine.url):
        raw = engine.raw_connection()
        try:
            path = engine.url.database if engine.dialect.name == "sqlite" else None
            yield ChainSnapshot(raw, engine.dialect.name, path if path and path != ":memory:" else None)
        finally:
            raw.rollback()
            raw.close()
