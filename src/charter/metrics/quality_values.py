"""How the data-quality checks read values: each value's kind, the missing markers, and equality.

A column (list, numpy array, pandas or polars Series, pyarrow Array or ChunkedArray) is
read once into :class:`Values`: each row's kind, and the present values of each kind in row
order. Typed inputs stay in Arrow and are never looped over in Python; only Python objects
(lists, object arrays, where one column may mix kinds) are classified value by value.

Kinds: a missing value is a null marker (None, NaN, pandas NA/NaT, Arrow null) or the empty
string, kept apart because rows are compared as stored; a present value is a number (ints,
floats, decimals; not booleans), text, a boolean, a datetime (dates, datetimes, timestamps)
or other (bytes, durations, lists, ...).

Equality (:func:`value_codes`): numbers by value (``1 == 1.0``, ``-0.0 == 0.0``), other
values exactly; values of different kinds are never equal. Used by :mod:`charter.metrics.quality`;
no metrics are registered here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import InvalidInput

#: A column of values: list, numpy array, pandas Series, polars Series or pyarrow (Chunked)Array.
Column: TypeAlias = Any
#: A table: a mapping of column name to column, a pandas or polars DataFrame, a pyarrow Table.
Table: TypeAlias = Any
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]

#: Text that reads as a number: optional sign, digits with an optional point (or a leading
#: point), optional exponent, spaces around. Not "nan", "inf" or thousands separators.
NUMBER_TEXT = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"

#: How many failing values a check shows, most frequent first.
EXAMPLES = 5

NULL, BLANK, NUMBER, TEXT, BOOLEAN, DATETIME, OTHER = range(7)
#: The names of the present kinds, NUMBER onwards.
KINDS = ("number", "text", "boolean", "datetime", "other")


@dataclass(frozen=True)
class Values:
    """A column read once: each row's kind, and each present kind's values in row order.

    Numbers, text and booleans are Arrow arrays; datetimes and other values that came as
    Python objects stay a numpy object array.
    """

    kinds: npt.NDArray[np.int8]
    parts: dict[int, Any]
    _codes: list[IntArray] = field(default_factory=list, compare=False, repr=False)  # value_codes([self]), once

    @property
    def rows(self) -> int:
        return len(self.kinds)

    @property
    def present(self) -> BoolArray:
        return self.kinds >= NUMBER


class NotComparable(Exception):
    """Values that neither Arrow nor Python can hash (lists, dicts, structs)."""


def read_column(values: Column, *, name: str) -> Values:
    if isinstance(values, Values):
        return values
    if isinstance(values, pa.Table | pa.RecordBatch) or hasattr(values, "columns"):
        raise InvalidInput(f"{name}: expected one column of values, got a table ({type(values).__name__})")
    array = _arrow(values, name=name)
    return _from_objects(_objects(values, name=name)) if array is None else _from_arrow(array)


def _arrow(values: Column, *, name: str) -> Any:
    """A typed Arrow array for a typed input, None for Python objects (lists, object arrays)."""
    module = type(values).__module__.split(".")[0]
    array: Any = None
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values
    elif module == "polars" and str(values.dtype) != "Object":
        array = values.to_arrow()  # (not for an Object column: its Arrow form is pointers)
    elif module == "pandas" and str(values.dtype) != "object":
        try:
            array = pa.Array.from_pandas(values)
        except (pa.ArrowException, TypeError, ValueError):
            return None
    elif isinstance(values, np.ndarray) and values.dtype != object:
        if values.ndim != 1:
            raise InvalidInput(f"{name}: expected one column of values, got an array of shape {values.shape}")
        try:
            array = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError):  # complex numbers and the like
            return None
    if array is None:
        return None
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if _is_text(array.type) and not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())  # string views, and one string type for joining
    return array


def _objects(values: Column, *, name: str) -> npt.NDArray[Any]:
    module = type(values).__module__.split(".")[0]
    data = values.to_numpy() if module in ("pandas", "polars") else values
    array = np.array(data, dtype=object)  # a copy, never a read-only view
    if array.ndim != 1:
        raise InvalidInput(f"{name}: expected one column of values, got an array of shape {array.shape}")
    return array


def _is_text(dtype: Any) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)  # string_view: pyarrow 16+
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or is_view(dtype))


def _arrow_kind(dtype: Any) -> int | None:
    types = pa.types
    if types.is_null(dtype):
        return None
    if types.is_integer(dtype) or types.is_floating(dtype) or types.is_decimal(dtype):
        return NUMBER
    if _is_text(dtype):
        return TEXT
    if types.is_boolean(dtype):
        return BOOLEAN
    if types.is_date(dtype) or types.is_timestamp(dtype):
        return DATETIME
    return OTHER


def _from_arrow(array: Any) -> Values:
    kind = _arrow_kind(array.type)
    if kind is None:
        return Values(np.full(len(array), NULL, dtype=np.int8), {})
    kinds = np.full(len(array), kind, dtype=np.int8)
    kinds[pc.is_null(array, nan_is_null=True).to_numpy(zero_copy_only=False)] = NULL
    if kind == TEXT:
        kinds[pc.fill_null(pc.equal(array, ""), False).to_numpy(zero_copy_only=False)] = BLANK
    present = kinds == kind
    if not present.any():
        return Values(kinds, {})
    return Values(kinds, {kind: array if present.all() else array.filter(pa.array(present))})


_EXACT_KINDS: dict[type, int] = {str: TEXT, float: NUMBER, int: NUMBER, bool: BOOLEAN, type(None): NULL}


def _kind_of(value: Any) -> int:
    kind = _EXACT_KINDS.get(type(value))
    if kind == TEXT:
        return BLANK if value == "" else TEXT
    if kind == NUMBER:
        return NULL if value != value else NUMBER  # NaN
    if kind is not None:
        return kind
    if isinstance(value, str):
        return BLANK if value == "" else TEXT
    if isinstance(value, bool | np.bool_):
        return BOOLEAN
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' markers, without importing pandas
        return NULL
    if isinstance(value, np.datetime64 | np.timedelta64):  # before numbers: timedelta64 is an np.integer
        return NULL if np.isnat(value) else DATETIME if isinstance(value, np.datetime64) else OTHER
    if isinstance(value, decimal.Decimal):
        return NULL if value.is_nan() else NUMBER
    if isinstance(value, numbers.Real):
        return NULL if value != value else NUMBER
    if isinstance(value, dt.date):
        return DATETIME
    return OTHER


_kinds_of = np.frompyfunc(_kind_of, 1, 1)


def _from_objects(data: npt.NDArray[Any]) -> Values:
    with np.errstate(invalid="ignore"):  # NaN != NaN is how a NaN is found
        kinds = _kinds_of(data).astype(np.int8) if data.size else np.zeros(0, dtype=np.int8)
    parts = {int(k): _part(int(k), data[kinds == k]) for k in np.unique(kinds[kinds >= NUMBER])}
    return Values(kinds, parts)


def _part(kind: int, values: npt.NDArray[Any]) -> Any:
    if kind == TEXT:
        return pa.array(values, type=pa.large_string())
    if kind == BOOLEAN:
        return pa.array(values.astype(bool))
    if kind == NUMBER:
        try:  # ints stay ints (exact when compared), decimals decimals
            array = pa.array(values)
            if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type):
                return array
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
        return pa.array(values.astype(np.float64))
    return values  # datetimes and others: Arrow would quietly coerce a mix (dates with datetimes)


def main_kind(column: Values) -> int | None:
    counts = np.bincount(column.kinds, minlength=OTHER + 1)[NUMBER:]
    return None if counts.sum() == 0 else NUMBER + int(np.argmax(counts))


def subset(column: Values, mask: BoolArray) -> Values:
    parts = {}
    for kind, part in column.parts.items():
        keep = mask[column.kinds == kind]
        if keep.any():
            parts[kind] = part.filter(pa.array(keep)) if isinstance(part, pa.Array) else part[keep]
    return Values(column.kinds[mask], parts)


def value_at(column: Values, row: int) -> Any:
    kind = int(column.kinds[row])
    if kind in (NULL, BLANK):
        return None if kind == NULL else ""
    value = column.parts[kind][int(np.count_nonzero(column.kinds[:row] == kind))]
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    return value.item() if isinstance(value, np.generic) else value


def number_text_rows(column: Values) -> BoolArray:
    """Rows holding text that reads as a number."""
    rows = np.zeros(column.rows, dtype=bool)
    if TEXT in column.parts:
        matches = pc.match_substring_regex(column.parts[TEXT], NUMBER_TEXT)
        rows[column.kinds == TEXT] = matches.to_numpy(zero_copy_only=False)
    return rows


def as_numbers(column: Values) -> tuple[BoolArray, npt.NDArray[np.float64]]:
    """Which rows are numbers (numeric text included), and their values as floats (NaN elsewhere)."""
    values = np.full(column.rows, np.nan)
    is_number = column.kinds == NUMBER
    if NUMBER in column.parts:
        values[is_number] = column.parts[NUMBER].cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    text = number_text_rows(column)
    if text.any():
        values[text] = np.asarray(subset(column, text).parts[TEXT].to_pylist(), dtype=np.float64)
        is_number |= text
    return is_number, values


# --- comparing values ------------------------------------------------------------------


def value_codes(columns: Sequence[Values]) -> list[IntArray]:
    """Per row, a code equal for equal values across all the columns: -1 null, -2 ``""``.

    Raises NotComparable when some values cannot be hashed.
    """
    if len(columns) == 1 and columns[0]._codes:
        return [columns[0]._codes[0]]
    codes = [np.where(c.kinds == BLANK, -2, -1).astype(np.int64) for c in columns]
    offset = 0
    for kind in range(NUMBER, OTHER + 1):
        holders = [i for i, c in enumerate(columns) if kind in c.parts]
        if not holders:
            continue
        pieces, size = _factorize([columns[i].parts[kind] for i in holders])
        for i, piece in zip(holders, pieces, strict=True):
            codes[i][columns[i].kinds == kind] = piece + offset
        offset += size
    if len(columns) == 1:
        columns[0]._codes.append(codes[0])
    return codes


def _factorize(parts: list[Any]) -> tuple[list[IntArray], int]:
    joined = _join(parts) if all(isinstance(p, pa.Array) for p in parts) else None
    if joined is not None:
        try:
            encoded = pc.dictionary_encode(joined)
        except pa.ArrowNotImplementedError:
            raise NotComparable(f"Arrow cannot compare {joined.type} values") from None
        flat = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        size = len(encoded.dictionary)
    else:  # Python objects, or Arrow arrays of types Arrow cannot join
        objects: list[Any] = []
        for part in parts:
            objects.extend(part.to_pylist() if isinstance(part, pa.Array) else part.tolist())
        seen: dict[Any, int] = {}
        try:
            flat = np.array([seen.setdefault(v, len(seen)) for v in objects], dtype=np.int64)
        except TypeError as exc:  # unhashable: lists, dicts
            raise NotComparable(str(exc)) from None
        size = len(seen)
    return np.split(flat, np.cumsum([len(p) for p in parts])[:-1]), size


def _join(parts: list[Any]) -> Any:
    """One Arrow array of one type, or None when the parts' types cannot be cast to one."""
    types = {p.type for p in parts}
    if len(types) > 1:
        if all(pa.types.is_integer(t) for t in types):
            target = pa.int64()
        elif all(_arrow_kind(t) == NUMBER for t in types):
            target = pa.float64()
        elif all(pa.types.is_timestamp(t) or pa.types.is_date(t) for t in types):
            target = pa.timestamp("us")
        else:
            return None
        try:
            parts = [p.cast(target) for p in parts]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    joined = pa.concat_arrays(parts)
    if pa.types.is_float32(joined.type) or pa.types.is_float64(joined.type):
        joined = pc.add(joined, pa.scalar(0.0, joined.type))  # -0.0 becomes 0.0
    return joined


