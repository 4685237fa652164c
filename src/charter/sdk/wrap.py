"""Wrapping a model so each call is logged: ``wrap(model, logger)`` and ``@governed(logger)``.

The wrapper calls the model, times the call alone (``time.perf_counter_ns``), logs, and
returns the model's own result, unchanged. A model's exception passes through as it is
(nothing is logged for a call that produced nothing). Logging never raises.

- ``predict(X)`` logs the predictions.
- ``predict_proba(X)`` (only when the model has it) logs the probabilities as scores and,
  as the prediction, the most probable class: ``model.classes_[argmax]`` when the model
  names its classes, else the column index.
- ``__call__`` (callables, PyTorch modules, functions) logs what comes back. A tensor is
  read with ``.detach().cpu().numpy()`` (torch is never imported). A 2-D float output
  with several columns is taken for a classifier's output: the prediction is the argmax,
  and the scores are the rows themselves when they are probabilities (in [0, 1], summing
  to 1), else their softmax (logits).

Everything else (``fit``, ``classes_``, ``coef_`` ...) falls through to the model. The ids
of the last call on the current thread are ``governed.last_decision_ids``; per-call
context (subject ids, groups, a trace id) is given with ``with governed.context(...)``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import numpy as np

from charter.sdk.snapshot import tensor_to_numpy
from charter.sdk.writer import DecisionLogger

M = TypeVar("M")
F = TypeVar("F", bound=Callable[..., Any])


class _PerThread(threading.local):
    """A thread's context and last decision ids; class defaults, so a read never raises inside."""

    extra: dict[str, Any] | None = None
    ids: list[str] = []  # noqa: RUF012 (replaced, never changed in place)


