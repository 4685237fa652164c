"""Decision ids: UUIDv7 text (RFC 9562), made n at a time without a Python loop.

The layout is :mod:`charter.ids`'s: 48 bits of Unix milliseconds, version 7, a 12-bit
sub-millisecond counter (so ids from one process are strictly increasing), the variant
bits and 62 random bits. A batch of n rows reserves n consecutive (millisecond, counter)
stamps at once; a batch larger than the counter's room runs a few milliseconds ahead,
which the RFC allows. The hex text is made with a lookup table over the raw bytes, and
the Arrow column is built straight from those bytes.

A single id (the common case: one prediction per call) is a cached text prefix for the
current millisecond, the counter, and a random tail ("vxxx-xxxxxxxxxxxx", variant bits
set) taken from a pool made 1,024 at a time from ``os.urandom``: about a microsecond,
against four for formatting a 128-bit integer. A forked child drops the pool, so parent
and child never hand out the same tails.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

ID_LENGTH = 36
_RANDOM_MASK = (1 << 62) - 1
_VARIANT = 1 << 63  # the variant bits, 0b10, at the top of the low 64
_POOL = 1024
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)
# Where each character of the text comes from: one of the 32 hex digits, or 32 (a dash).
_LAYOUT = np.array([*range(8), 32, *range(8, 12), 32, *range(12, 16), 32, *range(16, 20), 32, *range(20, 32)])

_lock = threading.Lock()
_last = -1  # (unix_ms << 12) | counter of the last id handed out
_tails: list[str] = []
_prefix: tuple[int, str] = (-1, "")  # (unix_ms, "xxxxxxxx-xxxx-7") for single ids
_rng: random.Random | None = None  # for the counter's start; private, so random.seed() in user code is no matter


def _after_fork_in_child() -> None:
    global _rng, _lock
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork
    _tails.clear()
    _rng = random.Random(os.urandom(16))


def _reserve(n: int) -> int:
    """Reserve ``n`` consecutive stamps; the first. The caller holds ``_lock``."""
    global _last, _rng
    if _rng is None:
        _rng = random.Random(os.urandom(16))
        os.register_at_fork(after_in_child=_after_fork_in_child)
    now = (time.time_ns() // 1_000_000) << 12
    # A new millisecond starts the counter low and random, leaving room to count up.
    start = now | _rng.getrandbits(10) if now > _last else _last + 1
    _last = start + n - 1
    return start


def new_decision_id() -> str:
    """One UUIDv7 as canonical lowercase text."""
    global _prefix
    with _lock:
        stamp = _reserve(1)
        if not _tails:
            _tails.extend(_random_tails(_POOL))
        tail = _tails.pop()
    ms = stamp >> 12
    cached_ms, prefix = _prefix
    if ms != cached_ms:
        prefix = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7"
        _prefix = (ms, prefix)
    return f"{prefix}{stamp & 0xFFF:03x}-{tail}"


def _random_tails(n: int) -> list[str]:
    """``n`` random "vxxx-xxxxxxxxxxxx" texts: the last 64 bits of a UUID, variant 0b10 set."""
    random = np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
    raw = ((random & np.uint64(_RANDOM_MASK)) | np.uint64(_VARIANT)).astype(">u8")
    digits = np.empty((n, 17), dtype=np.uint8)
    hexed = np.take(_HEX, raw.view(np.uint8).reshape(n, 8), axis=0).reshape(n, 16)
    digits[:, :4] = hexed[:, :4]
    digits[:, 4] = ord("-")
    digits[:, 5:] = hexed[:, 4:]
    tails: list[str] = digits.view("S17").ravel().astype("U17").tolist()
    return tails


def new_decision_ids(n: int) -> tuple[list[str], Any]:
    """``n`` UUIDv7s, increasing, as a list of text and as an Arrow string array."""
    if n == 1:
        one = new_decision_id()
        return [one], pa.array([one], type=pa.string())
    text = _id_bytes(n)
    offsets = np.arange(0, ID_LENGTH * (n + 1), ID_LENGTH, dtype=np.int32)
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    strings: list[str] = text.view(f"S{ID_LENGTH}").ravel().astype(f"U{ID_LENGTH}").tolist()
    return strings, array


def _id_bytes(n: int) -> npt.NDArray[np.uint8]:
    """The ids' ASCII text, one row of 36 bytes per id."""
    with _lock:
        start = _reserve(n)
    stamps = np.uint64(start) + np.arange(n, dtype=np.uint64)
    raw = np.empty((n, 2), dtype=">u8")
    raw[:, 0] = ((stamps >> np.uint64(12)) << np.uint64(16)) | np.uint64(0x7000) | (stamps & np.uint64(0xFFF))
    random = np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
    raw[:, 1] = (random & np.uint64(_RANDOM_MASK)) | np.uint64(_VARIANT)
    digits = np.empty((n, 33), dtype=np.uint8)
    digits[:, :32] = np.take(_HEX, raw.view(np.uint8).reshape(n, 16), axis=0).reshape(n, 32)
    digits[:, 32] = ord("-")
    text: npt.NDArray[np.uint8] = np.take(digits, _LAYOUT, axis=1)
    return text
