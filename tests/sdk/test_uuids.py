from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from charter.ids import uuid7_time
from charter.sdk.uuids import new_decision_id, new_decision_ids


@pytest.mark.parametrize("n", [1, 2, 1_000, 10_000])
def test_a_block_of_ids_is_uuid7_text_increasing_and_unique(n: int) -> None:
    texts, column = new_decision_ids(n)
    parsed = [uuid.UUID(t) for t in texts]
    assert all(p.version == 7 and p.variant == uuid.RFC_4122 for p in parsed)
    assert [str(p) for p in parsed] == texts
    assert texts == sorted(texts) and len(set(texts)) == n
    assert column.to_pylist() == texts


def test_ids_carry_the_time_they_were_made() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    texts, _ = new_decision_ids(100)
    after = datetime.now(UTC) + timedelta(milliseconds=50)  # a block may run a few ms ahead
    assert before <= uuid7_time(texts[0]) <= uuid7_time(texts[-1]) <= after


def test_single_ids_and_blocks_interleave_in_order_across_threads() -> None:
    made: list[list[str]] = []

    def work() -> None:
        mine: list[str] = []
        for i in range(300):
            if i % 3:
                mine.append(new_decision_id())
            else:
                mine.extend(new_decision_ids(7)[0])
        made.append(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for mine in made for i in mine]
    assert len(set(everything)) == len(everything)
    assert all(mine == sorted(mine) for mine in made)
