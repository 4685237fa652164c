"""What ``log()`` keeps of a call: cheap private copies, taken on the caller's thread.

A call is read just far enough to know how many rows it has (the caller gets one decision
id per row at once) and copied so that a caller who reuses its buffers after ``predict``
cannot change what was logged. Turning the copies into Arrow columns is the background
writer's job (:mod:`charter.sdk.records`), where consecutive calls of the same shape are
stacked first, so a stream of single-row calls costs one conversion per batch, not one
per call.

Nothing here raises for bad input: each reader returns the problem as a message (naming
the argument and what was done about it) and the part of the call that could be kept.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

#: Python and NumPy scalars: one value, for every row of a call.
SCALARS = (str, bytes, int, float, bool, np.generic)


@dataclass(slots=True, eq=False)
class ArrayRows:
    """Rows of a 2-D array (NumPy input, or a DataFrame whose columns share one numeric type)."""

    values: npt.NDArray[Any]
    names: tuple[str, ...] | None  # None: the logger's features, or f0..fn


@dataclass(slots=True, eq=False)
class RowMap:
    """One row given as a mapping of feature name to value."""

    values: dict[Any, Any]


@dataclass(slots=True, eq=False)
class Columns:
    """Named columns (a DataFrame, a dict of columns, an Arrow table); each a copy or immutable."""

    names: list[str]
    values: list[Any]  # np.ndarray, list or pa.Array


Features = ArrayRows | RowMap | Columns | None


class Call:
    """One ``log()`` call: its decision ids, when it was made, and copies of its arguments.

    It is also the queue's item (the writer's bookkeeping lives in the last four slots),
    which saves an object per call on the hot path.
    """

    __slots__ = (
        "at",
        "features",
        "groups",
        "ids",
        "latency_ms",
        "predictions",
        "queued",
        "rows",
        "scores",
        "seq",
        "subject_ids",
        "ticket",
        "trace_id",
        "ts",
    )

    def __init__(
        self,
        ids: Any,  # str for one row, else a pa.StringArray
        rows: int,
        ts: int | npt.NDArray[np.int64],  # microseconds since the Unix epoch: for every row, or one per row
        features: Features,
        predictions: Any,  # np.ndarray (1-D), list, pa.Array or None
        scores: npt.NDArray[np.float64] | None,  # (rows,): score; (rows, classes): scores
        latency_ms: Any,  # scalar, sequence or None
        subject_ids: Any,
        groups: dict[str, Any] | None,
        trace_id: Any,
    ) -> None:
        self.ids = ids
        self.rows = rows
        self.ts = ts
        self.features = features
        self.predictions = predictions
        self.scores = scores
        self.latency_ms = latency_ms
        self.subject_ids = subject_ids
        self.groups = groups
        self.trace_id = trace_id
        self.ticket: Any = None  # the writer's: a durable caller's wait
        self.seq = 0  # the writer's: place in the queue
        self.at = 0.0  # the writer's: when it was queued (time.monotonic)
        self.queued = False  # the writer's: still in the queue


def active_trace_id() -> str | None:
    """The current OpenTelemetry trace id (32 hex digits), if the application traces; never imports it."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        context = trace.get_current_span().get_span_context()
        return f"{context.trace_id:032x}" if context.is_valid else None
    except Exception:
        return None


def tensor_to_numpy(value: Any) -> npt.NDArray[Any] | None:
    """A tensor (PyTorch and look-alikes) as NumPy, found by duck typing; None for anything else."""
    detach = getattr(value, "detach", None)
    if detach is None or not callable(detach) or not hasattr(value, "cpu"):
        return None
    array: npt.NDArray[Any] = np.asarray(detach().cpu().numpy())
    return array


def _module(value: Any) -> str:
    return type(value).__module__.partition(".")[0]


