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


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, where: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``7d``, ``2w`` (or a bare number of seconds) as a positive timedelta."""
    from charter.errors import InvalidInput

    value = str(text).strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS else "s"
    number = value[:-1] if value[-1:] in _UNITS else value
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a duration such as 30s, 15m, 1h, 7d or 2w") from None
    if not seconds > 0 or seconds != seconds:
        raise InvalidInput(f"{where}: the duration {text!r} must be positive")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact form of a duration (``90m`` -> ``90m``, ``3600s`` -> ``1h``)."""
    seconds = int(value.total_seconds())
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{value.total_seconds():g}s"
