"""Property tests: a chain verifies; any single tampering fails verification and names the place."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from charter.ledger import native
from charter.ledger.chain import RawEntry, chain_snapshot
from charter.ledger.verify import verify
from charter.store.engine import make_engine
from charter.store.migrate import upgrade
from tests.conftest import ADMIN_URL, IN_CI, require_postgres, schema_url
from tests.helpers import ListSource, build_chain, rehash

CHAIN_LENGTHS = st.integers(1, 25)
TEXT_COLUMNS = {1: "ts", 2: "actor", 3: "action", 4: "subject", 5: "payload", 6: "prev_hash", 7: "hash"}


@dataclass(frozen=True)
class Tampering:
    description: str
    rows: list[RawEntry]
    place: int
    kinds: frozenset[str]


@st.composite
def tamperings(draw: st.DrawFn, chain_length: st.SearchStrategy[int] = CHAIN_LENGTHS) -> tuple[int, Tampering]:
    """A chain length and one tampering of a chain of that length."""
    n = draw(chain_length)
    rows = build_chain(n)
    kind = draw(st.sampled_from(["edit", "delete", "insert", "swap", "append", "renumber"]))
    i = draw(st.integers(1, n))
    if kind == "edit":
        column = draw(st.sampled_from(sorted(TEXT_COLUMNS)))
        old = rows[i - 1][column]
        if column in (6, 7):
            value = draw(st.text("0123456789abcdef", min_size=64, max_size=64).filter(lambda v: v != old))
        else:
            # No NUL: PostgreSQL text cannot hold it, so that edit could not be made in a real store.
            value = draw(
                st.text(
                    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=30
                ).filter(lambda v: v != old)
            )
        changed = list(rows[i - 1])
        changed[column] = value
        rows[i - 1] = tuple(changed)  # type: ignore[assignment]
        return n, Tampering(f"edit {TEXT_COLUMNS[column]} of {i}", rows, i, frozenset({"edited"}))
    if kind == "delete":
        del rows[i - 1]
        return n, Tampering(f"delete {i}", rows, i, frozenset({"missing"}))
    if kind == "renumber":
        # Move entry i to a sequence number past the end: a gap at i and an extra entry.
        moved = (n + 100, *rows[i - 1][1:])
        del rows[i - 1]
        rows.append(moved)  # type: ignore[arg-type]
        return n, Tampering(f"renumber {i}", rows, i, frozenset({"missing", "inserted"}))
    if kind == "append":
        forged = rehash((n + 1, rows[-1][1], "user:mallory", "model.promoted", "model:x", "{}", rows[-1][7], ""))
        rows.append(forged)
        return n, Tampering("append forged", rows, n + 1, frozenset({"inserted"}))
    if kind == "insert":
        prev = rows[i - 2][7] if i > 1 else "0" * 64
        forged = rehash((i, rows[i - 1][1], "user:mallory", "model.promoted", "model:x", "{}", prev, ""))
        shifted = [(row[0] + 1, *row[1:]) for row in rows[i - 1 :]]
        rows = [*rows[: i - 1], forged, *shifted]  # type: ignore[list-item]
        return n, Tampering(f"insert at {i}", rows, i, frozenset({"inserted"}))
    # swap the contents of entries i and j, keeping their sequence numbers
    j = draw(st.integers(1, n).filter(lambda j: j != i)) if n > 1 else i
    if j == i:
        del rows[i - 1]
        return n, Tampering(f"delete {i}", rows, i, frozenset({"missing"}))
    a, b = sorted((i, j))
    ra, rb = rows[a - 1], rows[b - 1]
    rows[a - 1], rows[b - 1] = (a, *rb[1:]), (b, *ra[1:])  # type: ignore[assignment]
    return n, Tampering(f"swap {a} and {b}", rows, a, frozenset({"reordered"}))


def _check(rows: list[RawEntry], head: tuple[int, str], tampering: Tampering) -> None:
    report = verify(ListSource(rows, head), public_key=None)
    assert not report.ok, tampering.description
    first = report.problems[0]
    assert first.seq == tampering.place, (tampering.description, report.problems)
    assert first.kind in tampering.kinds, (tampering.description, report.problems)


@given(st.integers(0, 60))
def test_an_untouched_chain_verifies(n: int) -> None:
    rows = build_chain(n)
    head = (n, rows[-1][7]) if rows else (0, "0" * 64)
    for size in (1, 7, 50_000):  # chunk boundaries must not matter
        report = verify(ListSource(rows, head), public_key=None, chunk_size=size)
        assert report.ok, report.problems
        assert report.entries == n


@settings(max_examples=400)
@given(tamperings())
def test_any_single_tampering_is_found_and_placed(case: tuple[int, Tampering]) -> None:
    n, tampering = case
    original = build_chain(n)
    _check(tampering.rows, (n, original[-1][7]), tampering)


def _rewrite(url: str, rows: list[RawEntry]) -> None:
    """Replace the stored entries with ``rows`` using plain SQL, leaving the head row as it was."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM ledger_entries"))
        if not rows:
            return
        connection.execute(
            text("INSERT INTO ledger_entries VALUES (:a, :b, :c, :d, :e, :f, :g, :h)"),
            [dict(zip("abcdefgh", row, strict=True)) for row in rows],
        )
    engine.dispose()


