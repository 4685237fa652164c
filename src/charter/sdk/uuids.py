"""Decision ids: UUIDv7 text (RFC 9562), made n at a time without a Python loop.

The layout is :mod:`charter.ids`'s: 48 bits of Unix milliseconds, version 7, a 12-bit
sub-millisecond counter (so ids from one process are strictly increasing), the variant
bits and 62 random bits. A batch of n rows reserves n consecutive (millisecond, counter)
stamps at once; a batch larger than the counter's room runs a few milliseconds ahead,
which the RFC allows. The stamps of a batch are one ``arange``; its random bits are taken
from a pool of ``os.urandom`` bytes that the decision logger's writer keeps filled
(:func:`keep_tails`; the OS is asked directly when the pool runs short); the hex text comes
from one ``binascii.hexlify`` over the raw bytes, the Python strings from one ``str.split``
over the whole text, and the Arrow column straight from the bytes.

A single id (the common case: one prediction per call) is a cached text prefix for the
current millisecond, the version and counter ("7xxx-", from a table) and a random tail
("vxxx-xxxxxxxxxxxx", variant bits set) from a pool made :data:`TAILS` at a time from one
``os.urandom`` call: well under a microsecond, against four for formatting a 128-bit
integer. The writer tops this pool up too, so callers seldom pay for making tails. A
forked child empties both pools, so parent and child never hand out the same random bits.
"""

from __future__ import annotations

import binascii
import os
import random
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

ID_LENGTH = 36
TAILS = 4096  # random tails made at a time
RANDOM_POOL = 1 << 18  # random bytes kept ready for blocks of ids: 32,768 ids
_RANDOM_MASK = (1 << 62) - 1
_VARIANT = 1 << 63  # the variant bits, 0b10, at the top of the low 64
# The 32 hex digits of an id in five groups, and where the groups go in a line of text
# ("xxxxxxxx-xxxx-7xxx-vxxx-xxxxxxxxxxxx\n"): structured views, so that each group is copied
# for all ids in one NumPy loop.
_GROUPS = ("a", "b", "c", "d", "e")
_DIGITS = np.dtype(
    {"names": _GROUPS, "formats": ["S8", "S4", "S4", "S4", "S12"], "offsets": [0, 8, 12, 16, 20], "itemsize": 32}
)
_TAIL_DIGITS = np.dtype({"names": ["a", "b"], "formats": ["S4", "S12"], "offsets": [0, 4], "itemsize": 16})
_TAIL_LINE = np.dtype(
    {"names": ["a", "dash", "b", "nl"], "formats": ["S4", "S1", "S12", "S1"], "offsets": [0, 4, 5, 17], "itemsize": 18}
)
_RAW = np.dtype([("high", ">u8"), ("low", "<u8")])  # an id's 128 bits, in the order of its text
_LOW_KEEP = 0xFFFF_FFFF_FFFF_FF3F  # all but the top two bits of the first byte
_LOW_VARIANT = 0x80  # which are 0b10
_COUNTERS = [f"7{counter:03x}-" for counter in range(4096)]  # "7xxx-": the version and the counter
_SEPARATORS = (("d1", b"-"), ("d2", b"-"), ("d3", b"-"), ("d4", b"-"), ("nl", b"\n"))
_LINE = np.dtype(
    {
        "names": [*_GROUPS, *(name for name, _ in _SEPARATORS)],
        "formats": ["S8", "S4", "S4", "S4", "S12", "S1", "S1", "S1", "S1", "S1"],
        "offsets": [0, 9, 14, 19, 24, 8, 13, 18, 23, ID_LENGTH],
        "itemsize": ID_LENGTH + 1,
    }
)

_lock = threading.Lock()
_last = -1  # (unix_ms << 12) | counter of the last stamp reserved
_prefix = (-1, "")  # (unix_ms, "xxxxxxxx-xxxx-") of the last single id
_tails: list[str] = []  # random "vxxx-xxxxxxxxxxxx" ends of single ids
_random = bytearray()  # random bytes for blocks of ids, kept ready by the writer
_template = b""  # blank lines of id text (see _blank_lines)
_rng: random.Random | None = None  # for the counter's start; private, so random.seed() in user code is no matter


def _after_fork_in_child() -> None:
    global _rng, _lock
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork
    _tails.clear()
    _random.clear()
    _rng = random.Random(os.urandom(16))


def _start() -> random.Random:
    """The counter's generator, made (and the fork hook registered) before the first stamp or tail."""
    global _rng
    if _rng is None:
        _rng = random.Random(os.urandom(16))
        os.register_at_fork(after_in_child=_after_fork_in_child)
    return _rng


