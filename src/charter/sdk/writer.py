"""The decision logger: ``log()`` takes microseconds and never raises; one thread delivers.

``log()`` copies the call (:mod:`charter.sdk.snapshot`), gives each row a UUIDv7 and puts
the call on a queue bounded in rows; it does no I/O and no Arrow work. A one-row call of
the usual shape takes a shorter way (:mod:`charter.sdk.rows`): its row's bytes and values
join the single rows gathered at the tail of the queue. Delivery (batching,
the sink, the spool, replay, overflow, durable calls) is the pipeline's
(:mod:`charter.sdk.pipeline`). Problems with what is logged are counted in ``stats`` with
a message naming the argument and what was done about it; they never reach the caller.

A logger registers itself to be closed at interpreter exit (``exit_timeout`` bounds how
long a hung sink can delay the exit; what it did not take is spooled), and restarts its
writer in a forked child.
"""

from __future__ import annotations

import atexit
import os
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from charter.clock import Clock, SystemClock
from charter.config import load_settings
from charter.errors import InvalidInput
from charter.lake.schema import check_names
from charter.sdk.pipeline import OVERFLOWS, Overflow, Pipeline
from charter.sdk.records import Layout, build_outcomes, micros
from charter.sdk.rows import FastPath
from charter.sdk.sink import Sink
from charter.sdk.snapshot import (
    SCALARS,
    Call,
    active_trace_id,
    snapshot_inputs,
    snapshot_scores,
    snapshot_side,
    snapshot_values,
)
from charter.sdk.spool import Spool
from charter.sdk.stats import LoggerStats
from charter.sdk.uuids import new_decision_id, new_decision_ids

__all__ = ["OVERFLOWS", "SPOOL_FOLDER", "DecisionLogger", "Overflow"]

SPOOL_FOLDER = "spool"
_ndarray = np.ndarray

_live: weakref.WeakSet[DecisionLogger] = weakref.WeakSet()
_fork_hook = False


def _after_fork_in_child() -> None:
    for logger in list(_live):
        logger._pipeline.restart_after_fork()