def _preview(names: tuple[str, ...] | list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def snapshot_inputs(inputs: Any, features: tuple[str, ...] | None) -> tuple[Features, int | None, str | None]:
    """The inputs' features, their row count (None: unknown), and a problem, if any."""
    if inputs is None:
        return None, None, None
    if isinstance(inputs, np.ndarray):
        return _array_rows(inputs, None, features)
    if isinstance(inputs, Mapping):
        return _mapping(inputs)
    if isinstance(inputs, list | tuple):
        return _sequence(inputs, features)
    if isinstance(inputs, pa.Table | pa.RecordBatch):
        columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in inputs.columns]
        return Columns([str(n) for n in inputs.schema.names], columns), inputs.num_rows, None
    module = _module(inputs)
    if module == "pandas" and hasattr(inputs, "columns"):
        return _pandas_frame(inputs, features)
    if module == "pandas" and hasattr(inputs, "index"):  # a Series: one row, named by its index
        return RowMap(dict(zip(inputs.index, inputs.to_numpy(), strict=True))), 1, None
    if module == "polars" and hasattr(inputs, "to_arrow"):
        if hasattr(inputs, "columns"):
            table = inputs.to_arrow()
            return Columns(list(table.schema.names), [c.combine_chunks() for c in table.columns]), table.num_rows, None
        return _array_rows(inputs.to_numpy(), None, features)
    tensor = tensor_to_numpy(inputs)
    if tensor is not None:
        return _array_rows(tensor, None, features)
    if isinstance(inputs, SCALARS):
        return _array_rows(np.array([[inputs]]), None, features)
    try:
        array = np.asarray(inputs)
    except Exception as exc:
        return None, None, f"inputs: a {type(inputs).__name__} cannot be read as rows ({exc}); features not recorded"
    return _array_rows(array, None, features)


def _array_rows(
    array: npt.NDArray[Any], names: tuple[str, ...] | None, features: tuple[str, ...] | None
) -> tuple[Features, int | None, str | None]:
    if array.ndim > 2:
        return (
            None,
            array.shape[0],
            f"inputs: an array of shape {array.shape} has more than two dimensions; features not recorded",
        )
    rows_array = array.reshape(1, -1) if array.ndim < 2 else array
    rows, width = rows_array.shape
    if names is None and features is not None and len(features) != width:
        return (
            None,
            rows,
            f"inputs: {width} columns, but the logger's features name {len(features)} "
            f"({_preview(features)}); features not recorded for these {rows:,} row(s)",
        )
    return ArrayRows(np.array(rows_array, order="C", copy=True), names), rows, None


def _sequence(
    values: list[Any] | tuple[Any, ...], features: tuple[str, ...] | None
) -> tuple[Features, int | None, str | None]:
    if not values:
        return None, 0, None
    first = values[0]
    if isinstance(first, Mapping):  # records: one mapping per row
        try:
            table = pa.Table.from_pylist([dict(v) for v in values])
        except Exception as exc:
            return None, len(values), f"inputs: rows given as mappings cannot be read ({exc}); features not recorded"
        return Columns(list(table.schema.names), [c.combine_chunks() for c in table.columns]), len(values), None
    try:
        array = np.asarray(values)
        if array.dtype.kind in "USO":  # keep each value's own type; the writer infers per column
            array = np.array(values, dtype=object)
    except Exception as exc:
        rows = len(values) if isinstance(first, list | tuple | np.ndarray) else 1
        return None, rows, f"inputs: the rows have different lengths or cannot be read ({exc}); features not recorded"
    return _array_rows(array, None, features)


def _mapping(values: Mapping[Any, Any]) -> tuple[Features, int | None, str | None]:
    items = list(values.items())
    if not any(v is not None and not isinstance(v, SCALARS) and _is_column(v) for _, v in items):
        return RowMap(dict(items)), 1, None
    names = [str(k) for k, _ in items]
    columns = [_column_copy(v) for _, v in items]
    lengths = [len(c) for c in columns]
    if len(set(lengths)) > 1:
        shown = ", ".join(f"{n}: {length:,}" for n, length in zip(names[:4], lengths[:4], strict=False))
        return None, None, f"inputs: the columns have different lengths ({shown}); features not recorded"
    return Columns(names, columns), lengths[0], None


