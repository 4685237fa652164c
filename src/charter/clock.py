"""Injectable UTC time (DESIGN invariant 6).

Services take a :class:`Clock`; production code uses :class:`SystemClock`,
tests use :class:`FixedClock` and move it forward instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

#: The one text form of a timestamp in Charter's canonical encodings. It is
#: fixed-width, so text order is time order.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start) if start is not None else datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = ensure_utc(when)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone; give it in UTC")
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """``2026-11-22T12:43:51.123456Z`` — the canonical text of a UTC instant (TIMESTAMP_FORMAT)."""
    if value.tzinfo is not UTC:
        value = ensure_utc(value)
    # isoformat is several times faster than strftime and gives the same text here.
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 time; a time without an offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
