"""Engines for the control-plane store, built by :func:`make_engine`.

SQLite runs in WAL mode with foreign keys on and ``synchronous=NORMAL`` (a
committed transaction survives a crash of the process; see docs/store.md).
Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so that two writers
never deadlock on a lock upgrade; read transactions start with a plain
``BEGIN`` and see one snapshot.

A guard refuses Core ``INSERT``/``UPDATE``/``DELETE`` statements on governance
tables unless they run inside a ledger unit of work or a migration.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.dml import UpdateBase

from charter.errors import HomeCorrupt, StoreError, StoreUnreachable
from charter.store.schema import GOVERNED_TABLES

#: Execution option set on connections that may write governance tables.
WRITE_OPTION = "charter_write"
UOW_OPTION = "charter_uow"
MIGRATION_OPTION = "charter_migration"

SQLITE_BUSY_TIMEOUT_MS = 60_000
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 4000
POSTGRES_CONNECT_TIMEOUT_S = 5


class GovernanceWriteOutsideUnitOfWork(RuntimeError):
    """A programming error: code wrote a governance table without its ledger entry."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with Charter's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    else:
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
            pool_pre_ping=True,
        )
    event.listen(engine, "before_execute", _guard_governance_writes)
    return engine


def make_durable(engine: Engine) -> None:
    """Force what is committed onto disk now.

    SQLite with ``synchronous=NORMAL`` may lose the last commits on power loss; before a
    signed checkpoint leaves the machine, everything it covers must survive one. PostgreSQL
    commits are durable already.
    """
    if engine.dialect.name != "sqlite":
        return
    with translate_errors(engine.url), engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(FULL)").one()
    if busy:
        raise StoreError(
            f"{make_url(engine.url).database}: SQLite could not write the log to the database file "
            "(another connection kept it busy); what was committed is safe from a crash of Charter "
            "but not yet from a power loss; run the command again"
        )


def redacted(url: str | URL) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: SQLAlchemy's
    # "begin" event below issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Checkpoint the WAL every ~16 MB instead of ~4 MB: fewer fsync pauses on bursts of commits.
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Straight to the driver: this runs for every transaction.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def _guard_governance_writes(
    connection: Connection,
    clauseelement: Any,
    _multiparams: Any,
    _params: Any,
    execution_options: Any,
) -> None:
    if not isinstance(clauseelement, UpdateBase):
        return
    table = getattr(clauseelement, "table", None)
    name = getattr(table, "name", None)
    if name not in GOVERNED_TABLES:
        return
    options = connection.get_execution_options()
    if (
        options.get(UOW_OPTION)
        or options.get(MIGRATION_OPTION)
        or execution_options.get(UOW_OPTION)
        or execution_options.get(MIGRATION_OPTION)
    ):
        return
    raise GovernanceWriteOutsideUnitOfWork(
        f"table {name!r} may only be written inside a ledger unit of work (charter.ledger.uow)"
    )


_SQLITE_NOT_A_DB = re.compile(r"file is not a database|file is encrypted|database disk image is malformed")


def _driver_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    return (DBAPIError, sqlite3.Error, psycopg.Error)


@contextlib.contextmanager
def translate_errors(url: str | URL) -> Iterator[None]:
    """Turn driver errors about reaching or reading the database into Charter errors."""
    try:
        yield
    except _driver_errors() as exc:
        raise describe_database_error(url, exc) from exc


def describe_database_error(url: str | URL, exc: BaseException) -> StoreError | HomeCorrupt:
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).strip()
    first_line = text.splitlines()[0] if text else type(original).__name__
    if isinstance(original, sqlite3.DatabaseError) and _SQLITE_NOT_A_DB.search(text):
        return HomeCorrupt(
            f"{make_url(url).database} is not a usable SQLite database ({first_line}); restore it from a "
            "backup, or move it away and run `charter init`"
        )
    operational = isinstance(exc, OperationalError | sqlite3.OperationalError) or type(original).__name__ in (
        "OperationalError",
        "ConnectionTimeout",
    )
    if operational and _is_connect_failure(text):
        return StoreUnreachable(
            f"cannot connect to {redacted(url)}: {first_line}; "
            "check the database URL (--database-url or CHARTER_DATABASE_URL) and that the server is running"
        )
    return StoreError(f"database error on {redacted(url)}: {first_line}")


def _is_connect_failure(text: str) -> bool:
    lowered = text.lower()
    needles = (
        "connection refused",
        "could not connect",
        "connection failed",
        "timeout expired",
        "could not translate host",
        "name or service not known",
        "does not exist",
        "no password supplied",
        "authentication failed",
        "unable to open database file",
        "server closed the connection",
    )
    return any(needle in lowered for needle in needles)
