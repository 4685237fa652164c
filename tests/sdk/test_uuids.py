from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.ids import uuid7_time
from charter.sdk import uuids
from charter.sdk.uuids import keep_tails, new_decision_id, new_decision_ids, random_tails


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


def bits(text: str) -> int:
    return uuid.UUID(text).int


@pytest.mark.parametrize("n", [1, 2, 37, 4_097])
def test_version_and_variant_bits_are_set_and_the_random_bits_vary(n: int) -> None:
    texts, _ = new_decision_ids(n)
    singles = [new_decision_id() for _ in range(n)]
    for made in (texts, singles):
        values = [bits(t) for t in made]
        assert all((v >> 76) & 0xF == 0x7 for v in values)  # version 7
        assert all((v >> 62) & 0b11 == 0b10 for v in values)  # variant 0b10 (RFC 9562)
        if n > 1:  # 62 random bits: no two alike, and every bit position takes both values
            randoms = [v & ((1 << 62) - 1) for v in values]
            assert len(set(randoms)) == n
            if n > 100:
                assert all(len({(r >> bit) & 1 for r in randoms}) == 2 for bit in range(62))


def test_an_id_carries_the_time_it_was_given() -> None:
    unix_ns = time.time_ns() + 2_000_000  # 2 ms ahead: the ids that follow keep counting from it
    given_ms = unix_ns // 1_000_000
    made = new_decision_id(unix_ns)
    assert uuid7_time(made) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=given_ms)
    assert new_decision_id() > made  # never behind an id handed out before


def test_random_tails_are_the_last_64_bits_of_a_uuid_with_the_variant_set() -> None:
    tails = random_tails(1_000)
    assert len(set(tails)) == 1_000
    assert all(re.fullmatch(r"[89ab][0-9a-f]{3}-[0-9a-f]{12}", t) for t in tails)


def test_the_writer_tops_up_the_pool_of_tails() -> None:
    keep_tails(5_000)
    assert len(uuids._tails) >= 5_000
    before = len(uuids._tails)
    new_decision_id()
    assert len(uuids._tails) == before - 1


# One step of a stream of id requests: a single id (0) or a block of n ids, from one of 3 threads.
steps = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 300)), min_size=1, max_size=40)


@given(steps)
@settings(max_examples=60, deadline=None)
def test_any_mix_of_single_ids_and_blocks_is_valid_increasing_and_unique(plan: list[tuple[int, int]]) -> None:
    made: list[list[str]] = [[], [], []]
    lock = threading.Lock()
    order: list[str] = []

    def run(thread: int) -> None:
        for who, n in plan:
            if who != thread:
                continue
            if n == 0:
                texts, column = [new_decision_id()], None
            else:
                texts, column = new_decision_ids(n)
                assert column.to_pylist() == texts
            made[thread].extend(texts)
            with lock:
                order.extend(texts)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for mine in made for i in mine]
    assert len(set(everything)) == len(everything)
    assert all(mine == sorted(mine) for mine in made)  # each thread's ids increase
    for text in everything:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_draws_its_own_random_bits() -> None:
    import multiprocessing

    keep_tails()  # both pools full in the parent
    next_tail = uuids._tails[-1]
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()

    def child() -> None:
        pools = (len(uuids._tails), len(uuids._random))
        child_end.send((pools, new_decision_id(), new_decision_ids(3)[0]))

    process = context.Process(target=child)
    process.start()
    assert parent_end.poll(5)
    pools, one, block = parent_end.recv()
    process.join(5)
    assert pools == (0, 0)
    assert one[-17:] != next_tail
    assert next_tail in uuids._tails  # the parent's pool is its own still
    assert len({one, *block}) == 4
