"""The unit of work: governance changes and their ledger entries in one transaction.

DESIGN invariant 1 — no change without its audit entry — rests on this module::

    with unit_of_work(engine, actor="user:alice", clock=clock) as uow:
        uow.execute(models.insert().values(...))
        uow.record("model.registered", "model:credit-risk", {"owner": "alice"})

The transaction starts by locking the ledger head (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), so appends from any number of
processes are serialised and sequence numbers have no gaps. A unit of work that
changed rows but recorded no entry refuses to commit.

:func:`append` writes entries that accompany no other change (the home's first
entry, migrations, and later lake commit anchors) through the same lock and statements
on a bare pooled connection, which is several times cheaper.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from charter.clock import Clock, format_timestamp
from charter.errors import CharterError
from charter.ledger.encoding import canonical_json, entry_hash, validate_fields
from charter.store.engine import (
    UOW_OPTION,
    WRITE_OPTION,
    GovernanceWriteOutsideUnitOfWork,
    translate_errors,
)
from charter.store.schema import ledger_entries, ledger_head


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    payload: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


# Appends are a hot path: SQLAlchemy's per-execution work costs more than the
# statements themselves, so these three are compiled once per dialect and run on
# the DBAPI cursor of the transaction's own connection.
_LOCK_HEAD = select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1).with_for_update()
_ENTRY_COLUMNS = ("seq", "ts", "actor", "action", "subject", "payload", "prev_hash", "hash")
_INSERT_ENTRY = ledger_entries.insert().values({name: bindparam(name) for name in _ENTRY_COLUMNS})
_MOVE_HEAD = (
    update(ledger_head).where(ledger_head.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


class _Compiled:
    """A Core statement compiled for one dialect, with its parameters in bind order."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self.names: tuple[str, ...] | None = tuple(compiled.positiontup or ()) if dialect.positional else None

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        merged = {**self.defaults, **values}
        return merged if self.names is None else tuple(merged[name] for name in self.names)


@functools.cache
def _statements(dialect_name: str, dialect: Dialect) -> tuple[_Compiled, _Compiled, _Compiled]:
    return _Compiled(_LOCK_HEAD, dialect), _Compiled(_INSERT_ENTRY, dialect), _Compiled(_MOVE_HEAD, dialect)


class _Chain:
    """Entries built on a locked head, written by :meth:`write` before commit."""

    def __init__(self, cursor: Any, dialect: Dialect, *, actor: str, clock: Clock):
        self._cursor = cursor
        self.actor = actor
        self._clock = clock
        self._lock, self._insert, self._move = _statements(dialect.name, dialect)
        cursor.execute(self._lock.sql, self._lock.params({}))
        seq, head_hash = cursor.fetchone()
        self.head_seq, self.head_hash = int(seq), str(head_hash)
        self.pending: list[Entry] = []

    def record(self, action: str, subject: str, payload: Mapping[str, Any] | None, actor: str | None) -> Entry:
        who = self.actor if actor is None else actor
        validate_fields(who, action, subject)
        body = canonical_json(payload or {})
        seq = self.head_seq + 1
        ts = format_timestamp(self._clock.now())
        digest = entry_hash(seq, ts, who, action, subject, body, self.head_hash)
        entry = Entry(seq, ts, who, action, subject, body, self.head_hash, digest)
        self.pending.append(entry)
        self.head_seq, self.head_hash = seq, digest
        return entry

    def write(self) -> None:
        if not self.pending:
            return
        rows = (
            [self._insert.params(vars(e)) for e in self.pending]
            if self._insert.names is None
            else [tuple(map(vars(e).__getitem__, self._insert.names)) for e in self.pending]
        )
        if len(rows) == 1:
            self._cursor.execute(self._insert.sql, rows[0])
        else:
            self._cursor.executemany(self._insert.sql, rows)
        self._cursor.execute(self._move.sql, self._move.params({"new_seq": self.head_seq, "new_hash": self.head_hash}))


