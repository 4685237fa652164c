"""Sinks for the tests: one that fails a number of times, one that blocks, one that counts deliveries."""

from __future__ import annotations

import threading
from collections import Counter

import pyarrow as pa

from charter.sdk import MemorySink


class FailingSink(MemorySink):
    """Raises on the first ``failures`` writes, then stores like MemorySink.

    With ``store_first``, a failing write stores the batch before raising: the sink took the
    rows but the logger never heard so (a lost acknowledgement), so they come again.
    """

    def __init__(self, failures: int, *, store_first: bool = False) -> None:
        super().__init__()
        self.failures_left = failures
        self.store_first = store_first
        self.attempts = 0
        self.stored = threading.Event()
        self._gate = threading.Lock()

    def _maybe_fail(self, store: object) -> None:
        with self._gate:
            self.attempts += 1
            failing = self.failures_left > 0
            if failing:
                self.failures_left -= 1
        if failing:
            if self.store_first:
                store()  # type: ignore[operator]
            raise ConnectionError("lake unreachable")

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        self._maybe_fail(lambda: super(FailingSink, self).write_decisions(model, batch))
        super().write_decisions(model, batch)
        self.stored.set()

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        self._maybe_fail(lambda: super(FailingSink, self).write_outcomes(model, batch))
        super().write_outcomes(model, batch)
        self.stored.set()


class DownSink:
    """Always fails."""

    def __init__(self) -> None:
        self.attempts = 0

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        self.attempts += 1
        raise ConnectionError("lake unreachable")

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        self.attempts += 1
        raise ConnectionError("lake unreachable")


class BlockingSink(MemorySink):
    """Each write waits until ``release`` is set (at most 5 s, so a failing test cannot hang)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        self.entered.set()
        self.release.wait(5)
        super().write_decisions(model, batch)


class CountingSink:
    """Every decision id each time it is delivered: no deduplication, so duplicates show."""

    def __init__(self) -> None:
        self.delivered: Counter[str] = Counter()
        self._lock = threading.Lock()

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        with self._lock:
            self.delivered.update(batch.column("decision_id").to_pylist())

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        pass
