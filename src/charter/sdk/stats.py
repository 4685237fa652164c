"""What a decision logger has done so far, and the retry delay after a sink failure."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: How many problem messages a logger keeps.
KEEP_ERRORS = 10


@dataclass(frozen=True)
class LoggerStats:
    """Counts in rows (decisions and outcomes together), except ``failed`` and ``errors``.

    ``enqueued`` rows were put on the queue; ``written`` went from the queue to the sink;
    ``spooled`` went to the spool instead (sink failing, queue full, shutdown); ``replayed``
    went from the spool to the sink (including files left by an earlier process);
    ``dropped`` were refused (queue full under ``overflow="drop"``) or lost (the spool
    could not be written either). ``failed`` counts sink calls that raised; ``errors``
    counts problems with what was logged, the last few of which ``last_errors`` describes.
    ``explained`` decisions got a sampled explanation (``explain_rate``).
    """

    enqueued: int = 0
    written: int = 0
    dropped: int = 0
    spooled: int = 0
    replayed: int = 0
    failed: int = 0
    errors: int = 0
    last_errors: tuple[str, ...] = ()
    queued: int = 0  # rows waiting in the queue now
    spool_files: int = 0  # files waiting to be replayed now
    explained: int = 0


class Counters:
    """The mutable counts behind :class:`LoggerStats`; callers hold the logger's lock."""

    def __init__(self) -> None:
        self.enqueued = 0
        self.written = 0
        self.dropped = 0
        self.spooled = 0
        self.replayed = 0
        self.failed = 0
        self.errors = 0
        self.explained = 0
        self.messages: deque[str] = deque(maxlen=KEEP_ERRORS)

    def snapshot(self, *, queued: int, spool_files: int) -> LoggerStats:
        return LoggerStats(
            enqueued=self.enqueued,
            written=self.written,
            dropped=self.dropped,
            spooled=self.spooled,
            replayed=self.replayed,
            failed=self.failed,
            errors=self.errors,
            last_errors=tuple(self.messages),
            queued=queued,
            spool_files=spool_files,
            explained=self.explained,
        )


def backoff(attempt: int, *, initial: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt`` (0, 1, ...): ``initial * 2**attempt``, capped, with jitter.

    The jitter (a delay between half and all of the exponential one) keeps many processes
    that lost the same lake from retrying in step.
    """
    delay = min(cap, initial * 2.0 ** min(attempt, 64))
    return delay * (0.5 + 0.5 * rng())
