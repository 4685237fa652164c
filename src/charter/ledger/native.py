"""The native fast pass of verification for SQLite ledgers, on every core.

``charter._chainscan`` (C, optional at install) checks ranges of entries with the GIL
released; this module splits the chain into ranges, runs them on threads and joins
the results. It answers only "is the chain clean, and what are its last entry, the
hashes at the checkpoints and the recorded checkpoints"; when anything is wrong the
pure-Python path in :mod:`charter.ledger.verify` says what and where.

Set ``CHARTER_NATIVE=0`` to verify in pure Python.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType

from charter.store.schema import GENESIS_HASH


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("charter._chainscan")
    except ImportError:  # built without a compiler or headers: the Python path serves
        return None


_native = _load()

#: Entries per range: large enough that a range costs far more than its setup.
RANGE = 200_000


@dataclass
class FastScan:
    """What the fast pass learns about a chain, by whichever path it ran."""

    clean: bool
    done: int = 0
    last: tuple[int, str] = (0, GENESIS_HASH)
    hash_at: dict[int, str] = field(default_factory=dict)
    recorded: list[str] = field(default_factory=list)  # payloads of checkpoint entries


def available() -> bool:
    return _native is not None and os.environ.get("CHARTER_NATIVE", "1") != "0"


def scan_sqlite(
    path: str,
    head_seq: int,
    wanted: set[int],
    checkpoint_action: str,
    progress: Callable[[int], None] | None = None,
    *,
    workers: int | None = None,
) -> FastScan:
    """Check entries 1..head_seq of the SQLite database at ``path``."""
    assert _native is not None
    ranges = [(lo, min(lo + RANGE - 1, head_seq)) for lo in range(1, head_seq + 1, RANGE)]
    order = sorted(wanted)
    scan = FastScan(clean=True)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = [pool.submit(_native.scan_range, path, lo, hi, order, checkpoint_action) for lo, hi in ranges]
        for (lo, hi), future in zip(ranges, futures, strict=True):
            clean, count, first_prev, last_seq, last_hash, hash_at, recorded = future.result()
            scan.done += count
            scan.clean = clean and count == hi - lo + 1 and first_prev == scan.last[1]
            if not scan.clean:
                for pending in futures:
                    pending.cancel()
                break
            scan.last = (last_seq, last_hash)
            scan.hash_at.update(hash_at)
            scan.recorded.extend(recorded)
            if progress is not None:
                progress(scan.done)
    return scan


@contextlib.contextmanager
def switched(on: bool) -> Iterator[None]:
    """Run the block with the C extensions on (``CHARTER_NATIVE=1``) or off (``0``), then restore the setting."""
    saved = os.environ.get("CHARTER_NATIVE")
    os.environ["CHARTER_NATIVE"] = "1" if on else "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["CHARTER_NATIVE"]
        else:
            os.environ["CHARTER_NATIVE"] = saved