class UnitOfWork:
    """One open write transaction. Use :func:`unit_of_work` to get one."""

    def __init__(self, connection: Connection, chain: _Chain):
        self.connection = connection
        self._chain = chain
        self._rows_changed = 0

    @property
    def actor(self) -> str:
        return self._chain.actor

    @property
    def clock(self) -> Clock:
        return self._chain._clock

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._chain.pending)

    @property
    def head(self) -> tuple[int, str]:
        """Sequence number and hash of the last entry, counting those recorded here."""
        return self._chain.head_seq, self._chain.head_hash

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        """Run a statement in this transaction; row changes are counted."""
        result = self.connection.execute(statement, parameters)
        if isinstance(statement, UpdateBase):
            self._rows_changed += max(result.rowcount, 1)
        return result

    def record(
        self,
        action: str,
        subject: str,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> Entry:
        """Add a ledger entry; it is written when the unit of work commits."""
        return self._chain.record(action, subject, payload, actor)

    def _finish(self) -> None:
        if self._rows_changed and not self._chain.pending:
            raise GovernanceWriteOutsideUnitOfWork(
                f"a unit of work changed {self._rows_changed} row(s) but recorded no ledger entry"
            )
        self._chain.write()


@contextlib.contextmanager
def unit_of_work(engine: Engine, *, actor: str, clock: Clock) -> Iterator[UnitOfWork]:
    """Open a write transaction that holds the ledger lock until it commits or rolls back."""
    with translate_errors(engine.url), engine.connect() as raw:
        connection = raw.execution_options(**{WRITE_OPTION: True, UOW_OPTION: True})
        with connection.begin():
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                uow = UnitOfWork(connection, _Chain(cursor, connection.dialect, actor=actor, clock=clock))
                yield uow
                uow._finish()
            finally:
                cursor.close()


EntrySpec = tuple[str, str, Mapping[str, Any] | None]


def _append_on(raw: Any, dialect: Dialect, specs: Iterable[EntrySpec], actor: str, clock: Clock) -> list[Entry]:
    """Append ``specs`` in one transaction on a DBAPI connection (pooled or held by a writer)."""
    try:
        if dialect.name == "sqlite":
            raw.driver_connection.execute("BEGIN IMMEDIATE")
        cursor = raw.cursor()
        try:
            chain = _Chain(cursor, dialect, actor=actor, clock=clock)
            for action, subject, payload in specs:
                chain.record(action, subject, payload, None)
            chain.write()
        finally:
            cursor.close()
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    return chain.pending


def append_many(engine: Engine, specs: Iterable[EntrySpec], *, actor: str, clock: Clock) -> list[Entry]:
    """Append entries ``(action, subject, payload)`` that accompany no other change, in one transaction."""
    with translate_errors(engine.url):
        raw = engine.raw_connection()
        try:
            return _append_on(raw, engine.dialect, specs, actor, clock)
        finally:
            raw.close()


def append(
    engine: Engine,
    *,
    actor: str,
    clock: Clock,
    action: str,
    subject: str,
    payload: Mapping[str, Any] | None = None,
) -> Entry:
    """Append one entry that accompanies no other change."""
    return append_many(engine, [(action, subject, payload)], actor=actor, clock=clock)[0]


class LedgerWriter:
    """Appends over one connection it keeps, for a caller that appends in a stream.

    Taking a connection from the pool and giving it back costs about as much as the
    statements of an append; a writer pays it once. One writer per thread; close it
    (or use it as a context manager) when done. After a database error the writer
    drops its connection and takes a new one on the next append.
    """

    def __init__(self, engine: Engine, *, actor: str, clock: Clock):
        self._engine = engine
        self.actor = actor
        self._clock = clock
        self._raw: Any = None

    def append_many(self, specs: Iterable[EntrySpec]) -> list[Entry]:
        with translate_errors(self._engine.url):
            if self._raw is None:
                self._raw = self._engine.raw_connection()
            try:
                return _append_on(self._raw, self._engine.dialect, specs, self.actor, self._clock)
            except Exception as exc:
                if not isinstance(exc, CharterError):
                    self.close()  # the connection may be broken: start afresh next time
                raise

    def append(self, action: str, subject: str, payload: Mapping[str, Any] | None = None) -> Entry:
        return self.append_many([(action, subject, payload)])[0]

    def close(self) -> None:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            with contextlib.suppress(Exception):
                raw.close()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
