"""The unit of work: changes and their ledger entries commit together or not at all."""

from __future__ import annotations

import hashlib
import multiprocessing

import pytest
from sqlalchemy import Engine, func, select

from charter.clock import FixedClock, SystemClock
from charter.errors import LedgerEntryInvalid, StoreError
from charter.ledger import LedgerWriter, append, append_many, unit_of_work
from charter.ledger.chain import chain_snapshot, read_head
from charter.ledger.encoding import SEPARATOR
from charter.ledger.verify import verify
from charter.store.engine import GovernanceWriteOutsideUnitOfWork, make_engine
from charter.store.schema import ledger_checkpoints, ledger_entries
from tests.helpers import raw_rows


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(ledger_entries)).scalar_one())


def test_append_writes_a_linked_entry_with_the_documented_hash(engine: Engine, clock: FixedClock) -> None:
    first = append(
        engine, actor="user:a", clock=clock, action="model.registered", subject="model:m", payload={"b": 1, "a": [1, 2]}
    )
    second = append(engine, actor="user:b", clock=clock, action="model.archived", subject="model:m")
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert first.payload == '{"a":[1,2],"b":1}'
    expected = hashlib.sha256(
        SEPARATOR.join(
            [
                "charter.ledger.v1",
                "1",
                "2026-01-01T00:00:00.000000Z",
                "user:a",
                "model.registered",
                "model:m",
                '{"a":[1,2],"b":1}',
                "0" * 64,
            ]
        ).encode()
    ).hexdigest()
    assert first.hash == expected
    assert read_head(engine) == (2, second.hash)
    assert [row[7] for row in raw_rows(engine)] == [first.hash, second.hash]


def test_a_unit_of_work_commits_changes_and_entries_together(engine: Engine, clock: FixedClock) -> None:
    with unit_of_work(engine, actor="user:a", clock=clock) as uow:
        uow.execute(ledger_checkpoints.insert().values(seq=0, head_hash="0" * 64, ts="t", key_id="k", signature="s"))
        uow.record("test.changed", "thing:1", {"n": 1})
        uow.record("test.changed", "thing:2", {"n": 2})
        assert uow.head[0] == 2
    assert count(engine) == 2
    with chain_snapshot(engine) as snapshot:
        assert snapshot.checkpoints[0].seq == 0


def test_an_error_inside_a_unit_of_work_leaves_nothing(engine: Engine, clock: FixedClock) -> None:
    append(engine, actor="user:a", clock=clock, action="test.first", subject="x")
    head = read_head(engine)
    with pytest.raises(RuntimeError, match="boom"), unit_of_work(engine, actor="user:a", clock=clock) as uow:
        uow.execute(ledger_checkpoints.insert().values(seq=9, head_hash="0" * 64, ts="t", key_id="k", signature="s"))
        uow.record("test.changed", "thing:1")
        raise RuntimeError("boom")
    assert read_head(engine) == head
    assert count(engine) == 1
    with chain_snapshot(engine) as snapshot:
        assert snapshot.checkpoints == []


def test_a_change_without_a_ledger_entry_is_refused(engine: Engine, clock: FixedClock) -> None:
    with (
        pytest.raises(GovernanceWriteOutsideUnitOfWork, match="changed 1 row"),
        unit_of_work(engine, actor="user:a", clock=clock) as uow,
    ):
        uow.execute(ledger_checkpoints.insert().values(seq=1, head_hash="0" * 64, ts="t", key_id="k", signature="s"))
    with chain_snapshot(engine) as snapshot:
        assert snapshot.checkpoints == []


