"""The fast path for single-row calls: one tuple per row on the queue, one columnar call per batch.

Most calls of a served model log one row: a 1-D (or 1 x k) NumPy array of numbers, one
prediction, perhaps a score and the latency. For those, ``log()`` takes no copy of the
arguments beyond the row's bytes, builds no objects but a tuple, and the pipeline appends
the tuple's fields to the :class:`Rows` item at the tail of its queue when that item has the
same :data:`Key` (the row's dtype and width, the prediction's type ...); else it queues a
new one. A ``Rows`` item keeps its rows in one flat list (no object per row,
nothing for the garbage collector to follow), and the writer turns it into one columnar
:class:`~charter.sdk.snapshot.Call` (:meth:`Rows.to_call`: a slice of the list per field,
one ``bytes.join`` for the features, one array per other column), which is then built like
any other call.

Any call the fast path does not take (other shapes, DataFrames, per-row subject ids,
groups, a trace id, ``durable=True``, a full queue) goes the general way
(:mod:`charter.sdk.snapshot`), and gets the same rows in the sink.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from charter.clock import Clock
from charter.sdk.records import micros
from charter.sdk.snapshot import ArrayRows, Call, active_trace_id
from charter.sdk.uuids import ID_LENGTH, id_array, new_decision_id

#: Kinds of NumPy data the fast path takes for features (numbers and booleans) and predictions (and text).
FEATURE_KINDS = "biuf"
PREDICTION_KINDS = "biufU"
#: Python types of a prediction the fast path takes as they are.
PLAIN = frozenset((bool, int, float, str))
#: Types of a score the fast path takes (a number, one per row).
NUMBERS = (float, int, np.integer, np.floating)

#: What a row is on the queue: (decision_id, ts, features bytes, prediction, score, latency_ms, trace_id).
Row = tuple[str, int, bytes, Any, float | None, Any, str | None]
FIELDS = 7
#: What rows must share to be gathered: the features' dtype and width, the prediction's type,
#: whether it came in a NumPy array (then it is kept as one: NaN stays NaN), whether there is a score.
Key = tuple[np.dtype[Any], int, type, bool, bool]

_ndarray = np.ndarray
_modules = sys.modules
_OTEL = "opentelemetry.trace"  # imported by an application that traces: see active_trace_id()


class FastPath:
    """Takes the one-row calls it can (see the module docstring) for one logger."""

    __slots__ = ("_add", "_clock", "_width")

    def __init__(self, add_row: Callable[[Key, Row], bool], width: int | None, clock: Clock | None) -> None:
        self._add = add_row  # Pipeline.add_row
        self._width = width  # how many features the logger expects (None: any number)
        self._clock = clock  # None: the system's, read as time.time_ns()

    def take(self, inputs: np.ndarray[Any, Any], predictions: Any, scores: Any, latency_ms: Any) -> str | None:
        """The decision id of a one-row call (``inputs`` a NumPy array) taken; None if not taken."""
        shape = inputs.shape
        if len(shape) == 1:
            columns = shape[0]
        elif len(shape) == 2 and shape[0] == 1:
            columns = shape[1]
        else:
            return None
        dtype = inputs.dtype
        if (self._width is not None and columns != self._width) or dtype.kind not in FEATURE_KINDS:
            return None
        kind = type(predictions)
        in_array = kind is _ndarray
        if in_array:
            if predictions.shape != (1,) or predictions.dtype.kind not in PREDICTION_KINDS:
                return None
            prediction = predictions[0]
            kind = type(prediction)
        elif kind in PLAIN or (isinstance(predictions, np.generic) and predictions.dtype.kind in PREDICTION_KINDS):
            prediction = predictions
        else:
            return None
        if scores is None:
            score = None
        elif isinstance(scores, NUMBERS):
            score = float(scores)
        elif type(scores) is _ndarray and scores.shape == (1,) and scores.dtype.kind in FEATURE_KINDS:
            score = float(scores[0])
        else:
            return None
        if latency_ms is not None and type(latency_ms) is not float and type(latency_ms) is not int:
            return None
        now = time.time_ns()
        ts = now // 1000 if self._clock is None else micros(self._clock.now())
        decision_id = new_decision_id(now)
        trace = None if _OTEL not in _modules else active_trace_id()
        row = (decision_id, ts, inputs.tobytes(), prediction, score, latency_ms, trace)
        return decision_id if self._add((dtype, columns, kind, in_array, score is None), row) else None


class Rows:
    """Single-row calls of one key, queued as one item (the writer's bookkeeping in the last slots)."""

    __slots__ = ("at", "key", "queued", "rows", "seq", "ticket", "values")

    def __init__(self, key: Key, row: Row) -> None:
        self.key = key
        self.values: list[Any] = list(row)  # the rows' fields, one row after the other
        self.rows = 1
        self.ticket: Any = None  # always None: a durable call goes the general way
        self.seq = 0
        self.at = 0.0
        self.queued = False

    def to_call(self) -> Call:
        """The rows as one call: features as a 2-D array, every other argument one value per row."""
        values = self.values
        dtype, width, _, in_array, no_score = self.key
        n = self.rows
        features = ArrayRows(np.frombuffer(b"".join(values[2::FIELDS]), dtype=dtype).reshape(n, width), None)
        predictions = values[3::FIELDS]
        latency = values[5::FIELDS]
        traces = values[6::FIELDS]
        return Call(
            _ids(values[0::FIELDS]),
            n,
            np.fromiter(values[1::FIELDS], dtype=np.int64, count=n),
            features,
            np.array(predictions) if in_array else predictions,
            None if no_score else np.fromiter(values[4::FIELDS], dtype=np.float64, count=n),
            None if latency.count(None) == n else latency,
            None,
            None,
            None if traces.count(None) == n else traces,
        )


def _ids(ids: list[str]) -> pa.Array:
    """Decision ids as an Arrow column: their text joined, when each is 36 characters (as made here)."""
    n = len(ids)
    text = "".join(ids).encode()
    if len(text) != ID_LENGTH * n:
        return pa.array(ids, type=pa.string())
    return id_array(np.frombuffer(text, dtype=np.uint8).reshape(n, ID_LENGTH))


def as_calls(items: Sequence[Call | Rows], report: Callable[[str], None]) -> list[Call]:
    """Queued decision items as calls: each :class:`Rows` turned into one columnar call."""
    calls: list[Call] = []
    for item in items:
        if not isinstance(item, Rows):
            calls.append(item)
            continue
        try:
            calls.append(item.to_call())
        except Exception as exc:  # not foreseen: say so, and carry on with the others
            report(
                f"{item.rows:,} decision(s) could not be recorded ({type(exc).__name__}: {exc}); "
                "they are missing from the lake"
            )
    return calls
