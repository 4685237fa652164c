"""MemorySink: every decision once, whatever order batches come in and however often they come again."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.sdk import MemorySink
from charter.sdk.uuids import new_decision_ids

POOL, _ = new_decision_ids(60)  # increasing, as decision ids are


def batch(ids: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"decision_id": pa.array(ids, type=pa.string()), "n": list(range(len(ids)))})


def test_fresh_batches_are_stored_whole_and_a_replay_adds_nothing() -> None:
    sink = MemorySink()
    sink.write_decisions("m", batch(POOL[:10]))
    sink.write_decisions("m", batch(POOL[10:20]))
    sink.write_decisions("m", batch(POOL[:10]))  # a replay
    sink.write_decisions("m", batch(POOL[15:25]))  # half old, half new
    sink.write_decisions("other", batch(POOL[:5]))  # another model's ids are its own
    assert sink.decision_ids("m") == POOL[:25]
    assert sink.decision_ids("other") == POOL[:5]
    assert sink.calls == 5


def test_batches_of_two_loggers_whose_ids_cross_are_each_stored_once() -> None:
    sink = MemorySink()
    first, second = POOL[0:40:2], POOL[1:40:2]  # made in turns by two loggers
    for start in range(0, 20, 5):
        sink.write_decisions("m", batch(first[start : start + 5]))
        sink.write_decisions("m", batch(second[start : start + 5]))
    sink.write_decisions("m", batch(second[5:10]))
    assert sorted(sink.decision_ids("m")) == POOL[:40]


def test_outcomes_are_kept_once_per_decision_and_time() -> None:
    sink = MemorySink()
    outcomes = pa.RecordBatch.from_pydict(
        {
            "decision_id": POOL[:3],
            "ts": pa.array([1, 2, 3], type=pa.timestamp("us", tz="UTC")),
            "label": [1, 0, 1],
        }
    )
    sink.write_outcomes("m", outcomes)
    sink.write_outcomes("m", outcomes)
    assert sink.outcomes("m").num_rows == 3


@given(st.lists(st.tuples(st.integers(0, 59), st.integers(1, 15), st.booleans()), min_size=1, max_size=25))
@settings(max_examples=100, deadline=None)
def test_whatever_is_delivered_again_or_out_of_order_is_stored_once_in_order_of_first_delivery(
    deliveries: list[tuple[int, int, bool]],
) -> None:
    sink = MemorySink()
    first_seen: list[str] = []
    for start, length, backwards in deliveries:
        ids = POOL[start : start + length]
        ids = ids[::-1] if backwards else ids
        sink.write_decisions("m", batch(ids))
        first_seen += [i for i in ids if i not in first_seen]
    assert sink.decision_ids("m") == first_seen
