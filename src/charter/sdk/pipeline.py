"""How logged calls reach the sink: a queue bounded in rows, one writer thread, the spool.

The queue holds :class:`~charter.sdk.snapshot.Call` objects, :class:`~charter.sdk.rows.Rows`
(single-row calls gathered as they arrive: :meth:`Pipeline.add_row`) and outcome batches. The
writer takes them when ``batch_rows`` rows are waiting, ``flush_interval`` seconds after
the oldest arrived, or at once when a durable call or a flush is waiting; it builds one
record batch (:mod:`charter.sdk.records`) and hands it to the sink, or to the spool while
the sink fails (:mod:`charter.sdk.delivery`: retries with backoff, replay).

When the queue is full, ``overflow`` decides: ``block`` waits for room, ``drop`` counts the
rows in ``stats.dropped``, ``spool`` writes the call to the spool on the caller's thread.

A :class:`~charter.sdk.explain.SampledExplainer` set as ``explainer`` adds sampled explanations
to each decision batch on the writer, before delivery, unless the queue is over half full or a
durable caller waits on the batch (:mod:`charter.sdk.explain`); rows spooled on a caller's
thread are never explained there.

A durable call waits until its rows are in the sink or fsynced in the spool. Durable calls
that wait together go out in one batch (one sink write or one fsync): a group commit. If
that takes longer than ``durable_timeout`` (a sink that hangs), the caller spools its own
rows and returns; should the sink take them after all, the replay is a duplicate the sink
ignores.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa

from charter.sdk.delivery import Delivery
from charter.sdk.records import Layout, build_decisions, concat_batches
from charter.sdk.rows import Key, Row, Rows, as_calls
from charter.sdk.sink import Sink
from charter.sdk.snapshot import Call
from charter.sdk.spool import Kind, Spool
from charter.sdk.stats import Counters, LoggerStats
from charter.sdk.uuids import keep_tails

Overflow = Literal["block", "drop", "spool"]
OVERFLOWS: tuple[Overflow, ...] = ("block", "drop", "spool")
MAX_TAILS = 16_384  # the most random id tails the writer keeps ready for single-row calls


class _Ticket:
    """A durable caller's wait: set once its rows are in the sink or the spool."""

    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class _Outcomes:
    """A ``log_outcomes()`` call on the queue (a decision call is queued as its :class:`Call`)."""

    __slots__ = ("at", "batch", "queued", "rows", "seq", "ticket")

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.rows: int = batch.num_rows
        self.ticket: _Ticket | None = None
        self.seq = 0
        self.at = 0.0
        self.queued = False


_Item = Call | Rows | _Outcomes


