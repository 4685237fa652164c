"""The fast path for single-row calls: the same rows in the sink as the general way, the same promises."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from charter.sdk import DecisionLogger, MemorySink
from charter.sdk.rows import FastPath
from charter.sdk.spool import Spool
from tests.sdk.conftest import MODEL
from tests.sdk.sinks import BlockingSink, CountingSink

Make = Callable[..., DecisionLogger]
ROW = np.array([0.5, -1.25, 3.0])
# Columns that differ between two loggings of the same call: when, and under which id.
VARYING = ("decision_id", "ts")


def taken(inputs: Any, predictions: Any, **options: Any) -> bool:
    """Whether the fast path takes this call (asked on its own, it queues nothing)."""
    fast = FastPath(lambda key, row: True, None, None)
    return fast.take(inputs, predictions, options.get("scores"), options.get("latency_ms")) is not None


CALLS = [
    pytest.param(ROW, 1, {}, id="1-d-row-int"),
    pytest.param(ROW.reshape(1, 3), 0.25, {"latency_ms": 1.5}, id="1xk-float-latency"),
    pytest.param(ROW, True, {"scores": 0.75}, id="bool-score"),
    pytest.param(ROW, "approve", {"scores": np.float32(0.5), "latency_ms": 2}, id="text-np-score-int-latency"),
    pytest.param(ROW.reshape(1, 3), np.array([False]), {"latency_ms": 0.1}, id="model-output-bool"),
    pytest.param(ROW.astype(np.float32), np.array([1.5], dtype=np.float32), {}, id="float32"),
    pytest.param(ROW.astype(">f8"), np.array(["deny"]), {"scores": np.array([0.9])}, id="big-endian-text"),
    pytest.param(np.array([1, 0, 7], dtype=np.int16), np.int64(3), {}, id="int16-np-int"),
    pytest.param(np.array([True, False, True]), np.float64(np.nan), {}, id="bool-features-np-nan"),
    pytest.param(ROW, np.array([np.nan]), {}, id="nan-in-array"),
    pytest.param(ROW, float("nan"), {}, id="nan"),
]


@pytest.mark.parametrize(("inputs", "predictions", "options"), CALLS)
def test_a_row_the_fast_path_takes_is_recorded_as_the_general_way_records_it(
    make_logger: Make, inputs: Any, predictions: Any, options: dict[str, Any]
) -> None:
    assert taken(inputs, predictions, **options)
    tables = []
    for durable in (False, True):  # durable=True goes the general way
        sink = MemorySink()
        logger = make_logger(sink, features=["age", "income", "debt"], version=3, groups=["income"])
        ids = logger.log(inputs, predictions, durable=durable, **options)
        assert logger.flush(timeout=5)
        table = sink.decisions(MODEL)
        assert table.column("decision_id").to_pylist() == ids
        tables.append(table.drop_columns(list(VARYING)))
    fast, general = tables
    assert fast.schema == general.schema
    assert repr(fast.to_pylist()) == repr(general.to_pylist())  # repr: NaN equals NaN


@pytest.mark.parametrize(
    ("inputs", "predictions", "options"),
    [
        pytest.param(np.ones((2, 3)), np.ones(2), {}, id="two-rows"),
        pytest.param(np.ones((1, 1, 3)), 1, {}, id="3-d"),
        pytest.param(np.array([1, "a", None], dtype=object), 1, {}, id="object-row"),
        pytest.param(ROW, np.ones((1, 2)), {}, id="2-d-predictions"),
        pytest.param(ROW, [1], {}, id="list-prediction"),
        pytest.param(ROW, None, {}, id="no-prediction"),
        pytest.param(ROW, 1, {"scores": np.array([[0.2, 0.8]])}, id="class-probabilities"),
        pytest.param(ROW, 1, {"scores": "high"}, id="text-score"),
        pytest.param(ROW, 1, {"latency_ms": "3"}, id="text-latency"),
    ],
)
def test_other_calls_go_the_general_way(inputs: Any, predictions: Any, options: dict[str, Any]) -> None:
    assert not taken(inputs, predictions, **options)


def test_a_row_of_the_wrong_width_goes_the_general_way_and_is_reported(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink, features=["age", "income"])
    ids = logger.log(ROW, 1)
    assert logger.flush(timeout=5)
    assert sink.decision_ids(MODEL) == ids
    assert "inputs: 3 columns, but the logger's features name 2" in logger.stats.last_errors[-1]


def test_rows_of_different_shapes_and_batches_keep_their_order(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink, batch_rows=4, flush_interval=60)
    ids: list[str] = []
    for i in range(30):
        if i % 7 == 3:
            ids += logger.log(np.ones((3, 3)), np.zeros(3))  # a batch, between single rows
        elif i % 5 == 0:
            ids += logger.log(ROW.astype(np.float32), 1.5)  # another key
        else:
            ids += logger.log(ROW, i, scores=0.5 if i % 2 else None)
    assert logger.flush(timeout=5)
    assert sink.decision_ids(MODEL) == ids
    stats = logger.stats
    assert stats.enqueued == stats.written == len(ids)


def test_gathered_rows_go_out_in_batches_of_at_most_batch_rows(make_logger: Make) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, batch_rows=5, flush_interval=0.01)
    ids = logger.log(ROW, 0)
    assert sink.entered.wait(2)  # the writer holds the first row: the next twelve wait together
    ids += [i for n in range(12) for i in logger.log(ROW, n)]
    assert logger.stats.queued == 12
    sink.release.set()
    assert logger.flush(timeout=5)
    assert sink.decision_ids(MODEL) == ids
    assert sink.calls == 4  # 1, then 5, 5 and 2


def test_many_threads_logging_rows_lose_nothing_and_duplicate_nothing(make_logger: Make) -> None:
    sink = CountingSink()
    logger = make_logger(sink, batch_rows=64, queue_size=200)
    made: list[list[str]] = [[] for _ in range(6)]

    def work(mine: list[str]) -> None:
        for n in range(500):
            mine += logger.log(ROW, n, latency_ms=0.1)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert logger.flush(timeout=10)
    every = [i for mine in made for i in mine]
    assert len(every) == 3_000
    assert sink.delivered == dict.fromkeys(every, 1)
    assert all(mine == sorted(mine) for mine in made)
    assert logger.stats.enqueued == 3_000


# -- the queue's promises hold for single rows --------------------------------------------


def hold_the_writer(logger: DecisionLogger, sink: BlockingSink, queued: int) -> list[str]:
    ids = logger.log(ROW, -1)
    assert sink.entered.wait(2)
    ids += [i for n in range(queued) for i in logger.log(ROW, n)]
    assert logger.stats.queued == queued
    return ids


def test_drop_counts_single_rows_that_do_not_fit(make_logger: Make) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, queue_size=4, overflow="drop")
    kept = hold_the_writer(logger, sink, 4)
    dropped = [logger.log(ROW, n) for n in range(3)]
    assert all(len(ids) == 1 for ids in dropped)
    assert logger.stats.dropped == 3 and logger.stats.queued == 4
    sink.release.set()
    assert logger.flush(timeout=5)
    assert sink.decision_ids(MODEL) == kept


def test_block_waits_for_room_for_a_single_row(make_logger: Make) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, queue_size=4, overflow="block")
    ids = hold_the_writer(logger, sink, 4)
    late: list[str] = []
    caller = threading.Thread(target=lambda: late.extend(logger.log(ROW, 9)))
    caller.start()
    caller.join(0.1)
    assert caller.is_alive()
    sink.release.set()
    caller.join(2)
    assert not caller.is_alive()
    assert logger.flush(timeout=5)
    assert sink.decision_ids(MODEL) == ids + late


def test_spool_writes_a_single_row_that_does_not_fit_to_disk(make_logger: Make, spool_dir: Path) -> None:
    sink = BlockingSink()
    logger = make_logger(sink, queue_size=4, overflow="spool")
    ids = hold_the_writer(logger, sink, 4)
    late = logger.log(ROW, 9)
    spool = Spool(spool_dir, MODEL)
    assert [spool.read(p)[1].column("decision_id").to_pylist() for p in spool.pending()] == [late]
    sink.release.set()
    assert logger.flush(timeout=5)
    assert sorted(sink.decision_ids(MODEL)) == sorted(ids + late)


def test_close_spools_gathered_rows_it_could_not_deliver(make_logger: Make, spool_dir: Path) -> None:
    sink = BlockingSink()
    logger = make_logger(sink)
    hold_the_writer(logger, sink, 3)
    assert not logger.close(timeout=0.1)
    spool = Spool(spool_dir, MODEL)
    (path,) = spool.pending()
    kind, batch = spool.read(path)
    assert kind == "decisions" and batch.num_rows == 3
    assert batch.column("prediction").to_pylist() == [0, 1, 2]
    sink.release.set()
