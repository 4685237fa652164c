"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL alike.

PostgreSQL tests use CHARTER_TEST_DATABASE_URL (default: the local server's
``test`` database) and get a schema of their own. Under CI=true an unreachable
PostgreSQL fails the tests instead of skipping them.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from charter.clock import FixedClock
from charter.config import Settings, load_settings
from charter.store.engine import make_engine
from charter.store.migrate import upgrade

ADMIN_URL = os.environ.get("CHARTER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test").replace(
    "postgresql://", "postgresql+psycopg://"
)
IN_CI = os.environ.get("CI") == "true"


@functools.cache
def _postgres_problem() -> str | None:
    import psycopg

    try:
        psycopg.connect(ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
    except Exception as exc:
        return str(exc).strip().splitlines()[0]
    return None


def require_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true but unreachable at {ADMIN_URL}: {problem}")
    pytest.skip(f"PostgreSQL unreachable at {ADMIN_URL}: {problem}")


def schema_url(schema: str) -> str:
    separator = "&" if "?" in ADMIN_URL else "?"
    return f"{ADMIN_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh, empty PostgreSQL schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:20]}"
    admin = create_engine(ADMIN_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield schema_url(schema)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/charter.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty store."""
    created = make_engine(database_url)
    upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for a home in tmp_path; on PostgreSQL the database is a fresh schema."""
    url = None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return load_settings(env={}, home=tmp_path / "home", database_url=url, actor="user:tester")
