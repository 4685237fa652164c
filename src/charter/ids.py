"""Identifiers: UUIDv7 (RFC 9562), time-ordered and unique across processes.

Python 3.11 has no ``uuid.uuid7``; this is the RFC's layout: 48 bits of Unix
milliseconds, version 7, 12 bits of sub-millisecond counter ("method 1" of
RFC 9562 section 6.2, which keeps ids from one process strictly increasing),
variant bits, and 62 random bits.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_lock = threading.Lock()
_last_ms = -1
_counter = 0


def uuid7(*, unix_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7. ``unix_ms`` pins the timestamp (for tests and backfills)."""
    global _last_ms, _counter
    if unix_ms is not None:
        ms, counter = unix_ms, int.from_bytes(os.urandom(2)) & 0xFFF
    else:
        with _lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms > _last_ms:
                # A new millisecond: start the counter low and random, leaving room to count up.
                _last_ms, _counter = now_ms, int.from_bytes(os.urandom(2)) & 0x3FF
            else:
                # Same millisecond, or the clock stepped back: keep order by counting.
                _counter += 1
                if _counter > 0xFFF:
                    _last_ms, _counter = _last_ms + 1, 0
            ms, counter = _last_ms, _counter
    rand = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new UUIDv7 as canonical lowercase text."""
    return str(uuid7())


def uuid7_time(value: uuid.UUID | str) -> datetime:
    """The creation time encoded in a UUIDv7."""
    parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    if parsed.version != 7:
        raise ValueError(f"{parsed} is not a UUIDv7 (version {parsed.version})")
    return _EPOCH + timedelta(milliseconds=parsed.int >> 80)
