"""Values as Arrow arrays of the lake's plain types, for the decision logger's writer.

Nothing here raises for bad data: a value that cannot be stored is recorded as null, or as
text as the last resort, and the problem is reported through ``report``. Columns shared by
every row of a batch (:func:`constant`) are slices of one array, and the features of a run
of calls are turned into columns with one copy (:func:`by_columns`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Report = Callable[[str], None]

_CONSTANTS: dict[tuple[Any, pa.DataType], pa.Array] = {}
_KEEP_CONSTANTS = 256  # arrays kept, at most
_KEEP_ROWS = 1 << 16  # rows of an array kept, at most: a bigger batch makes its own


def constant(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    """``value`` (None: null) for every row: a slice of one array kept per value and type.

    Arrays are immutable, so every batch shares it, and a batch costs no memory (and no
    page faults) for its null and constant columns.
    """
    key = (value, type_)
    array = _CONSTANTS.get(key)
    if array is None or len(array) < n:
        array = pa.nulls(n, type_) if value is None else pa.repeat(pa.scalar(value, type=type_), n)
        if n <= _KEEP_ROWS and len(_CONSTANTS) < _KEEP_CONSTANTS:
            _CONSTANTS[key] = array
    return array if len(array) == n else array.slice(0, n)


def to_arrow(values: Any, type_: pa.DataType | None, what: str, report: Report) -> pa.Array:
    """Values as an Arrow array of ``type_`` (None: the values' own type); text as the last resort."""
    try:
        array = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        array = pa.array([text(v) for v in values], type=pa.string())
        if type_ is None or not pa.types.is_string(type_):
            report(f"{what}: values of mixed or unknown types; recorded as text")
    array = plain(array)
    if type_ is None or array.type == type_:
        return array
    try:
        return array.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        report(f"{what}: values of type {array.type} cannot be read as {type_}; recorded as null")
        return pa.nulls(len(array), type_)


def text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def allowed(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_null(type_)
    )


def value_column(values: Any, *, what: str, report: Report) -> pa.Array:
    """Predictions or labels: numbers, booleans or text, one per row; anything else becomes null."""
    n = len(values)
    unstorable = 0  # values already reported as unstorable (and so null)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biufUS":
        array = pa.array(values)  # float NaN stays NaN: a model may well answer NaN
    elif isinstance(values, pa.Array):
        array = values
    else:
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            array, unstorable = _one_by_one(values, what, report)
    array = plain(array)
    if not allowed(array.type):
        report(f"{what}: values of type {array.type} cannot be stored (a number, a boolean or text); recorded as null")
        return pa.nulls(n)
    missing = array.null_count - unstorable
    if missing and not pa.types.is_floating(array.type):
        kind = "text" if pa.types.is_string(array.type) else str(array.type)
        report(
            f"{what}: {missing:,} of {n:,} value(s) missing (None or NaN) among {kind} values; recorded as null"
            if not pa.types.is_null(array.type)
            else f"{what}: all {n:,} value(s) missing (None or NaN); recorded as null"
        )
    return array


def _one_by_one(values: Any, what: str, report: Report) -> tuple[pa.Array, int]:
    kept: list[Any] = []
    bad = 0
    example: Any = None
    for value in values:
        try:
            ok = allowed(pa.array([value], from_pandas=True).type)
        except (pa.ArrowException, TypeError, ValueError):
            ok = False
        if ok:
            kept.append(value)
        else:
            kept.append(None)
            bad, example = bad + 1, (value if example is None else example)
    if bad:
        shown = repr(example)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        report(
            f"{what}: {bad:,} value(s) cannot be stored, e.g. {shown} ({type(example).__name__}); "
            "a value is a number, a boolean or text; recorded as null"
        )
    try:
        return pa.array(kept, from_pandas=True), bad
    except (pa.ArrowException, TypeError, ValueError):
        types = sorted({type(v).__name__ for v in kept if v is not None})
        report(f"{what}: values mix types ({', '.join(types)}); recorded as text")
        return pa.array([text(v) for v in kept], type=pa.string()), bad


def by_columns(blocks: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Blocks of rows (2-D arrays of one dtype and width) stacked and turned: one row per column.

    One copy in all, into memory from Arrow's pool (numbers and booleans), which keeps the
    pages it freed: a fresh NumPy allocation of this size costs more in page faults than
    the copy itself. The result's rows are contiguous, so Arrow takes them without a copy.
    """
    dtype = blocks[0].dtype
    rows = sum(len(block) for block in blocks)
    shape = (blocks[0].shape[1], rows)
    if dtype.kind in "biuf":
        dtype = dtype.newbyteorder("=")
        out: npt.NDArray[Any] = np.frombuffer(pa.allocate_buffer(rows * shape[0] * dtype.itemsize), dtype=dtype)
        out = out.reshape(shape)
    else:
        out = np.empty(shape, dtype=dtype)
    start = 0
    for block in blocks:
        out[:, start : start + len(block)] = block.T
        start += len(block)
    return out


def feature_array(values: Any, name: str, report: Report) -> pa.Array:
    if isinstance(values, np.ndarray) and values.dtype.kind != "O":
        array = pa.array(values)
    elif isinstance(values, pa.Array):
        array = values
    else:
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            report(f"feature {name!r}: values of mixed or unknown types ({exc}); recorded as text")
            array = pa.array([text(v) for v in values], type=pa.string())
    return plain(array)


def plain(array: pa.Array) -> pa.Array:
    """The lake's plain types: categories decoded, 32-bit offsets for text, no 16-bit floats."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    elif pa.types.is_float16(array.type):
        array = array.cast(pa.float32())
    return array
