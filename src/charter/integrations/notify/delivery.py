"""Deliver one notification with retries: exponential backoff with full jitter; never raises for a failed delivery."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from charter.clock import Clock, SystemClock, format_timestamp
from charter.errors import InvalidInput
from charter.integrations.notify.model import DeliveryError, Notification, Notifier, Target


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one notification to one target, as the incident timeline records it."""

    target: str
    kind: str
    event: str
    incident_id: str
    ok: bool
    attempts: int
    error: str | None
    status_code: int | None
    started_at: datetime
    finished_at: datetime

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "kind": self.kind,
            "event": self.event,
            "incident_id": self.incident_id,
            "ok": self.ok,
            "attempts": self.attempts,
            "error": self.error,
            "status_code": self.status_code,
            "started_at": format_timestamp(self.started_at),
            "finished_at": format_timestamp(self.finished_at),
        }


def backoff_delay(retry: int, *, base_delay: float, max_delay: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, ...): uniform in [0, min(max, base * 2^(retry-1))]."""
    ceiling = min(max_delay, base_delay * 2.0 ** (retry - 1))
    return rng.uniform(0.0, ceiling)


def deliver(
    notifier: Notifier,
    notification: Notification,
    *,
    attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Delivery:
    """Send ``notification`` through ``notifier``, retrying retryable failures up to ``attempts`` tries in all.

    Before retry ``k`` it sleeps a random time in ``[0, min(max_delay, base_delay * 2**(k-1))]``
    ("full jitter"); a receiver's ``Retry-After`` raises that wait, still capped at ``max_delay``.
    A failure that is not retryable (a 4xx other than 429, a refused login) stops at once. Any
    other exception from a notifier is recorded as a failure rather than raised, so one broken
    receiver cannot stop the others.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InvalidInput(f"attempts must be an integer of 1 or more, not {attempts!r}")
    if base_delay < 0 or max_delay < 0:
        raise InvalidInput(f"base_delay and max_delay must not be negative (got {base_delay}, {max_delay})")
    now = (clock or SystemClock()).now
    random_source = rng or random.Random()
    kind, name = describe(notifier)
    started = now()
    error: str | None = None
    status: int | None = None
    made = 0
    for attempt in range(1, attempts + 1):
        made = attempt
        try:
            notifier.send(notification)
        except DeliveryError as exc:
            error, status = exc.message, exc.status
            if not exc.retryable:
                break
            if attempt < attempts:
                wait = backoff_delay(attempt, base_delay=base_delay, max_delay=max_delay, rng=random_source)
                if exc.retry_after is not None:
                    wait = min(max_delay, max(wait, exc.retry_after))
                sleep(wait)
            continue
        except Exception as exc:
            error, status = f"{type(exc).__name__}: {exc}", None
            break
        return Delivery(
            name, kind, notification.event, notification.incident_id, True, attempt, None, None, started, now()
        )
    if error is not None and made > 1:
        error = f"{error} (after {made} attempts)"
    return Delivery(
        name, kind, notification.event, notification.incident_id, False, made, error, status, started, now()
    )


def describe(notifier: Notifier) -> tuple[str, str]:
    """(kind, name) of a notifier: from its ``target`` when it has one, else its class."""
    target = getattr(notifier, "target", None)
    if isinstance(target, Target):
        return target.kind, target.name
    return "custom", type(notifier).__name__
