"""The native fast pass (charter._chainscan) is built where tests run, and agrees with Python."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from charter.clock import FixedClock
from charter.ledger import append_many, native
from charter.ledger.chain import chain_snapshot
from tests.conftest import IN_CI


def test_the_extension_is_built_in_ci() -> None:
    if not native.available():
        if IN_CI:
            pytest.fail("charter._chainscan did not build: install libsqlite3-dev and libssl-dev, then reinstall")
        pytest.skip("charter._chainscan is not built here")


@pytest.fixture
def sqlite_engine(tmp_path: object, backend: str, engine: Engine) -> Engine:
    if backend != "sqlite" or not native.available():
        pytest.skip("the native fast pass reads SQLite files")
    return engine


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 7])
def test_ranges_join_into_the_same_answer_as_python(sqlite_engine: Engine, size: int) -> None:
    clock = FixedClock()
    if size:
        append_many(
            sqlite_engine, [("test.appended", f"x:{i}", {"i": i}) for i in range(size)], actor="user:a", clock=clock
        )
    with chain_snapshot(sqlite_engine) as snapshot:
        wanted = {1, size}
        for width in (1, 2, 3, 1000):
            native.RANGE, saved = width, native.RANGE
            try:
                scan = snapshot.native_scan(wanted, "audit.checkpoint", None)
            finally:
                native.RANGE = saved
            assert scan is not None
            assert scan.clean
            assert scan.done == size
            assert scan.last == snapshot.head
            assert set(scan.hash_at) == ({1, size} if size else set())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_missing_database_file_is_a_store_error(sqlite_engine: Engine, tmp_path: object) -> None:
    import sqlite3

    if native._native is None:
        pytest.skip("not built")
    with pytest.raises(sqlite3.OperationalError, match="opening the database"):
        native._native.scan_range("/nonexistent/dir/charter.db", 1, 10, [], "audit.checkpoint")
