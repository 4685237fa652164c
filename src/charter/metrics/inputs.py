"""Turning what users pass (lists, numpy, pandas, polars, pyarrow) into numpy arrays.

Every kernel calls these first, so every kernel accepts every input type the same way,
and a bad input gets one clear error naming the parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]


def _native(values: Any) -> Any:
    """pandas / polars / pyarrow objects to numpy (or lists), without importing those packages."""
    module = type(values).__module__.split(".")[0]
    if module == "pyarrow":
        return values.to_numpy(zero_copy_only=False)
    if module in ("pandas", "polars"):
        return values.to_numpy()
    return values


def as_float_array(values: Any, *, name: str) -> FloatArray:
    """A 1-D float64 array; missing values (None, NaN, pandas/Arrow nulls) become NaN."""
    data = _native(values)
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        try:
            array = np.array([np.nan if v is None else v for v in data], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{name}: values must be numbers ({exc})") from None
    if array.ndim != 1:
        raise InvalidInput(f"{name}: expected one column of values, got an array of shape {array.shape}")
    return array


def _missing(value: Any) -> bool:
    """None, NaN, and pandas' NA/NaT (recognised by type name, so pandas need not be imported)."""
    return (
        value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType", "NaTType")
    )


def as_label_array(values: Any, *, name: str) -> npt.NDArray[Any]:
    """A 1-D object array of category labels (a copy); missing values become None."""
    data = _native(values)
    array = np.array(data, dtype=object)  # a copy: pandas may hand out read-only views
    if array.ndim != 1:
        raise InvalidInput(f"{name}: expected one column of values, got an array of shape {array.shape}")
    array[missing_mask(array)] = None
    return array


def missing_mask(array: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """True where a 1-D array holds a missing value (None, NaN, pandas' NA or NaT)."""
    mask: npt.NDArray[np.bool_]
    if array.dtype.kind in "fc":
        mask = np.isnan(array)
    elif array.dtype.kind != "O":
        mask = np.zeros(array.shape, dtype=bool)
    else:
        try:  # None, and NaN (the one value unequal to itself), in two vectorised passes
            mask = np.asarray((array == None) | (array != array), dtype=bool)  # noqa: E711
        except TypeError:  # pandas' NA refuses to be a truth value: look at each value
            mask = np.frompyfunc(_missing, 1, 1)(array).astype(bool)
    return mask


def is_numeric(values: Any) -> bool:
    """Whether a column holds numbers (booleans count), with at least one present if it is not empty."""
    try:
        array = as_float_array(values, name="column")
    except InvalidInput:
        return False
    return not (len(array) and np.isnan(array).all())


def check_binary(array: FloatArray, *, name: str, missing_reason: str | None = None) -> None:
    """Refuse values other than 0 and 1 (or False and True) in a column of labels.

    With ``missing_reason`` (why every row needs a label), missing values (NaN) are refused
    first, with that reason.
    """
    if missing_reason is not None:
        missing = int(np.count_nonzero(np.isnan(array)))
        if missing:
            raise InvalidInput(
                f"{name}: {missing:,} missing value(s) (NaN or null); {missing_reason}, so drop those rows first"
            )
    other = np.unique(array[(array != 0) & (array != 1)])
    if other.size:
        shown = ", ".join(f"{v:g}" for v in other[:5]) + (", ..." if other.size > 5 else "")
        raise InvalidInput(f"{name}: expected binary labels 0 and 1 (or False and True), got {shown}")


def finite(values: FloatArray) -> FloatArray:
    """The finite values only (NaN and infinities dropped)."""
    return values[np.isfinite(values)]


def same_length(*arrays: tuple[str, npt.NDArray[Any]]) -> None:
    lengths = {name: len(array) for name, array in arrays}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n:,}" for name, n in lengths.items())
        raise InvalidInput(f"the inputs must have the same length: {shown}")
