"""Where the writer's batches go: the sink while it is healthy, else the spool; retries and replay.

When the sink raises, the batch goes to the spool (:mod:`charter.sdk.spool`) and the sink
is marked failing: later batches go straight to the spool, and the oldest spool file is
retried after an exponential, capped backoff (:func:`charter.sdk.stats.backoff`). The
first retry that succeeds marks the sink healthy again and the spool is replayed, one file
per turn of the writer's loop, between new batches. Files left by an earlier process are
replayed the same way. Decision ids make every replay idempotent.

:class:`Delivery` shares its pipeline's lock and counters (:mod:`charter.sdk.pipeline`);
its public fields are read and written with that lock held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from charter.sdk.sink import Sink
from charter.sdk.spool import Kind, Spool
from charter.sdk.stats import Counters, backoff


class Delivery:
    """The sink, the spool, and whether the sink is failing, for one logger's writer."""

    def __init__(
        self,
        sink: Sink,
        model: str,
        spool: Spool,
        lock: threading.Lock,
        counters: Counters,
        report: Callable[[str], None],
        *,
        retry: tuple[float, float],  # the first delay after a failure, and the longest, in seconds
    ) -> None:
        self._sink = sink
        self._model = model
        self._spool = spool
        self._lock = lock
        self._counters = counters
        self._report = report
        self._retry_initial, self._retry_max = retry
        self.pending: list[Path] = []  # spool files waiting to be replayed, oldest first
        self.healthy = True
        self.attempt = 0  # failed tries since the sink last worked
        self.next_retry = 0.0  # time.monotonic() of the next try while failing
        self.retry_now = False  # a flush asks to try at once
        self.failures = 0  # sink calls that raised, ever

    def retry_due(self, now: float) -> bool:
        """Whether a spool file should be replayed now (the caller holds the lock)."""
        return bool(self.pending) and (self.healthy or self.retry_now or now >= self.next_retry)

    def deliver(self, kind: Kind, batch: pa.RecordBatch) -> bool:
        """To the sink while it is healthy, else (or if it fails now) to the spool."""
        if self.healthy:
            try:
                self._write(kind, batch)
            except Exception as exc:
                self._sink_failed(kind, exc, f"{batch.num_rows:,} row(s) go to the spool")
            else:
                with self._lock:
                    self._counters.written += batch.num_rows
                return True
        return self.spool(kind, batch)

    def spool(self, kind: Kind, batch: pa.RecordBatch) -> bool:
        """Write a batch to the spool (fsynced when this returns True); False if even that failed."""
        rows = batch.num_rows
        try:
            path = self._spool.write(kind, batch)
        except Exception as exc:
            self._report(
                f"spool: {rows:,} {kind} row(s) could not be written to {self._spool.directory} "
                f"({type(exc).__name__}: {exc}); they are lost"
            )
            with self._lock:
                self._counters.dropped += rows
            return False
        with self._lock:
            self.pending.append(path)
            self._counters.spooled += rows
        return True

    def replay_one(self) -> None:
        """Deliver the oldest spool file to the sink, and delete it once the sink has it."""
        with self._lock:
            if not self.pending:
                return
            path = self.pending[0]
        try:
            kind, batch = self._spool.read(path)
        except FileNotFoundError:  # another process sharing the folder replayed it
            self._forget(path)
            return
        except Exception as exc:
            try:
                aside = self._spool.set_aside(path)
            except OSError:
                aside = path
            self._forget(path)
            self._report(f"spool file {path.name} cannot be read ({type(exc).__name__}: {exc}); moved to {aside.name}")
            return
        try:
            self._write(kind, batch)
        except Exception as exc:
            self._sink_failed(kind, exc, f"replay of {path.name} waits")
            return
        self._spool.remove(path)
        with self._lock:
            if path in self.pending:
                self.pending.remove(path)
            self._counters.replayed += batch.num_rows
            recovered = not self.healthy
            self.healthy = True
            self.attempt = 0
        if recovered:  # pick up files other processes left while the sink was down
            known = set(self._spool.pending())
            with self._lock:
                self.pending = sorted(known | set(self.pending))

    def _write(self, kind: Kind, batch: pa.RecordBatch) -> None:
        if kind == "decisions":
            self._sink.write_decisions(self._model, batch)
        else:
            self._sink.write_outcomes(self._model, batch)

    def _sink_failed(self, kind: Kind, exc: Exception, consequence: str) -> None:
        with self._lock:
            delay = backoff(self.attempt, initial=self._retry_initial, cap=self._retry_max)
            self.attempt += 1
            self.healthy = False
            self.next_retry = time.monotonic() + delay
            self.failures += 1
            self._counters.failed += 1
        self._report(
            f"sink {type(self._sink).__name__}.write_{kind} failed ({type(exc).__name__}: {exc}); "
            f"{consequence}; next try in {delay:.2g} s"
        )

    def _forget(self, path: Path) -> None:
        with self._lock:
            if path in self.pending:
                self.pending.remove(path)
