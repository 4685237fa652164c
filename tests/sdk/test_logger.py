"""The logger's promises: bounded queue, declared overflow, spool and replay, durability, no exceptions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from charter.errors import InvalidInput
from charter.sdk import DecisionLogger, MemorySink
from charter.sdk.spool import Spool
from tests.sdk.conftest import MODEL
from tests.sdk.sinks import BlockingSink, CountingSink, DownSink, FailingSink

Make = Callable[..., DecisionLogger]


def spooled_ids(spool_dir: Path) -> list[str]:
    spool = Spool(spool_dir, MODEL)
    ids: list[str] = []
    for path in spool.pending():
        ids.extend(spool.read(path)[1].column("decision_id").to_pylist())
    return ids


def rows(n: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return np.ones((n, 2)), np.zeros(n, dtype=np.int64)


def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


# -- a full queue ------------------------------------------------------------------------


def fill_while_the_sink_hangs(logger: DecisionLogger, sink: BlockingSink) -> list[str]:
    """5 rows held by the writer inside the sink, then 10 queued: the queue (10 rows) is full."""
    ids = logger.log(*rows(5))
    assert sink.entered.wait(2)
    ids += logger.log(*rows(10))
    assert logger.stats.queued == 10
    return ids


def test_drop_counts_what_did_not_fit(make_logger: Make) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, queue_size=10, batch_rows=5, overflow="drop")
    kept = fill_while_the_sink_hangs(logger, sink)
    dropped = logger.log(*rows(3))
    assert len(dropped) == 3
    assert logger.stats.dropped == 3
    sink.release.set()
    assert logger.flush(timeout=5)
    assert sorted(sink.decision_ids(MODEL)) == sorted(kept)


def test_block_waits_for_room(make_logger: Make) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, queue_size=10, batch_rows=5, overflow="block")
    ids = fill_while_the_sink_hangs(logger, sink)
    late: list[str] = []
    caller = threading.Thread(target=lambda: late.extend(logger.log(*rows(3))))
    caller.start()
    caller.join(0.1)
    assert caller.is_alive()  # waiting for room
    sink.release.set()
    caller.join(2)
    assert not caller.is_alive() and len(late) == 3
    assert logger.flush(timeout=5)
    assert sorted(sink.decision_ids(MODEL)) == sorted(ids + late)
    assert logger.stats.dropped == 0


def test_spool_writes_what_does_not_fit_to_disk_and_replays_it(make_logger: Make, spool_dir: Path) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, queue_size=10, batch_rows=5, overflow="spool")
    ids = fill_while_the_sink_hangs(logger, sink)
    late = logger.log(*rows(3))
    assert spooled_ids(spool_dir) == late  # on disk when log() returned
    assert logger.stats.spooled == 3
    sink.release.set()
    assert logger.flush(timeout=5)
    assert sorted(sink.decision_ids(MODEL)) == sorted(ids + late)
    assert spooled_ids(spool_dir) == []
    assert logger.stats.replayed == 3


# -- a failing sink ----------------------------------------------------------------------


def test_a_failing_sink_spools_and_the_spool_is_replayed_after_recovery(make_logger: Make, spool_dir: Path) -> None:
    sink = FailingSink(failures=2)
    logger = make_logger(sink, retry_initial=60)  # only flush() retries early
    ids = logger.log(*rows(100))
    assert not logger.flush(timeout=5)  # failure 1: the batch went to the spool
    assert sorted(spooled_ids(spool_dir)) == sorted(ids)
    more = logger.log(*rows(50))  # the sink is failing: straight to the spool
    assert not logger.flush(timeout=5)  # failure 2, on the retry
    assert len(spooled_ids(spool_dir)) == 150
    assert logger.flush(timeout=5)  # the retry works: everything is replayed
    assert sorted(sink.decision_ids(MODEL)) == sorted(ids + more)
    assert spooled_ids(spool_dir) == []
    stats = logger.stats
    assert (stats.failed, stats.spooled, stats.replayed, stats.written) == (2, 150, 150, 0)
    assert "FailingSink.write_decisions failed (ConnectionError: lake unreachable)" in stats.last_errors[0]


def test_retries_back_off_on_their_own(make_logger: Make) -> None:
    sink = FailingSink(failures=3)
    logger = make_logger(sink, retry_initial=0.005, retry_max=0.02, flush_interval=0.01)
    ids = logger.log(*rows(10))
    assert sink.stored.wait(2)
    wait_for(lambda: logger.stats.replayed == 10)
    assert sink.attempts == 4
    assert sorted(sink.decision_ids(MODEL)) == sorted(ids)


def test_a_write_that_failed_after_storing_is_not_stored_twice(make_logger: Make) -> None:
    sink = FailingSink(failures=1, store_first=True)
    logger = make_logger(sink, retry_initial=60)
    ids = logger.log(*rows(20))
    assert not logger.flush(timeout=5)
    assert logger.flush(timeout=5)
    assert sink.decision_ids(MODEL) == ids  # replayed, and the sink ignored the copy


def test_every_row_is_delivered_once_through_failures(make_logger: Make, spool_dir: Path) -> None:
    down = DownSink()
    first = make_logger(down, retry_initial=60)
    ids = [i for n in (1, 7, 1, 300) for i in first.log(*rows(n))]
    first.log_outcomes(ids[:5], [1, 0, 1, 0, 1])
    assert not first.close(timeout=5)
    counting = CountingSink()
    second = make_logger(counting)  # a new process, say: replays what the first left
    assert second.flush(timeout=5)
    assert counting.delivered == dict.fromkeys(ids, 1)
    assert list(Spool(spool_dir, MODEL).directory.iterdir()) == []


def test_an_unreadable_spool_file_is_set_aside(make_logger: Make, spool_dir: Path) -> None:
    folder = Spool(spool_dir, MODEL).directory
    folder.mkdir(parents=True)
    (folder / "01900000-0000-7000-8000-000000000000-decisions.arrow").write_bytes(b"not arrow")
    logger = make_logger()
    assert logger.flush(timeout=5)
    assert [p.name for p in folder.iterdir()] == ["01900000-0000-7000-8000-000000000000-decisions.arrow.corrupt"]
    assert "cannot be read" in logger.stats.last_errors[-1]


# -- durable calls -----------------------------------------------------------------------


def test_durable_returns_once_the_rows_are_in_the_sink(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink, flush_interval=60)
    ids = logger.log(*rows(3), durable=True)
    assert sink.decision_ids(MODEL) == ids


def test_durable_returns_once_the_rows_are_fsynced_in_the_spool(make_logger: Make, spool_dir: Path) -> None:
    logger = make_logger(DownSink(), flush_interval=60, retry_initial=60)
    ids = logger.log(*rows(3), durable=True)
    assert spooled_ids(spool_dir) == ids
    one = logger.log(np.ones(2), 1, durable=True)
    assert spooled_ids(spool_dir) == ids + one


def test_durable_spools_its_own_rows_when_the_sink_hangs(make_logger: Make, spool_dir: Path) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, durable_timeout=0.05, flush_interval=0.001)
    logger.log(*rows(1))
    assert sink.entered.wait(2)
    ids = logger.log(*rows(4), durable=True)
    assert spooled_ids(spool_dir) == ids
    sink.release.set()
    assert logger.flush(timeout=5)
    assert len(sink.decision_ids(MODEL)) == 5


def test_durable_callers_waiting_together_share_one_write(make_logger: Make, spool_dir: Path) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, flush_interval=60)
    results: list[list[str]] = []
    first = threading.Thread(target=lambda: results.append(logger.log(*rows(1), durable=True)))
    first.start()
    assert sink.entered.wait(2)  # the writer is busy: the next callers queue up
    callers = [threading.Thread(target=lambda: results.append(logger.log(*rows(2), durable=True))) for _ in range(8)]
    for caller in callers:
        caller.start()
    wait_for(lambda: logger.stats.queued == 16)
    calls_before = sink.calls
    sink.release.set()
    for caller in [first, *callers]:
        caller.join(2)
    assert len(results) == 9
    assert sink.calls == calls_before + 2  # the first batch, then all eight durable calls together
    assert sorted(sink.decision_ids(MODEL)) == sorted(i for r in results for i in r)


# -- bad input never raises --------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "predictions", "options", "message"),
    [
        pytest.param(
            np.ones((4, 2)),
            [0, 1, 0, 1],
            {},
            "inputs: 2 columns, but the logger's features name 3 (age, income, debt); "
            "features not recorded for these 4 row(s)",
            id="feature-count",
        ),
        pytest.param(
            np.ones((3, 3)),
            [object(), 1, 2],
            {},
            "predictions: 1 value(s) cannot be stored, e.g. <object object at",
            id="object-prediction",
        ),
        pytest.param(
            np.ones((3, 3)),
            np.array(["yes", np.nan, "no"], dtype=object),
            {},
            "predictions: 1 of 3 value(s) missing (None or NaN) among text values; recorded as null",
            id="nan-in-text",
        ),
        pytest.param(
            np.ones((3, 3)),
            [{"class": 1}, {"class": 0}, {"class": 1}],
            {},
            "predictions: values of type struct<class: int64> cannot be stored",
            id="dict-predictions",
        ),
        pytest.param(
            np.ones((3, 3)),
            [1, 0],
            {},
            "predictions: 2 values for 3 input row(s); predictions not recorded",
            id="length",
        ),
        pytest.param(
            np.ones((3, 3)),
            np.ones((3, 4)),
            {},
            "predictions: an array of shape (3, 4); give one value per row",
            id="2d-predictions",
        ),
        pytest.param(
            np.ones((3, 3)), [1, 0, 1], {"scores": np.ones(5)}, "scores: shape (5,) does not fit 3 row(s)", id="scores"
        ),
        pytest.param(
            np.ones((3, 3)), [1, 0, 1], {"scores": ["high", "low", "low"]}, "scores: not numbers", id="score-text"
        ),
        pytest.param(
            np.ones((3, 3)), [1, 0, 1], {"subject_ids": ["a"]}, "subject_ids: 1 values for 3 row(s)", id="subjects"
        ),
        pytest.param(
            pd.DataFrame({"prediction": [1.0], "ok": [2.0]}),
            [1],
            {},
            "feature: 'prediction' is one of the decision columns",
            id="reserved-name",
        ),
        pytest.param(
            [[1, 2], [3]], [1, 0], {}, "inputs: the rows have different lengths or cannot be read", id="ragged"
        ),
        pytest.param(None, None, {}, "log(): neither readable inputs nor predictions were given", id="nothing"),
    ],
)
def test_bad_input_is_counted_with_a_clear_message_and_never_raises(
    make_logger: Make, inputs: Any, predictions: Any, options: dict[str, Any], message: str
) -> None:
    sink = MemorySink()
    logger = make_logger(sink, features=["age", "income", "debt"] if message.startswith("inputs: 2") else None)
    ids = logger.log(inputs, predictions, **options)
    assert logger.flush(timeout=5)
    stats = logger.stats
    assert stats.errors >= 1
    assert any(message in m for m in stats.last_errors), stats.last_errors
    assert all(m.startswith(f"{MODEL}: ") for m in stats.last_errors)
    assert sorted(sink.decision_ids(MODEL)) == sorted(ids)  # recorded as far as possible


def test_constructor_arguments_are_checked() -> None:
    with pytest.raises(InvalidInput, match="overflow: 'later' is not one of block, drop, spool"):
        DecisionLogger(MemorySink(), model="m", overflow="later")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="features: '_id' starts with '_'"):
        DecisionLogger(MemorySink(), model="m", features=["_id"])


# -- flush, close, fork -------------------------------------------------------------------


def test_flush_gives_up_at_its_timeout(make_logger: Make) -> None:
    sink = BlockingSink()
    logger = make_logger(sink)
    logger.log(*rows(2))
    started = time.monotonic()
    assert not logger.flush(timeout=0.05)
    assert time.monotonic() - started < 1
    sink.release.set()
    assert logger.flush(timeout=5)


def test_close_delivers_stops_and_spools_later_calls(make_logger: Make, spool_dir: Path) -> None:
    sink = MemorySink()
    logger = make_logger(sink, flush_interval=60)
    ids = logger.log(*rows(5))
    assert logger.close()
    assert sink.decision_ids(MODEL) == ids
    assert not logger.running
    late = logger.log(*rows(2))
    assert spooled_ids(spool_dir) == late
    assert "log() after close()" in logger.stats.last_errors[-1]
    assert not logger.close()  # again: nothing more to do, but the late rows wait in the spool


def test_close_with_a_hung_sink_spools_the_queue_and_returns(make_logger: Make, spool_dir: Path) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, batch_rows=5)
    logger.log(*rows(5))
    assert sink.entered.wait(2)
    queued = logger.log(*rows(3))
    assert not logger.close(timeout=0.1)
    assert spooled_ids(spool_dir) == queued
    sink.release.set()


def test_a_forked_child_logs_with_its_own_writer(make_logger: Make) -> None:
    import multiprocessing

    sink = MemorySink()
    logger = make_logger(sink)
    logger.log(*rows(1), durable=True)
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()

    def child() -> None:
        ids = logger.log(*rows(4))
        child_end.send((logger.flush(timeout=5), sink.decision_ids(MODEL)[-4:] == ids))

    process = context.Process(target=child)
    process.start()
    assert parent_end.poll(5)
    assert parent_end.recv() == (True, True)
    process.join(5)