def _tamper_in_database(url: str, case: tuple[int, Tampering]) -> None:
    """Store a valid chain, check it verifies, apply the tampering with plain SQL, check it is caught."""
    n, tampering = case
    original = build_chain(n)
    engine = make_engine(url)
    try:
        upgrade(engine)
        _rewrite(url, original)
        plain = create_engine(url)
        with plain.begin() as connection:
            connection.execute(
                text("UPDATE ledger_head SET seq = :seq, hash = :hash"), {"seq": n, "hash": original[-1][7]}
            )
        plain.dispose()
        with chain_snapshot(engine) as snapshot:
            assert verify(snapshot, public_key=None).ok
        _rewrite(url, tampering.rows)
        with chain_snapshot(engine) as snapshot:
            report = verify(snapshot, public_key=None)
        assert not report.ok, tampering.description
        assert report.problems[0].seq == tampering.place, (tampering.description, report.problems)
        assert report.problems[0].kind in tampering.kinds, (tampering.description, report.problems)
    finally:
        engine.dispose()


@pytest.mark.parametrize("fast_pass", ["native", "python"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=tamperings(st.integers(1, 12)))
def test_tampering_in_a_sqlite_database_is_found(
    tmp_path_factory: pytest.TempPathFactory, fast_pass: str, case: tuple[int, Tampering]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "charter.db"
    if fast_pass == "native" and not native.available():
        if IN_CI:
            pytest.fail("charter._chainscan is not built")
        pytest.skip("charter._chainscan is not built")
    saved_env = os.environ.get("CHARTER_NATIVE")
    saved_range = native.RANGE
    os.environ["CHARTER_NATIVE"] = "1" if fast_pass == "native" else "0"
    native.RANGE = 2  # range boundaries all through these small chains
    try:
        _tamper_in_database(f"sqlite:///{path}", case)
    finally:
        native.RANGE = saved_range
        if saved_env is None:
            os.environ.pop("CHARTER_NATIVE", None)
        else:
            os.environ["CHARTER_NATIVE"] = saved_env


@settings(max_examples=15, deadline=None)
@given(case=tamperings(st.integers(1, 8)))
def test_tampering_in_a_postgresql_database_is_found(case: tuple[int, Tampering]) -> None:
    require_postgres()
    schema = f"p_{uuid.uuid4().hex[:20]}"
    admin = create_engine(ADMIN_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        _tamper_in_database(schema_url(schema), case)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
