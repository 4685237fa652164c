from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from charter.ids import new_id, uuid7, uuid7_time


def test_uuid7_has_the_rfc_layout() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_ids_from_one_process_are_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


LAST_MS_OF_YEAR_9999 = 253_402_300_799_999  # beyond it the 48-bit field is valid but datetime cannot say it


@given(st.integers(0, LAST_MS_OF_YEAR_9999))
def test_the_time_round_trips(ms: int) -> None:
    value = uuid7(unix_ms=ms)
    assert uuid7_time(value) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def test_new_id_is_canonical_text() -> None:
    text = new_id()
    assert str(uuid.UUID(text)) == text