def test_governance_tables_cannot_be_written_outside_a_unit_of_work(engine: Engine) -> None:
    row = {"seq": 1, "head_hash": "0" * 64, "ts": "t", "key_id": "k", "signature": "s"}
    with (
        pytest.raises(GovernanceWriteOutsideUnitOfWork, match="'ledger_checkpoints' may only be written"),
        engine.begin() as connection,
    ):
        connection.execute(ledger_checkpoints.insert().values(row))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "Model Registered"}, "ledger action 'Model Registered' is not valid: use dotted lowercase words"),
        ({"action": "registered"}, "ledger action 'registered' is not valid"),
        ({"actor": ""}, "ledger actor is empty; say who acts (e.g. 'user:alice')"),
        ({"actor": "user:a\x1fb"}, "ledger actor 'user:a\\x1fb' contains a control character"),
        ({"subject": "x" * 501}, "ledger subject is 501 characters long; the limit is 500"),
        ({"payload": {"x": float("nan")}}, "ledger payload.x: nan is not a finite number"),
        ({"payload": {"x": [1, object()]}}, "ledger payload.x[1]: a object cannot be recorded as JSON"),
        ({"payload": {1: "a"}}, "ledger payload: key 1 is not a string"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(
    engine: Engine, clock: FixedClock, kwargs: dict[str, object], message: str
) -> None:
    entry = {"actor": "user:a", "action": "test.ok", "subject": "x", "payload": {}} | kwargs
    with pytest.raises(LedgerEntryInvalid) as caught:
        append_many(
            engine,
            [("test.ok", "x", {}), (entry["action"], entry["subject"], entry["payload"])],  # type: ignore[list-item]
            actor=entry["actor"],  # type: ignore[arg-type]
            clock=clock,
        )
    assert caught.value.code == "ledger.entry_invalid"
    assert str(caught.value).startswith(message)
    assert count(engine) == 0
    assert read_head(engine)[0] == 0


def test_a_writer_appends_on_one_connection_interleaved_with_others(engine: Engine, clock: FixedClock) -> None:
    with LedgerWriter(engine, actor="user:w", clock=clock) as writer:
        first = writer.append("test.appended", "x:1", {"n": 1})
        append(engine, actor="user:a", clock=clock, action="test.appended", subject="x:2")
        third, fourth = writer.append_many([("test.appended", "x:3", None), ("test.appended", "x:4", {"n": 4})])
    assert (first.seq, third.seq, fourth.seq) == (1, 3, 4)
    with chain_snapshot(engine) as snapshot:
        assert verify(snapshot, public_key=None).ok


def test_a_writer_survives_bad_entries_and_broken_connections(engine: Engine, clock: FixedClock) -> None:
    writer = LedgerWriter(engine, actor="user:w", clock=clock)
    writer.append("test.appended", "x:1")
    with pytest.raises(LedgerEntryInvalid):
        writer.append("Not An Action", "x:2")
    writer._raw.driver_connection.close()  # the connection dies under the writer
    with pytest.raises(StoreError):
        writer.append("test.appended", "x:3")
    assert writer.append("test.appended", "x:4").seq == 2  # a fresh connection, nothing half-written
    writer.close()
    writer.close()  # closing twice is harmless
    assert count(engine) == 2


def _append_worker(url: str, worker: int, entries: int) -> None:
    engine = make_engine(url)
    clock = SystemClock()
    if worker % 2:  # half the processes stream through a writer, half take pooled connections
        with LedgerWriter(engine, actor=f"worker:{worker}", clock=clock) as writer:
            for i in range(entries):
                writer.append("test.appended", f"n:{i}")
        engine.dispose()
        return
    for i in range(entries):
        append(
            engine, actor=f"worker:{worker}", clock=clock, action="test.appended", subject=f"n:{i}", payload={"i": i}
        )
    engine.dispose()


@pytest.mark.slow
def test_eight_processes_appending_at_once_leave_a_gapless_valid_chain(database_url: str, engine: Engine) -> None:
    per_process = 40
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_worker, args=(database_url, w, per_process)) for w in range(8)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    with chain_snapshot(engine) as snapshot:
        report = verify(snapshot, public_key=None)
    assert report.ok, report.problems
    assert report.entries == report.head_seq == 8 * per_process
    rows = raw_rows(engine)
    assert [row[0] for row in rows] == list(range(1, 8 * per_process + 1))
    by_worker = {row[2] for row in rows}
    assert by_worker == {f"worker:{w}" for w in range(8)}