def comparable_codes(reference: Values, current: Values) -> tuple[IntArray, IntArray]:
    try:
        ref, cur = value_codes([reference, current])
    except NotComparable as exc:
        raise InvalidInput(f"reference and current: the values cannot be compared with each other ({exc})") from None
    return ref, cur


def count_distinct(codes: IntArray) -> int:
    """How many distinct values the codes stand for (missing ones not counted)."""
    seen = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
    seen[codes[codes >= 0]] = True
    return int(np.count_nonzero(seen))


def failing_examples(column: Values, mask: BoolArray) -> tuple[Any, ...]:
    """The failing values, most frequent first (ties: first seen first), at most EXAMPLES."""
    if not mask.any():
        return ()
    failing = subset(column, mask)
    try:
        codes = value_codes([failing])[0]
    except NotComparable:
        return tuple(value_at(failing, row) for row in range(min(EXAMPLES, failing.rows)))
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))[:EXAMPLES]
    return tuple(value_at(failing, int(first[i])) for i in order)


# --- tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableValues:
    """A table's columns as given, read into :class:`Values` on first use (once)."""

    name: str
    columns: dict[str, Any]
    rows: int
    _read: dict[str, Values] = field(default_factory=dict, compare=False, repr=False)

    def read(self, column: str) -> Values:
        if column not in self._read:
            self._read[column] = read_column(self.columns[column], name=f"{self.name} column {column!r}")
        return self._read[column]


