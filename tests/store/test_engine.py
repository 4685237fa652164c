"""Engine settings and how database failures reach the user."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from charter.errors import HomeCorrupt, StoreUnreachable
from charter.store.engine import make_engine, redacted
from charter.store.migrate import check_schema


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    engine.dispose()


def test_an_unreachable_postgresql_names_the_url_without_its_password() -> None:
    url = "postgresql+psycopg://charter:s3cret@127.0.0.1:1/charter"
    engine = make_engine(url)
    with pytest.raises(StoreUnreachable) as caught:
        check_schema(engine)
    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql+psycopg://charter:***@127.0.0.1:1/charter: ")
    assert message.endswith(
        "check the database URL (--database-url or CHARTER_DATABASE_URL) and that the server is running"
    )
    assert "s3cret" not in message
    assert caught.value.code == "store.unreachable"


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "charter.db"
    path.write_bytes(b"this is not a database" * 200)
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(HomeCorrupt) as caught:
        check_schema(engine)
    assert str(caught.value) == (
        f"{path} is not a usable SQLite database (file is not a database); restore it from a backup, "
        "or move it away and run `charter init`"
    )
    assert path.read_bytes() == b"this is not a database" * 200


def test_redacted_hides_passwords() -> None:
    assert redacted("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"


def test_read_transactions_do_not_block_writers(engine: Engine) -> None:
    """A long read (verification) must not stop appends: readers take no write lock."""
    from charter.clock import FixedClock
    from charter.ledger import append

    with engine.connect() as reader:
        reader.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one()
        append(engine, actor="user:a", clock=FixedClock(), action="test.appended", subject="x")