class Governed(Generic[M]):
    """A model whose predictions are recorded as decisions. Build it with :func:`wrap`."""

    # Set per instance when the model has them, so hasattr() answers as it would for the model.
    predict: Callable[..., Any]
    predict_proba: Callable[..., Any]

    def __init__(self, model: M, logger: DecisionLogger) -> None:
        self._model = model
        self._logger = logger
        self._local = _PerThread()
        if inspect.isfunction(model) or inspect.isbuiltin(model):
            functools.update_wrapper(self, model)
        if hasattr(model, "predict"):
            self.predict = self._logged_predict(model.predict)
        if hasattr(model, "predict_proba"):
            self.predict_proba = self._logged_predict_proba(model.predict_proba)

    @property
    def model(self) -> M:
        return self._model

    @property
    def logger(self) -> DecisionLogger:
        return self._logger

    @property
    def last_decision_ids(self) -> list[str]:
        """The decision ids of this thread's last call (empty before the first)."""
        return self._local.ids or []  # never the class default itself

    @contextlib.contextmanager
    def context(
        self, *, subject_ids: Any = None, groups: dict[str, Any] | None = None, trace_id: Any = None
    ) -> Iterator[None]:
        """Log the calls made inside the block (on this thread) with these subject ids, groups, trace id."""
        previous = self._local.extra
        self._local.extra = {"subject_ids": subject_ids, "groups": groups, "trace_id": trace_id}
        try:
            yield
        finally:
            self._local.extra = previous

    def _logged_predict(self, model_predict: Callable[..., Any]) -> Callable[..., Any]:
        log = self._logger.log
        local = self._local
        clock = time.perf_counter_ns

        @functools.wraps(model_predict)
        def predict(inputs: Any, *args: Any, **kwargs: Any) -> Any:
            start = clock()
            result = model_predict(inputs, *args, **kwargs) if args or kwargs else model_predict(inputs)
            latency_ms = (clock() - start) / 1e6
            extra = local.extra  # the hot path, inlined: one call fewer than _record
            try:
                if extra is None:
                    local.ids = log(inputs, result, latency_ms=latency_ms)
                else:
                    local.ids = log(inputs, result, latency_ms=latency_ms, **extra)
            except Exception:  # log() does not raise; this is the last line of defence for the model
                local.ids = []
            return result

        return predict

    def _logged_predict_proba(self, model_proba: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(model_proba)
        def predict_proba(inputs: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            result = model_proba(inputs, *args, **kwargs)
            elapsed = time.perf_counter_ns() - start
            try:
                prediction, scores = self._classes_and_scores(result, probabilities=True)
            except Exception as exc:
                self._logger._problem(f"predict_proba returned something unreadable ({type(exc).__name__}: {exc})")
                prediction, scores = None, None
            self._record(inputs, prediction, scores, elapsed)
            return result

        return predict_proba

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        result = self._model(*args, **kwargs)  # type: ignore[operator]
        elapsed = time.perf_counter_ns() - start
        inputs = args[0] if args else next(iter(kwargs.values()), None)
        try:
            prediction, scores = self._output(result)
        except Exception as exc:
            self._logger._problem(f"the model's output could not be read ({type(exc).__name__}: {exc})")
            prediction, scores = None, None
        self._record(inputs, prediction, scores, elapsed)
        return result

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("_model")
        if model is None:
            raise AttributeError(name)
        return getattr(model, name)

    def __repr__(self) -> str:
        return f"Governed({self._model!r})"

    def _record(self, inputs: Any, predictions: Any, scores: Any, elapsed_ns: int) -> None:
        local = self._local
        extra = local.extra
        try:
            if extra is None:
                ids = self._logger.log(inputs, predictions, scores=scores, latency_ms=elapsed_ns / 1e6)
            else:
                ids = self._logger.log(inputs, predictions, scores=scores, latency_ms=elapsed_ns / 1e6, **extra)
        except Exception:  # log() does not raise; this is the last line of defence for the model
            ids = []
        local.ids = ids

    def _output(self, result: Any) -> tuple[Any, Any]:
        array = tensor_to_numpy(result)
        if array is None and isinstance(result, np.ndarray):
            array = result
        if array is not None and array.ndim == 2 and array.shape[1] > 1 and array.dtype.kind == "f":
            return self._classes_and_scores(array, probabilities=False)
        return (array if array is not None else result), None

    def _classes_and_scores(self, output: Any, *, probabilities: bool) -> tuple[Any, Any]:
        array = tensor_to_numpy(output)
        values = np.asarray(output if array is None else array, dtype=np.float64)
        if values.ndim != 2:
            return None, values
        if not probabilities and not _are_probabilities(values):
            shifted = np.exp(values - values.max(axis=1, keepdims=True))
            values = shifted / shifted.sum(axis=1, keepdims=True)
        best = values.argmax(axis=1)
        classes = getattr(self._model, "classes_", None)
        if classes is not None and len(classes) == values.shape[1]:
            return np.asarray(classes)[best], values
        return best, values


def _are_probabilities(values: np.ndarray[Any, Any]) -> bool:
    return bool(
        values.size and np.all((values >= 0) & (values <= 1)) and np.allclose(values.sum(axis=1), 1.0, atol=1e-6)
    )


def wrap(
    model: M,
    logger: DecisionLogger,
    *,
    explain_rate: float = 0.0,
    explain_method: str = "shap",
    explain_background: Any = None,
) -> Governed[M]:
    """``model`` with every ``predict``, ``predict_proba`` and call recorded by ``logger``.

    ``explain_rate`` (e.g. 0.01): that share of the decisions is explained (``explain_method``,
    shap or lime) on the logger's background thread and stored with them (:mod:`charter.sdk.explain`);
    ``explain_background``: rows the explanations take expectations over (default: the first
    rows logged). At 0, the default, nothing is explained and nothing is added to a call.
    """
    if explain_rate:
        logger.explain_with(model, rate=explain_rate, method=explain_method, background=explain_background)
    return Governed(model, logger)


def governed(logger: DecisionLogger) -> Callable[[F], Governed[F]]:
    """Decorate a function ``f(inputs) -> predictions`` so each call is recorded by ``logger``."""

    def decorate(function: F) -> Governed[F]:
        return Governed(function, logger)

    return decorate