def _reserve(n: int) -> int:
    """Reserve ``n`` consecutive stamps; the first. The caller holds ``_lock``."""
    global _last
    now = (time.time_ns() // 1_000_000) << 12
    # A new millisecond starts the counter low and random, leaving room to count up.
    start = now | (_rng or _start()).getrandbits(10) if now > _last else _last + 1
    _last = start + n - 1
    return start


def new_decision_id(unix_ns: int | None = None) -> str:
    """One UUIDv7 as canonical lowercase text; ``unix_ns``: the time now, if the caller has just read it."""
    global _last, _prefix
    lock = _lock
    lock.acquire()  # not "with": acquire and release cost half as much on this path, called once a decision
    try:
        stamp = ((time.time_ns() if unix_ns is None else unix_ns) // 1_000_000) << 12
        stamp = stamp | (_rng or _start()).getrandbits(10) if stamp > _last else _last + 1
        _last = stamp
        tail = _tails.pop() if _tails else _refill()
        ms = stamp >> 12
        prefix = _prefix
        if prefix[0] != ms:
            prefix = _prefix = (ms, f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-")
    finally:
        lock.release()
    return prefix[1] + _COUNTERS[stamp & 0xFFF] + tail


def _refill() -> str:
    """Refill the pool of random tails; one of them. The caller holds ``_lock``."""
    if _rng is None:
        _start()
    _tails.extend(random_tails(TAILS))
    return _tails.pop()


def keep_tails(at_least: int = TAILS) -> None:
    """Top up the pool of random tails to ``at_least``, and the random bytes for blocks of ids.

    The decision logger's writer calls this between batches, off the callers' threads, so
    that callers of :func:`new_decision_id` and :func:`new_decision_ids` seldom wait for
    the OS's random numbers.
    """
    if _rng is None:  # a forked child must drop the tails: register the hook that does
        _start()
    while len(_tails) < at_least:
        fresh = random_tails(TAILS)
        with _lock:
            _tails.extend(fresh)
    if len(_random) < RANDOM_POOL // 2:
        more = os.urandom(RANDOM_POOL - len(_random))  # the GIL is released while the OS makes them
        with _lock:
            _random.extend(more)


def random_tails(n: int) -> list[str]:
    """``n`` random "vxxx-xxxxxxxxxxxx" texts: the last 64 bits of a UUID, variant 0b10 set."""
    random_bits = np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
    raw = ((random_bits & np.uint64(_RANDOM_MASK)) | np.uint64(_VARIANT)).astype(">u8")
    digits = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype=_TAIL_DIGITS)
    lines = np.empty(n, dtype=_TAIL_LINE)
    lines["a"] = digits["a"]
    lines["b"] = digits["b"]
    lines["dash"] = b"-"
    lines["nl"] = b"\n"
    tails: list[str] = lines.tobytes().decode("ascii").splitlines()
    return tails


def new_decision_ids(n: int) -> tuple[list[str], Any]:
    """``n`` UUIDv7s, increasing, as a list of text and as an Arrow string array."""
    with _lock:
        start = _reserve(n)
        random_bits = _take_random(8 * n)
    text = _text(start, n, random_bits)
    strings = text.decode("ascii").split("\n")
    strings.pop()  # after the last newline
    lines = np.frombuffer(text, dtype=np.uint8).reshape(n, ID_LENGTH + 1)
    return strings, id_array(np.ascontiguousarray(lines[:, :ID_LENGTH]))


def _take_random(size: int) -> bytes:
    """``size`` random bytes, from the pool the writer keeps (:func:`keep_tails`) or, if short, the OS.

    The caller holds ``_lock``.
    """
    if len(_random) < size:
        return os.urandom(size)
    with memoryview(_random) as view:
        taken = bytes(view[len(_random) - size :])
    del _random[len(_random) - size :]
    return taken


def id_array(text: npt.NDArray[np.uint8]) -> pa.StringArray:
    """An Arrow string column over ids' text: an (n, 36) array of ASCII bytes, one id a row."""
    n = len(text)
    offsets = np.arange(0, ID_LENGTH * (n + 1), ID_LENGTH, dtype=np.int32)
    array: pa.StringArray = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return array


def _text(start: int, n: int, random_bits: bytes) -> bytearray:
    """The ASCII text of ``n`` ids from stamp ``start`` on, one line (the id and a newline) each."""
    raw = np.empty(n, dtype=_RAW)
    if (start & 0xFFF) + n <= 0x1000:  # one millisecond: the high halves count up by one
        first = ((start >> 12) << 16) | 0x7000 | (start & 0xFFF)
        raw["high"] = np.arange(first, first + n, dtype=np.uint64)
    else:
        stamps = np.arange(start, start + n, dtype=np.uint64)
        raw["high"] = ((stamps >> np.uint64(12)) << np.uint64(16)) | np.uint64(0x7000) | (stamps & np.uint64(0xFFF))
    # The low half is random but for its first byte's top two bits, the variant: in a
    # little-endian word, the first byte is the lowest.
    words = np.frombuffer(random_bits, dtype="<u8")
    np.bitwise_or(np.bitwise_and(words, np.uint64(_LOW_KEEP)), np.uint64(_LOW_VARIANT), out=raw["low"])
    digits = np.frombuffer(binascii.hexlify(raw.data), dtype=_DIGITS)
    text = _blank_lines(n)
    lines = np.frombuffer(text, dtype=_LINE)
    for group in _GROUPS:
        lines[group] = digits[group]
    return text


def _blank_lines(n: int) -> bytearray:
    """``n`` lines of id text with the dashes and newline in place (a copy of a template's bytes)."""
    global _template
    size = n * (ID_LENGTH + 1)
    if len(_template) < size:
        blank = np.zeros(max(n, TAILS), dtype=_LINE)
        for name, separator in _SEPARATORS:
            blank[name] = separator
        _template = blank.tobytes()
    return bytearray(_template[:size])