def _pandas_frame(frame: Any, features: tuple[str, ...] | None) -> tuple[Features, int | None, str | None]:
    labels = list(frame.columns)
    if not all(isinstance(label, str) for label in labels) and features is not None and len(features) == len(labels):
        names = list(features)
    else:
        names = [str(label) for label in labels]
    dtypes = set(frame.dtypes)
    if len(dtypes) == 1:
        (dtype,) = dtypes
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            return ArrayRows(frame.to_numpy(copy=True), tuple(names)), len(frame), None
    columns = [_column_copy(frame.iloc[:, j]) for j in range(len(labels))]
    return Columns(names, columns), len(frame), None


def _is_column(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim >= 1
    if isinstance(value, list | tuple | pa.Array | pa.ChunkedArray):
        return True
    return _module(value) in ("pandas", "polars") or tensor_to_numpy(value) is not None


def _column_copy(value: Any) -> Any:
    """A private copy of one column (or an immutable Arrow array)."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    module = _module(value)
    if module == "pandas":
        dtype = value.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufmM":
            return value.to_numpy(copy=True)
        try:
            return pa.array(value, from_pandas=True)
        except Exception:
            return value.to_numpy(dtype=object, copy=True)
    if module == "polars" and hasattr(value, "to_arrow"):
        return value.to_arrow()
    tensor = tensor_to_numpy(value)
    if tensor is not None:
        return np.array(tensor, copy=True)
    return list(value)


def snapshot_values(values: Any, *, what: str) -> tuple[Any, int | None, str | None]:
    """Predictions (or labels): a 1-D array, list or Arrow array, its length, and a problem."""
    if values is None:
        return None, None, None
    if isinstance(values, SCALARS):
        return [values], 1, None
    tensor = tensor_to_numpy(values) if not isinstance(values, np.ndarray) else values
    if tensor is not None:
        if tensor.ndim == 0:
            return [tensor.item()], 1, None
        if tensor.ndim == 2 and tensor.shape[1] == 1:
            tensor = tensor[:, 0]
        if tensor.ndim != 1:
            return (
                None,
                None,
                f"{what}: an array of shape {tensor.shape}; give one value per row "
                "(class probabilities go in scores=); not recorded",
            )
        return np.array(tensor, copy=True), len(tensor), None
    if isinstance(values, Mapping) or (_module(values) == "pandas" and hasattr(values, "columns")):
        return None, None, f"{what}: a {type(values).__name__} holds several values per row; give one; not recorded"
    if isinstance(values, list | tuple | pa.Array | pa.ChunkedArray) or _module(values) in ("pandas", "polars"):
        copied = _column_copy(values)
        return copied, len(copied), None
    return [values], 1, None  # one value of some other type; the writer says if it cannot be stored


def snapshot_scores(scores: Any, rows: int) -> tuple[npt.NDArray[np.float64] | None, str | None]:
    """Scores as float64: shape (rows,) for a positive-class probability, (rows, k) for k classes."""
    if scores is None:
        return None, None
    tensor = tensor_to_numpy(scores)
    source: Any = tensor if tensor is not None else scores
    if _module(source) in ("pandas", "polars"):
        source = source.to_numpy()
    try:
        array = np.array(source, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        return None, f"scores: not numbers ({exc}); scores not recorded"
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 1:
        if len(array) == rows:
            return array, None
        if rows == 1:
            return array.reshape(1, -1), None
    elif array.ndim == 2 and array.shape[0] == rows:
        return (np.ascontiguousarray(array[:, 0]) if array.shape[1] == 1 else array), None
    return None, (
        f"scores: shape {array.shape} does not fit {rows:,} row(s); give one probability per row, "
        "or one row of class probabilities per row; scores not recorded"
    )


def snapshot_side(value: Any, rows: int, *, what: str) -> tuple[Any, str | None]:
    """A per-row argument (latency, subject ids, trace ids, a group): a scalar for every row, or one per row."""
    if value is None or isinstance(value, SCALARS):
        return value, None
    try:
        copied = _column_copy(value)
    except TypeError:
        return value, None  # some other single value
    if len(copied) != rows:
        return None, f"{what}: {len(copied):,} values for {rows:,} row(s); not recorded"
    return copied, None
