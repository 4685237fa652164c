"""deliver()'s retries and errors against a real HTTP server on 127.0.0.1 (and a port nobody listens on)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from charter.clock import FixedClock
from charter.integrations.notify import Target, backoff_delay, deliver, notifier_for, target_from_dict
from tests.integrations.test_notify_http import SECRET, SENT, Receiver, free_port, notification, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started, stop = start_receiver()
    yield started
    stop()


def test_503_twice_then_200_is_delivered_on_the_third_attempt(receiver: Receiver) -> None:
    receiver.answer(503, (503, {}, b"busy"))
    sleeps: list[float] = []
    clock = FixedClock(SENT)
    target = Target(kind="webhook", name="ops", url=receiver.url, secret=SECRET)
    delivery = deliver(
        notifier_for(target, clock=clock),
        notification(),
        base_delay=2.0,
        max_delay=60.0,
        sleep=sleeps.append,
        clock=clock,
        rng=random.Random(11),
    )
    assert delivery.ok and delivery.attempts == 3 and delivery.error is None
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same signed body each time (clock did not move)
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 2.0 and 0 <= sleeps[1] <= 4.0
    expected = random.Random(11)
    assert sleeps == [backoff_delay(k, base_delay=2.0, max_delay=60.0, rng=expected) for k in (1, 2)]
    assert delivery.to_dict() == {
        "target": "ops",
        "kind": "webhook",
        "event": "incident.triggered",
        "incident_id": "INC-7",
        "ok": True,
        "attempts": 3,
        "error": None,
        "status_code": None,
        "started_at": "2026-03-01T12:00:00.000000Z",
        "finished_at": "2026-03-01T12:00:00.000000Z",
    }


def test_a_400_is_not_retried(receiver: Receiver) -> None:
    receiver.answer((400, {"Content-Type": "application/json"}, b'{"error": "bad\\n payload"}'))
    sleeps: list[float] = []
    target = Target(kind="webhook", name="ops", url=receiver.url)
    delivery = deliver(notifier_for(target), notification(), sleep=sleeps.append)
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 400
    assert delivery.error == f'HTTP 400 from {receiver.url}: {{"error": "bad\\n payload"}}'
    assert sleeps == [] and len(receiver.requests) == 1


def test_429_is_retried_after_the_retry_after_the_receiver_asks(receiver: Receiver) -> None:
    receiver.answer((429, {"Retry-After": "7"}, b"slow down"), (429, {"Retry-After": "600"}, b""))
    sleeps: list[float] = []
    target = Target(kind="slack", name="chat", url=receiver.url)
    delivery = deliver(notifier_for(target), notification(), base_delay=0.5, max_delay=30, sleep=sleeps.append)
    assert delivery.ok and delivery.attempts == 3
    assert sleeps == [7.0, 30.0]  # at least Retry-After, at most max_delay


def test_retries_stop_after_the_attempts_given(receiver: Receiver) -> None:
    receiver.answer(500, 502, 503, 504)
    sleeps: list[float] = []
    target = Target(kind="pagerduty", name="pd", url=receiver.url, routing_key="k")
    delivery = deliver(notifier_for(target), notification(), attempts=4, base_delay=1, max_delay=3, sleep=sleeps.append)
    assert not delivery.ok and delivery.attempts == 4 and delivery.status_code == 504
    assert delivery.error == f"HTTP 504 from {receiver.url} (after 4 attempts)"
    assert len(sleeps) == 3 and all(0 <= s <= bound for s, bound in zip(sleeps, [1, 2, 3], strict=True))


def test_an_unreachable_port_fails_after_every_attempt_with_a_clear_error() -> None:
    port = free_port()
    sleeps: list[float] = []
    target = Target(kind="webhook", name="ops", url=f"http://127.0.0.1:{port}/hook")
    delivery = deliver(notifier_for(target), notification(), attempts=3, sleep=sleeps.append)
    assert not delivery.ok and delivery.attempts == 3 and delivery.status_code is None
    assert delivery.error == f"cannot connect to http://127.0.0.1:{port}: Connection refused (after 3 attempts)"
    assert len(sleeps) == 2


def test_a_receiver_that_does_not_answer_in_time_is_a_retryable_timeout(receiver: Receiver) -> None:
    receiver.delay = 1.0
    target = target_from_dict({"kind": "webhook", "url": receiver.url, "timeout": 0.2}, "t")
    sleeps: list[float] = []
    delivery = deliver(notifier_for(target), notification(), attempts=2, sleep=sleeps.append)
    assert not delivery.ok and delivery.attempts == 2 and len(sleeps) == 1
    assert delivery.error == f"no answer from {receiver.url} within 0.2 s (after 2 attempts)"


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.answer((302, {"Location": receiver.url + "/elsewhere"}, b""))
    delivery = deliver(notifier_for(Target(kind="webhook", name="ops", url=receiver.url)), notification())
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 302
    assert delivery.error == (
        f"HTTP 302 from {receiver.url} (redirects are not followed; point the target at the final URL)"
    )
    assert len(receiver.requests) == 1


def test_delivery_times_come_from_the_clock(receiver: Receiver) -> None:
    class Ticking(FixedClock):
        def now(self) -> datetime:
            return self.advance(timedelta(seconds=1))

    delivery = deliver(
        notifier_for(Target(kind="slack", name="chat", url=receiver.url)), notification(), clock=Ticking(SENT)
    )
    assert delivery.started_at == SENT + timedelta(seconds=1)
    assert delivery.finished_at == SENT + timedelta(seconds=2)