class Pipeline:
    """The queue, the writer thread and the spool of one logger; every method is thread-safe."""

    def __init__(
        self,
        sink: Sink,
        layout: Layout,
        spool: Spool,
        *,
        queue_size: int,
        overflow: Overflow,
        batch_rows: int,
        flush_interval: float,
        retry_initial: float,
        retry_max: float,
        durable_timeout: float,
    ) -> None:
        self._sink = sink
        self._model = layout.model
        self._layout = layout
        self._spool = spool
        self._queue_size = queue_size
        self._overflow: Overflow = overflow
        self._batch_rows = batch_rows
        self._interval = flush_interval
        self._retry = (retry_initial, retry_max)
        self._durable_timeout = durable_timeout
        self._counters = Counters()
        #: Adds sampled explanations to a decision batch (on the writer); None: none (explain_rate 0).
        self.explainer: Callable[[pa.RecordBatch, Callable[[str], None]], tuple[pa.RecordBatch, int]] | None = None
        self._setup_state()
        try:
            self._delivery.pending = self._spool.open()
        except OSError as exc:
            self.report(f"spool folder {self._spool.directory} cannot be opened ({exc}); failed batches will be lost")
        self._start_thread()

    def _setup_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the writer waits here
        self._space = threading.Condition(self._lock)  # callers blocked on a full queue
        self._done = threading.Condition(self._lock)  # flush() waits here
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._open: Rows | None = None  # the Rows item at the tail of the queue that single rows join
        self._durable_waiting = 0
        self._seq = 0
        self._inflight_first: int | None = None
        self._delivery = Delivery(
            self._sink, self._model, self._spool, self._lock, self._counters, self.report, retry=self._retry
        )
        self._flushers = 0
        self._stopping = False
        self._closed = False

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"charter-logger[{self._model}]", daemon=True)
        self._thread.start()

    def restart_after_fork(self) -> None:
        """In a forked child: the parent delivers what it had queued; the child starts afresh."""
        if self._closed:
            return
        self._setup_state()
        self._delivery.pending = self._spool.pending()
        self._start_thread()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> LoggerStats:
        with self._lock:
            return self._counters.snapshot(queued=self._queued_rows, spool_files=len(self._delivery.pending))

    def report(self, message: str) -> None:
        """Count a problem with what was logged, and keep its message."""
        with self._lock:
            self._counters.errors += 1
            self._counters.messages.append(f"{self._model}: {message}")

    def submit_outcomes(self, batch: pa.RecordBatch, durable: bool) -> None:
        self.submit(_Outcomes(batch), durable)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far is in the sink; False if some is only in the spool.

        A failing sink is retried once at once (not after its backoff); ``timeout`` bounds the wait.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delivery = self._delivery
        with self._lock:
            target = self._seq
            failures = delivery.failures
            self._flushers += 1
            delivery.retry_now = True
            self._wake.notify()
            try:
                while not (self._drained(target) and (not delivery.pending or delivery.failures > failures)):
                    if not self._thread.is_alive():
                        break
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._done.wait(remaining)
                return self._drained(target) and not delivery.pending
            finally:
                self._flushers -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Flush, stop the writer, and spool whatever it could not deliver in time. Idempotent.

        True when everything logged is in the sink. Calls logged after ``close`` go to the
        spool on the caller's thread and are delivered by the next logger of this model.
        """
        with self._lock:
            if self._closed:
                return not self._queue and not self._delivery.pending
        deadline = None if timeout is None else time.monotonic() + timeout
        delivered = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._stopping = True
            self._wake.notify()
        self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._lock:
            leftovers = list(self._queue)
            self._queue.clear()
            self._open = None
            self._queued_rows = 0
            self._durable_waiting = 0
            self._space.notify_all()
            self._done.notify_all()
        for item in leftovers:
            item.queued = False
            self._spool_item(item)
        return delivered and not leftovers

    def submit(self, item: _Item, durable: bool) -> None:
        """Queue a call, or apply the overflow policy; a durable call returns once it is on disk."""
        if durable:
            item.ticket = _Ticket()
        rows = item.rows
        with self._lock:
            spool_now = self._closed
            if not spool_now and self._queued_rows and self._queued_rows + rows > self._queue_size:
                if self._overflow == "block" and self._thread.is_alive():
                    while self._queued_rows and self._queued_rows + rows > self._queue_size and not self._closed:
                        self._space.wait()
                    spool_now = self._closed
                elif self._overflow == "drop" and not durable:
                    self._counters.dropped += rows
                    return
                else:  # "spool", or a durable call that must not be dropped
                    spool_now = True
            if not spool_now:
                self._seq += 1
                item.seq = self._seq
                item.at = time.monotonic()
                item.queued = True
                was_empty = not self._queue
                self._queue.append(item)
                self._open = None
                self._queued_rows += rows
                self._counters.enqueued += rows
                if durable:
                    self._durable_waiting += 1
                if was_empty or durable or self._queued_rows >= self._batch_rows:
                    self._wake.notify()
        if spool_now:
            if self._closed:
                self.report(f"log() after close(): {rows:,} row(s) spooled to {self._spool.directory}")
            self._spool_item(item)
        elif item.ticket is not None and not item.ticket.done.wait(self._durable_timeout):
            self._rescue(item)

    def add_row(self, key: Key, row: Row) -> bool:
        """Queue one single-row call (:mod:`charter.sdk.rows`); False if the queue is full or closed.

        The row joins the :class:`Rows` item at the tail of the queue when its key matches
        (and that item has fewer than ``batch_rows`` rows), else starts a new one. A call this
        refuses goes the general way, :meth:`submit`, which applies the overflow policy.
        """
        lock = self._lock
        lock.acquire()  # not "with": acquire and release cost half as much, on a path taken once a decision
        try:
            queued = self._queued_rows
            if queued >= self._queue_size or self._closed:
                return False
            tail = self._open
            if tail is not None and tail.key == key:
                tail.values += row
                tail.rows += 1
                if tail.rows >= self._batch_rows:
                    self._open = None
            else:
                self._open_rows(key, row)
            self._queued_rows = queued = queued + 1
            self._counters.enqueued += 1
            if queued == 1 or queued == self._batch_rows:  # the writer may be waiting for either
                self._wake.notify()
        finally:
            lock.release()
        return True

    def _open_rows(self, key: Key, row: Row) -> None:
        item = self._open = Rows(key, row)
        self._seq += 1
        item.seq = self._seq
        item.at = time.monotonic()
        item.queued = True
        self._queue.append(item)

    def _rescue(self, item: _Item) -> None:
        """A durable call the writer has not delivered in time: spool it from here."""
        with self._lock:
            if item.queued:
                self._queue.remove(item)
                item.queued = False
                self._queued_rows -= item.rows
                self._durable_waiting -= 1
                self._space.notify_all()
                self._done.notify_all()
        self._spool_item(item)

    def _spool_item(self, item: _Item) -> None:
        """Build and spool one item on the calling thread (overflow, durable rescue, shutdown)."""
        if not isinstance(item, _Outcomes):
            kind: Kind = "decisions"
            batches = build_decisions(self._layout, as_calls([item], self.report), self.report)
        else:
            kind, batches = "outcomes", [item.batch]
        spooled = [self._delivery.spool(kind, batch) for batch in batches]  # every batch, past a failure
        self._finish([item], all(spooled))

    # -- the writer's side --------------------------------------------------------------

    def _drained(self, target: int) -> bool:
        """Whether every item up to ``target`` has left the queue and been handled."""
        queue_clear = not self._queue or self._queue[0].seq > target
        return queue_clear and (self._inflight_first is None or self._inflight_first > target)

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # pyarrow imports pandas (if installed) on its first conversion:
            pa.array(np.zeros(1))  # here, at start, not when the first batch is due
        while True:
            try:
                if not self._step():
                    return
            except Exception as exc:  # a bug here must not end logging: count it and carry on
                self.report(f"the background writer hit {type(exc).__name__}: {exc}; it carries on")
                with self._lock:
                    self._inflight_first = None
                    self._done.notify_all()
                    self._wake.wait(0.05)

    def _step(self) -> bool:
        delivery = self._delivery
        with self._lock:
            while True:
                now = time.monotonic()
                ready = bool(self._queue) and (
                    self._stopping
                    or self._flushers > 0
                    or self._durable_waiting > 0
                    or self._queued_rows >= self._batch_rows
                    or now >= self._queue[0].at + self._interval
                )
                retry = delivery.retry_due(now)
                if ready or retry:
                    break
                if self._stopping:
                    self._done.notify_all()
                    return False
                timeouts = []
                if self._queue:
                    timeouts.append(self._queue[0].at + self._interval - now)
                if delivery.pending:
                    timeouts.append(delivery.next_retry - now)
                self._wake.wait(max(0.0, min(timeouts)) if timeouts else None)
            items = self._take() if ready else []
            delivery.retry_now = False
        if items:
            self._handle(items)
            keep_tails(min(self._batch_rows, MAX_TAILS))
        if retry:
            delivery.replay_one()
        with self._lock:
            self._inflight_first = None
            self._done.notify_all()
        return True

    def _take(self) -> list[_Item]:
        items: list[_Item] = []
        rows = 0
        while self._queue and (not items or rows + self._queue[0].rows <= self._batch_rows):
            item = self._queue.popleft()
            item.queued = False
            items.append(item)
            rows += item.rows
            if item.ticket is not None:
                self._durable_waiting -= 1
        self._queued_rows -= rows
        if not self._queue:
            self._open = None
        self._inflight_first = items[0].seq
        self._space.notify_all()
        return items

    def _handle(self, items: list[_Item]) -> None:
        decisions = [i for i in items if not isinstance(i, _Outcomes)]
        outcomes = [i for i in items if isinstance(i, _Outcomes)]
        if decisions:
            batches = build_decisions(self._layout, as_calls(decisions, self.report), self.report)
            waiting = any(item.ticket is not None for item in decisions)  # a durable caller waits on this batch
            if self.explainer is not None and not waiting and self._queued_rows * 2 <= self._queue_size:
                batches = [self._explained(self.explainer, b) for b in batches]
            delivered = [self._delivery.deliver("decisions", b) for b in batches]
            self._finish(decisions, all(delivered))
        if outcomes:
            delivered = [self._delivery.deliver("outcomes", b) for b in concat_batches([i.batch for i in outcomes])]
            self._finish(outcomes, all(delivered))

    def _explained(
        self,
        explainer: Callable[[pa.RecordBatch, Callable[[str], None]], tuple[pa.RecordBatch, int]],
        batch: pa.RecordBatch,
    ) -> pa.RecordBatch:
        enriched, explained = explainer(batch, self.report)
        if explained:
            with self._lock:
                self._counters.explained += explained
        return enriched

    @staticmethod
    def _finish(items: Sequence[_Item], ok: bool) -> None:
        for item in items:
            if item.ticket is not None:
                item.ticket.ok = ok
                item.ticket.done.set()
