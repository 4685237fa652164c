from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.clock import TIMESTAMP_FORMAT, FixedClock, SystemClock, format_timestamp, parse_timestamp

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=7))])


@given(st.datetimes(min_value=datetime(1000, 1, 2), timezones=ZONES))
def test_format_matches_the_documented_format(value: datetime) -> None:
    assert format_timestamp(value) == value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


@given(st.datetimes(timezones=ZONES))
def test_format_is_fixed_width_for_every_year(value: datetime) -> None:
    assert len(format_timestamp(value)) == 27  # years below 1000 are zero-padded, unlike glibc's %Y


@given(st.datetimes(timezones=st.just(UTC)))
def test_text_order_is_time_order_and_parse_round_trips(value: datetime) -> None:
    assert parse_timestamp(format_timestamp(value)) == value
    later = value + timedelta(microseconds=1) if value < datetime(9999, 1, 1, tzinfo=UTC) else value
    assert format_timestamp(value) <= format_timestamp(later)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        format_timestamp(datetime(2026, 1, 1))


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(90)
    assert clock.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    clock.advance(timedelta(days=1))
    assert clock.now().day == 2


def test_the_system_clock_is_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_parse_takes_times_without_an_offset_as_utc() -> None:
    assert parse_timestamp("2026-11-22") == datetime(2026, 11, 22, tzinfo=UTC)
    assert parse_timestamp("2026-11-22T10:00:00+02:00") == datetime(2026, 11, 22, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds", "shown"),
    [("30s", 30, "30s"), ("15m", 900, "15m"), ("90m", 5400, "90m"), ("1h", 3600, "1h"), ("7d", 604800, "1w"),
     ("120", 120, "2m"), ("0.5h", 1800, "30m")],
)  # fmt: skip
def test_durations(text: str, seconds: int, shown: str) -> None:
    from charter.clock import format_duration, parse_duration

    assert parse_duration(text, "window").total_seconds() == seconds
    assert format_duration(parse_duration(text, "window")) == shown


@pytest.mark.parametrize("text", ["soon", "-5m", "0h", "1y", ""])
def test_bad_durations(text: str) -> None:
    from charter.clock import parse_duration
    from charter.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"^window: "):
        parse_duration(text, "window")
