"""Verification against real tampering in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from charter.clock import FixedClock
from charter.ledger import append, append_many, native
from charter.ledger.chain import chain_snapshot
from charter.ledger.checkpoints import create_checkpoint
from charter.ledger.encoding import entry_hash
from charter.ledger.verify import VerifyReport, verify
from tests.conftest import IN_CI
from tests.helpers import raw_rows, rehash, tamper

ENTRIES = 12


PATHS = [("sqlite", "native"), ("sqlite", "python"), ("postgresql", "python")]


@pytest.fixture(params=PATHS, ids=["sqlite-native", "sqlite-python", "postgresql"])
def path_and_backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def backend(path_and_backend: tuple[str, str]) -> str:
    """Overrides conftest's: the native fast pass exists for SQLite files only."""
    return path_and_backend[0]


@pytest.fixture(autouse=True)
def verify_path(path_and_backend: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Every verification test runs through the C fast pass (SQLite) and the pure-Python one.

    The native pass works in ranges; tiny ranges put range boundaries all through these
    small ledgers, so joins between ranges are checked too.
    """
    path = path_and_backend[1]
    if path == "python":
        monkeypatch.setenv("CHARTER_NATIVE", "0")
    else:
        if not native.available():
            if IN_CI:
                pytest.fail("charter._chainscan is not built: the native fast pass must be tested in CI")
            pytest.skip("charter._chainscan is not built")
        monkeypatch.setattr(native, "RANGE", 3)
    return path


def fill(engine: Engine, clock: FixedClock, count: int = ENTRIES) -> None:
    for i in range(count):
        clock.advance(1)
        append(
            engine,
            actor=f"user:u{i % 3}",
            clock=clock,
            action="model.registered",
            subject=f"model:m{i}",
            payload={"i": i, "owner": "alice"},
        )


def check(engine: Engine, key: Ed25519PrivateKey | None = None) -> VerifyReport:
    with chain_snapshot(engine) as snapshot:
        return verify(snapshot, public_key=key.public_key() if key else None)


def first_problem(engine: Engine) -> tuple[str, int | None, str]:
    """Verify, expect a failure, and give the first problem as (kind, seq, message)."""
    report = check(engine)
    assert report.first is not None, "verification passed but should have failed"
    return report.first.kind, report.first.seq, report.first.message


def test_an_untouched_ledger_verifies(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    report = check(engine)
    assert report.ok, report.problems
    assert (report.entries, report.head_seq) == (ENTRIES, ENTRIES)
    assert report.head_hash == raw_rows(engine)[-1][7]


def test_an_empty_ledger_verifies(engine: Engine) -> None:
    report = check(engine)
    assert report.ok
    assert (report.entries, report.head_seq) == (0, 0)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "user:mallory"),
        ("action", "model.deleted"),
        ("subject", "model:other"),
        ("payload", '{"i":999,"owner":"alice"}'),
        ("ts", "2030-01-01T00:00:00.000000Z"),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
def test_an_edited_field_is_named_as_edited(engine: Engine, clock: FixedClock, column: str, value: str) -> None:
    fill(engine, clock)
    tamper(engine, f"UPDATE ledger_entries SET {column} = :value WHERE seq = 5", value=value)
    assert first_problem(engine) == ("edited", 5, "entry 5 was altered: its content no longer matches its hash")


def test_a_deleted_entry_is_named_as_missing(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    tamper(engine, "DELETE FROM ledger_entries WHERE seq = 7")
    assert first_problem(engine) == ("missing", 7, "entry 7 is missing: the sequence jumps from 6 to 8")


def test_deleting_the_last_entry_is_caught_by_the_head(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    tamper(engine, "DELETE FROM ledger_entries WHERE seq = :seq", seq=ENTRIES)
    kind, seq, message = first_problem(engine)
    assert (kind, seq) == ("missing", ENTRIES)
    assert "the chain stops at seq 11" in message


def test_an_entry_forged_at_the_end_is_named_as_inserted(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    last = raw_rows(engine)[-1]
    forged = rehash((ENTRIES + 1, last[1], "user:mallory", "model.promoted", "model:m1", "{}", last[7], ""))
    tamper(
        engine,
        "INSERT INTO ledger_entries (seq, ts, actor, action, subject, payload, prev_hash, hash) "
        "VALUES (:seq, :ts, :actor, :action, :subject, :payload, :prev, :hash)",
        **dict(zip(("seq", "ts", "actor", "action", "subject", "payload", "prev", "hash"), forged, strict=True)),
    )
    assert first_problem(engine)[:2] == ("inserted", ENTRIES + 1)


def test_an_entry_inserted_in_the_middle_is_named(engine: Engine, clock: FixedClock) -> None:
    """The attacker shifts entries 4.. up by one and puts a well-formed forged entry at 4."""
    fill(engine, clock)
    rows = raw_rows(engine)
    tamper(engine, "UPDATE ledger_entries SET seq = seq + 1000 WHERE seq >= 4")
    tamper(engine, "UPDATE ledger_entries SET seq = seq - 999 WHERE seq >= 1000")
    forged = rehash((4, rows[2][1], "user:mallory", "model.promoted", "model:m1", "{}", rows[2][7], ""))
    tamper(
        engine,
        "INSERT INTO ledger_entries VALUES (:a, :b, :c, :d, :e, :f, :g, :h)",
        **dict(zip("abcdefgh", forged, strict=True)),
    )
    kind, seq, message = first_problem(engine)
    assert (kind, seq) == ("inserted", 4)
    assert "entry 5 holds what was recorded as entry 4" in message


def test_swapped_entries_are_named_as_reordered(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    tamper(engine, "UPDATE ledger_entries SET seq = -1 WHERE seq = 3")
    tamper(engine, "UPDATE ledger_entries SET seq = 3 WHERE seq = 9")
    tamper(engine, "UPDATE ledger_entries SET seq = 9 WHERE seq = -1")
    assert first_problem(engine) == (
        "reordered",
        3,
        "entries were reordered: entry 3 holds what was recorded as entry 9",
    )


def test_an_edited_head_row_is_caught(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    tamper(engine, "UPDATE ledger_head SET hash = :h", h="a" * 64)
    assert first_problem(engine)[:2] == ("head_mismatch", ENTRIES)


def test_checkpoints_verify_with_the_public_key(engine: Engine, clock: FixedClock) -> None:
    key = Ed25519PrivateKey.generate()
    fill(engine, clock, 3)
    create_checkpoint(engine, key, actor="user:a", clock=clock)
    fill(engine, clock, 3)
    report = check(engine, key)
    assert report.ok, report.problems
    assert report.checkpoints == 1


def test_a_fully_rewritten_chain_is_caught_by_an_earlier_checkpoint(engine: Engine, clock: FixedClock) -> None:
    """An attacker who recomputes every hash and the head still cannot forge the signature."""
    key = Ed25519PrivateKey.generate()
    fill(engine, clock, 5)
    checkpoint = create_checkpoint(engine, key, actor="user:a", clock=clock)
    rows = raw_rows(engine)
    prev = rows[0][6]
    for row in rows:
        actor = "user:mallory" if row[0] == 2 else row[2]
        new_hash = entry_hash(row[0], row[1], actor, row[3], row[4], row[5], prev)
        tamper(
            engine,
            "UPDATE ledger_entries SET actor = :actor, prev_hash = :prev, hash = :hash WHERE seq = :seq",
            actor=actor,
            prev=prev,
            hash=new_hash,
            seq=row[0],
        )
        prev = new_hash
    tamper(engine, "UPDATE ledger_head SET hash = :h", h=prev)
    report = check(engine, key)
    assert [p.kind for p in report.problems] == ["checkpoint_mismatch"]
    assert report.problems[0].seq == checkpoint.seq


def test_truncation_below_a_checkpoint_is_caught(engine: Engine, clock: FixedClock) -> None:
    key = Ed25519PrivateKey.generate()
    fill(engine, clock, 5)
    create_checkpoint(engine, key, actor="user:a", clock=clock)  # signs seq 5, records entry 6
    rows = raw_rows(engine)
    tamper(engine, "DELETE FROM ledger_entries WHERE seq >= 4")
    tamper(engine, "UPDATE ledger_head SET seq = 3, hash = :h", h=rows[2][7])
    report = check(engine, key)
    assert [p.kind for p in report.problems] == ["truncated"]
    assert "entries 4-5 are removed" in report.problems[0].message


SIGNER = Ed25519PrivateKey.generate()


@pytest.mark.parametrize(
    ("sql", "verifying_key", "kind"),
    [
        ("UPDATE ledger_checkpoints SET ts = '2020-01-01T00:00:00.000000Z'", SIGNER, "signature_invalid"),
        ("DELETE FROM ledger_checkpoints", SIGNER, "checkpoint_missing"),
        (None, Ed25519PrivateKey.generate(), "unknown_key"),
        (None, None, "unverifiable"),
    ],
    ids=["altered signature", "removed row", "another key", "no public key"],
)
def test_checkpoint_problems_are_named(
    engine: Engine, clock: FixedClock, sql: str | None, verifying_key: Ed25519PrivateKey | None, kind: str
) -> None:
    fill(engine, clock, 3)
    create_checkpoint(engine, SIGNER, actor="user:a", clock=clock)
    if sql is not None:
        tamper(engine, sql)
    report = check(engine, verifying_key)
    assert [p.kind for p in report.problems] == [kind]


def test_verification_reads_one_snapshot(engine: Engine, clock: FixedClock) -> None:
    """An append landing during verification is not part of what it checks."""
    fill(engine, clock, 4)
    with chain_snapshot(engine) as snapshot:
        append_many(engine, [("model.registered", "model:late", {})], actor="user:a", clock=clock)
        report = verify(snapshot, public_key=None)
    assert report.ok, report.problems
    assert report.entries == 4


def test_an_adjacent_swap_is_one_reordering(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock)
    tamper(engine, "UPDATE ledger_entries SET seq = -1 WHERE seq = 4")
    tamper(engine, "UPDATE ledger_entries SET seq = 4 WHERE seq = 5")
    tamper(engine, "UPDATE ledger_entries SET seq = 5 WHERE seq = -1")
    report = check(engine)
    assert [(p.kind, p.seq) for p in report.problems] == [("reordered", 4)]


def test_witness_checkpoints_catch_a_tail_cut_with_its_checkpoint(engine: Engine, clock: FixedClock) -> None:
    """Cutting the tail, the checkpoint row and its chain entry, and moving the head back fools the
    ledger alone; the copy of the checkpoint a witness kept does not agree."""
    fill(engine, clock, 5)
    held = create_checkpoint(engine, SIGNER, actor="user:a", clock=clock)  # signs seq 5, entry 6 records it
    fill(engine, clock, 3)
    rows = raw_rows(engine)
    tamper(engine, "DELETE FROM ledger_entries WHERE seq >= 5")
    tamper(engine, "DELETE FROM ledger_checkpoints")
    tamper(engine, "UPDATE ledger_head SET seq = 4, hash = :h", h=rows[3][7])
    assert check(engine, SIGNER).ok  # the documented limit of a ledger on its own
    with chain_snapshot(engine) as snapshot:
        report = verify(snapshot, public_key=SIGNER.public_key(), held=[held])
    assert [(p.kind, p.seq) for p in report.problems] == [("truncated", 5)]


@pytest.mark.parametrize("seq", range(1, ENTRIES + 1))
def test_the_native_and_python_passes_agree_wherever_the_tampering_is(
    engine: Engine, clock: FixedClock, verify_path: str, seq: int
) -> None:
    fill(engine, clock)
    tamper(engine, "UPDATE ledger_entries SET payload = '{}' WHERE seq = :seq", seq=seq)
    report = check(engine)
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", seq)]


def test_native_results_equal_python_results_on_a_clean_chain(
    engine: Engine, clock: FixedClock, verify_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(engine, clock, 7)
    create_checkpoint(engine, SIGNER, actor="user:a", clock=clock)
    fill(engine, clock, 5)
    create_checkpoint(engine, SIGNER, actor="user:a", clock=clock)
    with chain_snapshot(engine) as snapshot:
        fast = verify(snapshot, public_key=SIGNER.public_key())
    monkeypatch.setenv("CHARTER_NATIVE", "0")
    with chain_snapshot(engine) as snapshot:
        plain = verify(snapshot, public_key=SIGNER.public_key())
    assert fast == plain
    assert fast.ok
    assert fast.checkpoints == 2


def test_a_checkpoint_held_twice_is_checked_once(engine: Engine, clock: FixedClock) -> None:
    fill(engine, clock, 3)
    held = create_checkpoint(engine, SIGNER, actor="user:a", clock=clock)
    with chain_snapshot(engine) as snapshot:
        report = verify(snapshot, public_key=SIGNER.public_key(), held=[held, held])
    assert report.ok
    assert report.checkpoints == 1