def read_table(values: Table, *, name: str) -> TableValues:
    """A table's columns by name, checked for unique names and one length."""
    if isinstance(values, TableValues):
        return values
    module = type(values).__module__.split(".")[0]
    if isinstance(values, pa.Table | pa.RecordBatch):
        names, rows = list(values.column_names), values.num_rows
        columns = [values.column(i) for i in range(values.num_columns)]
    elif module == "pandas" and hasattr(values, "columns") and hasattr(values, "iloc"):
        names, rows = [str(c) for c in values.columns], len(values)
        columns = [values.iloc[:, i] for i in range(len(names))]
    elif module == "polars" and hasattr(values, "get_column"):
        names, rows = list(values.columns), values.height
        columns = [values.get_column(n) for n in names]
    elif isinstance(values, Mapping):
        for key in values:
            if not isinstance(key, str):
                raise InvalidInput(f"{name}: column names must be text, got {key!r}")
        names, columns = list(values), list(values.values())
        rows = _length(columns[0], name=f"{name} column {names[0]!r}") if columns else 0
    else:
        raise InvalidInput(
            f"{name}: expected a table (a dict of columns, a pandas or polars DataFrame, or a pyarrow Table), "
            f"got {type(values).__name__}"
        )
    for i, column in enumerate(names):
        if column in names[:i]:
            raise InvalidInput(f"{name}: column {column!r} appears more than once; column names must be unique")
    lengths = {c: _length(v, name=f"{name} column {c!r}") for c, v in zip(names, columns, strict=True)}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{column!r} has {n:,}" for column, n in lengths.items())
        raise InvalidInput(f"{name}: the columns must have the same length: {shown}")
    return TableValues(name, dict(zip(names, columns, strict=True)), rows)


def _length(values: Any, *, name: str) -> int:
    if isinstance(values, str | bytes | Mapping):
        raise InvalidInput(f"{name}: expected a column of values, got {type(values).__name__}")
    try:
        return len(values)
    except TypeError:
        raise InvalidInput(f"{name}: expected a column of values, got {type(values).__name__}") from None


def distinct_rows(codes: list[IntArray], rows: int) -> int:
    """How many distinct rows the columns' codes make (Arrow hashes them together)."""
    if not codes or rows == 0:
        return rows
    table = pa.table({str(i): column for i, column in enumerate(codes)})
    return int(table.group_by(table.column_names).aggregate([]).num_rows)


def format_number(value: float) -> str:
    """A bound for a message: whole numbers without a point, others as Python writes them."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
