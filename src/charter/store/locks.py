"""Named locks shared by every process that uses one store.

A server's workers (``charter serve --workers N``), or several servers on one PostgreSQL, each
keep their own in-memory state; where a step must not interleave across them (the decision
ingest's "drop the ids already committed, write, anchor" of one model), they take a lock of the
store:

- on PostgreSQL, a session-level advisory lock (``pg_advisory_lock``) on a dedicated connection,
  keyed by a 64-bit digest of the name: it holds across machines;
- on SQLite, an exclusive ``flock`` on a file beside the database (``<db>.locks/<digest>``): the
  processes sharing a SQLite file share its machine. An in-memory database has one process,
  so a lock of the process stands in.

A lock is held until the ``with`` block ends, or its process dies (the kernel, or PostgreSQL when
the session ends, releases it), so a crashed worker never leaves it taken.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"charter:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def store_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` of the store behind ``engine`` for the block (see the module docstring)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _key(name)})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(name)})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with _LOCAL_GUARD:
            lock = _LOCAL.setdefault(name, threading.Lock())
        with lock:
            yield
        return
    import fcntl

    folder = Path(database).with_name(Path(database).name + ".locks")
    folder.mkdir(exist_ok=True)
    descriptor = os.open(folder / f"{_key(name) & 0xFFFFFFFFFFFFFFFF:016x}", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # one open file each: it excludes other threads too
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