class DecisionLogger:
    """Records a model's decisions and outcomes through a sink, off the caller's thread."""

    def __init__(
        self,
        sink: Sink,
        *,
        model: str,
        version: int | None = None,
        alias: str | None = None,
        registered: bool = False,
        features: list[str] | None = None,
        groups: list[str] | None = None,
        queue_size: int = 100_000,
        overflow: Overflow = "block",
        spool_dir: Path | str | None = None,
        batch_rows: int = 10_000,
        flush_interval: float = 0.2,
        clock: Clock | None = None,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        durable_timeout: float = 5.0,
        exit_timeout: float = 5.0,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise InvalidInput(f"model: {model!r} is not a model name (a non-empty string)")
        if overflow not in OVERFLOWS:
            raise InvalidInput(f"overflow: {overflow!r} is not one of {', '.join(OVERFLOWS)}")
        for name, value in (("queue_size", queue_size), ("batch_rows", batch_rows)):
            if not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name}: {value!r} must be a whole number of rows, at least 1")
        for name, seconds in (
            ("flush_interval", flush_interval),
            ("retry_initial", retry_initial),
            ("retry_max", retry_max),
            ("durable_timeout", durable_timeout),
        ):
            if not seconds > 0:
                raise InvalidInput(f"{name}: {seconds!r} must be a positive number of seconds")
        check_names(features or [], what="features")
        check_names(groups or [], what="groups")
        self._model = model
        self._layout = Layout(
            model=model,
            version=version,
            alias=alias,
            registered=bool(registered),
            features=tuple(features) if features is not None else None,
            groups=tuple(groups or ()),
        )
        self._clock: Clock = clock or SystemClock()
        self._system_clock = type(self._clock) is SystemClock  # then read time.time_ns(): no datetime per call
        self._exit_timeout = exit_timeout
        root = Path(spool_dir) if spool_dir is not None else load_settings().home / SPOOL_FOLDER
        self._spool = Spool(root, model)
        self._pipeline = Pipeline(
            sink,
            self._layout,
            self._spool,
            queue_size=queue_size,
            overflow=overflow,
            batch_rows=batch_rows,
            flush_interval=flush_interval,
            retry_initial=retry_initial,
            retry_max=retry_max,
            durable_timeout=durable_timeout,
        )
        self._problem = self._pipeline.report
        self._take_row = FastPath(
            self._pipeline.add_row,
            len(features) if features is not None else None,
            None if self._system_clock else self._clock,
        ).take
        atexit.register(self._close_at_exit)
        global _fork_hook
        _live.add(self)
        if not _fork_hook and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook = True

    @property
    def model(self) -> str:
        return self._model

    @property
    def spool_directory(self) -> Path:
        return self._spool.directory

    @property
    def stats(self) -> LoggerStats:
        return self._pipeline.stats()

    @property
    def running(self) -> bool:
        """Whether the background writer runs (False once closed)."""
        return self._pipeline.running

    def log(
        self,
        inputs: Any,
        predictions: Any,
        *,
        scores: Any = None,
        latency_ms: Any = None,
        subject_ids: Any = None,
        groups: dict[str, Any] | None = None,
        trace_id: Any = None,
        durable: bool = False,
    ) -> list[str]:
        """Record one decision per row of ``inputs``; the decision ids, at once. Never raises.

        ``inputs``: a 2-D array, a pandas or polars DataFrame, an Arrow table, a dict of
        columns or a list of rows or records (a batch), or one row (a 1-D array, a dict of
        scalars, a list, a pandas Series). ``predictions``: one per row (array, list, Series)
        or a scalar for one row. ``scores``: a positive-class probability per row, or a row
        of class probabilities per row. ``latency_ms``, ``subject_ids``, ``trace_id`` and the
        values of ``groups``: one for every row, or one per row. ``durable``: return only
        once the rows are in the sink or fsynced in the spool.
        """
        try:
            if (
                type(inputs) is _ndarray
                and subject_ids is None
                and groups is None
                and trace_id is None
                and not durable
                and (one := self._take_row(inputs, predictions, scores, latency_ms)) is not None
            ):
                return [one]
            call, ids = self._snapshot(inputs, predictions, scores, latency_ms, subject_ids, groups, trace_id)
            if call is not None:
                self._pipeline.submit(call, durable)
            return ids
        except Exception as exc:
            self._problem(f"log() could not record this call ({type(exc).__name__}: {exc})")
            return []

    def explain_with(
        self,
        model: Any,
        *,
        rate: float,
        method: str = "shap",
        background: Any = None,
        background_loader: Callable[[Sequence[str]], Any] | None = None,
        classifier: bool | None = None,
    ) -> None:
        """Explain a sampled share ``rate`` of the decisions with ``model``, on the writer (:mod:`.explain`).

        ``rate`` 0 turns it off. One model explains a logger's decisions: the last one set.
        ``classifier`` None reads a PyTorch module's or a function's outputs as scores when they
        are probabilities or logits; pass False for a regression. Raises on a bad rate or method.
        """
        from charter.sdk.explain import SampledExplainer

        explainer = SampledExplainer(
            model, rate=rate, method=method, background=background, background_loader=background_loader,
            classifier=classifier, name=self._model,
        )  # fmt: skip
        self._pipeline.explainer = explainer if explainer.rate > 0 else None

    def log_outcomes(self, decision_ids: Any, labels: Any, *, durable: bool = False) -> None:
        """Record ground truth for earlier decisions (one label per id). Never raises."""
        try:
            batch = build_outcomes(decision_ids, labels, self._clock.now(), self._problem)
            if batch is not None:
                self._pipeline.submit_outcomes(batch, durable)
        except Exception as exc:
            self._problem(f"log_outcomes() could not record these outcomes ({type(exc).__name__}: {exc})")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far is in the sink; False if some is only in the spool.

        A failing sink is retried once at once (not after its backoff); ``timeout`` bounds the wait.
        """
        return self._pipeline.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, stop the writer, and spool whatever it could not deliver in time. Idempotent.

        True when everything logged is in the sink. Calls logged after ``close`` go to the
        spool on the caller's thread and are delivered by the next logger of this model.
        """
        delivered = self._pipeline.close(timeout)
        atexit.unregister(self._close_at_exit)
        _live.discard(self)
        return delivered

    def _close_at_exit(self) -> None:
        self.close(self._exit_timeout)

    def __enter__(self) -> DecisionLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _snapshot(
        self,
        inputs: Any,
        predictions: Any,
        scores: Any,
        latency_ms: Any,
        subject_ids: Any,
        groups: dict[str, Any] | None,
        trace_id: Any,
    ) -> tuple[Call | None, list[str]]:
        ts = time.time_ns() // 1000 if self._system_clock else micros(self._clock.now())
        features, rows, problem = snapshot_inputs(inputs, self._layout.features)
        if problem is not None:
            self._problem(problem)
        values, count, problem = snapshot_values(predictions, what="predictions")
        if problem is not None:
            self._problem(problem)
        if rows is None:
            rows = count
        if rows is None:
            self._problem("log(): neither readable inputs nor predictions were given; nothing recorded")
            return None, []
        if rows == 0:
            return None, []
        if count is not None and count != rows:
            self._problem(f"predictions: {count:,} values for {rows:,} input row(s); predictions not recorded")
            values = None
        if scores is not None:
            scores = self._checked(snapshot_scores(scores, rows))
        # Per-row arguments: None and scalars (the usual case) need no copy and no check.
        if latency_ms is not None and not isinstance(latency_ms, SCALARS):
            latency_ms = self._checked(snapshot_side(latency_ms, rows, what="latency_ms"))
        if subject_ids is not None and not isinstance(subject_ids, SCALARS):
            subject_ids = self._checked(snapshot_side(subject_ids, rows, what="subject_ids"))
        if trace_id is None:
            trace_id = active_trace_id()
        elif not isinstance(trace_id, SCALARS):
            trace_id = self._checked(snapshot_side(trace_id, rows, what="trace_id"))
        if groups:
            groups = {
                str(name): self._checked(snapshot_side(value, rows, what=f"groups[{name!r}]"))
                for name, value in groups.items()
            }
        if rows == 1:
            one = new_decision_id()
            ids, id_column = [one], one
        else:
            ids, id_column = new_decision_ids(rows)
        call = Call(id_column, rows, ts, features, values, scores, latency_ms, subject_ids, groups or None, trace_id)
        return call, ids

    def _checked(self, result: tuple[Any, str | None]) -> Any:
        """A snapshot's value, its problem (if any) counted."""
        value, problem = result
        if problem is not None:
            self._problem(problem)
        return value
