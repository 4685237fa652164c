"""Data quality of a current window against a reference: missing values, types, ranges, categories, schema.

Per-column kernels take ``(reference, current)`` first, each a list, numpy array, pandas
Series, polars Series or pyarrow (Chunked)Array, of any lengths: :func:`missing_share`,
:func:`type_violation_share`, :func:`out_of_range_share`, :func:`unseen_category_share`,
:func:`constant_column`. Table-level kernels take two tables (a dict of columns, a pandas or
polars DataFrame, a pyarrow Table or RecordBatch): :func:`schema_violations`,
:func:`constant_columns`, :func:`duplicate_row_share`, :func:`row_count_change`.
:func:`charter.metrics.quality_report.quality_report` runs them all; how values are read and
compared is :mod:`charter.metrics.quality_values`.

Definitions:

- **Missing**: None, NaN, pandas NA and NaT, Arrow null, and the empty string ``""``
  (a CSV file cannot tell an empty field from a missing one; the dataset registration
  check counts them the same way). Whitespace (``" "``) is a value.
- **Kinds**: number (ints, floats, decimals; not booleans), text, boolean, datetime (dates,
  datetimes, timestamps), other (bytes, durations, lists, ...). A column's kind is the kind
  most of its present values have (ties: in that order).
- **Type violation**: a present value whose kind is not the reference column's kind. In a
  number column, text that reads as a number (``"3.5"``, ``" 8 "``, ``"1e3"``; the pattern is
  ``quality_values.NUMBER_TEXT``) is a number, but ``"abc"``, ``"n/a"``, ``"nan"`` and
  ``"inf"`` are not.
- **Out of range**: a present number (numeric text included) below ``low`` or above ``high``;
  the bounds are inclusive and ±inf is always out of range. The bounds are the reference's
  finite minimum and maximum unless declared (``bounds=(low, high)``, None for an open side).
- **Unseen category**: a present value equal to no present reference value. Numbers compare
  by value (``1 == 1.0``, so an int column that pandas turned into floats still matches);
  values of different kinds never match (``1``, ``"1"`` and ``True`` differ).
- **Shares**: the missing share is over all rows; the type, range and category shares are
  over the present values, so a missing value is counted once, as missing. An empty
  window (or one with no present values) has shares of 0.0, not an error: the row-count
  check is the one that flags it. A reference with no present values leaves nothing to
  take a kind, a range or categories from, and raises :class:`~charter.errors.InvalidInput`.
- **Against the reference**: every share check also runs on the reference
  (``reference_share``), and its threshold applies to ``increase = share - reference_share``,
  so a column that was 30% missing in training and is 30% missing now passes. Where the
  reference defines the rule (its kind, range or categories) its share is 0 or close to it.
- **Duplicate rows** repeat an earlier identical row. Values compare as stored: every null
  marker (None, NaN, NA, null) equals every other, ``""`` is a value of its own (as in
  ``pandas.DataFrame.duplicated``), numbers compare by value. Columns whose values cannot be
  compared (lists, dicts) are left out and named in ``not_compared``.

A check fails when its value is above its threshold (strictly, as the dataset registration
check does with missing values), so a threshold of 0 means "any".

Registered ids and default thresholds:

    quality.missing_share          increase > 0.05  (the 5% the dataset registration check uses)
    quality.type_violation_share   increase > 0     (a value of the wrong type is a bug: no natural rate)
    quality.out_of_range_share     increase > 0.05  (n reference values from the same distribution leave
                                                     2 / (n + 1) of new values outside their range by
                                                     chance, under 1% from n = 200: 5% is a real shift)
    quality.unseen_category_share  increase > 0.05  (long-tailed categories miss rare values by chance,
                                                     as above; tighten per column where the list is closed)
    quality.constant_columns       count > 0        (columns constant now but not in the reference)
    quality.schema_violations      count > 0        (missing and extra columns, changed kinds)
    quality.duplicate_row_share    increase > 0.05
    quality.row_count_change       |change| > 0.1   (Evidently's default: rows within 10% of the expected)
"""

from __future__ import annotations

import decimal
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from charter.errors import InvalidInput
from charter.metrics.quality_values import (
    KINDS,
    NUMBER,
    BoolArray,
    Column,
    NotComparable,
    Table,
    TableValues,
    Values,
    as_numbers,
    comparable_codes,
    count_distinct,
    distinct_rows,
    failing_examples,
    format_number,
    main_kind,
    number_text_rows,
    read_column,
    read_table,
    value_at,
    value_codes,
)
from charter.metrics.registry import Direction, register

#: Default thresholds of the registered checks (a check fails above its threshold).
THRESHOLDS: dict[str, float] = {
    "quality.missing_share": 0.05,
    "quality.type_violation_share": 0.0,
    "quality.out_of_range_share": 0.05,
    "quality.unseen_category_share": 0.05,
    "quality.constant_columns": 0.0,
    "quality.schema_violations": 0.0,
    "quality.duplicate_row_share": 0.05,
    "quality.row_count_change": 0.1,
}


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareCheck:
    count: int  # current values that fail the check
    total: int  # what the share is of: current rows (missing) or present current values (the others)
    share: float  # count / total, 0.0 when total is 0
    reference_share: float  # the same check on the reference
    increase: float  # share - reference_share: the value the threshold applies to
    examples: tuple[Any, ...] = ()  # up to EXAMPLES failing values, most frequent first


@dataclass(frozen=True)
class RangeCheck(ShareCheck):
    low: float | None = None  # None: open below
    high: float | None = None  # None: open above
    declared: bool = False  # the bounds were given, not taken from the reference


@dataclass(frozen=True)
class ConstantCheck:
    distinct: int  # distinct present values in the current
    reference_distinct: int
    values: int  # present values in the current
    constant: bool  # exactly one distinct present value (the dataset registration check's rule)
    became_constant: bool  # constant, from at least two values, where the reference was not
    value: Any = None  # the one value, when constant


@dataclass(frozen=True)
class TypeChange:
    column: str
    reference: str
    current: str


@dataclass(frozen=True)
class SchemaCheck:
    missing_columns: tuple[str, ...]  # in the reference, not in the current (reference order)
    extra_columns: tuple[str, ...]  # in the current, not in the reference (current order)
    type_changes: tuple[TypeChange, ...]  # columns whose kind changed (reference order)
    violations: int  # all of the above: the value the threshold applies to


@dataclass(frozen=True)
class ConstantColumns:
    columns: tuple[str, ...]  # columns that became constant, in reference order
    values: tuple[Any, ...]  # the one value of each
    count: int  # the value the threshold applies to


@dataclass(frozen=True)
class DuplicateRows:
    rows: int
    duplicates: int  # rows that repeat an earlier identical row
    share: float  # duplicates / rows, 0.0 without rows
    not_compared: tuple[str, ...] = ()  # columns left out: their values cannot be compared


@dataclass(frozen=True)
class DuplicateCheck(ShareCheck):
    not_compared: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowCountCheck:
    rows: int
    expected: int
    change: float  # (rows - expected) / expected; the threshold applies to its absolute value


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _result(failing: BoolArray, total: int, reference_failing: BoolArray, reference_total: int) -> dict[str, Any]:
    count = int(np.count_nonzero(failing))
    share = _share(count, total)
    reference_share = _share(int(np.count_nonzero(reference_failing)), reference_total)
    return {
        "count": count,
        "total": total,
        "share": share,
        "reference_share": reference_share,
        "increase": share - reference_share,
    }


def _present(column: Values) -> int:
    return int(np.count_nonzero(column.present))


def _empty(name: str) -> str:
    return f'{name} is empty: no values are left after dropping missing ones (None, NaN, "")'


# --- per-column kernels ----------------------------------------------------------------


def missing_share(reference: Column, current: Column) -> ShareCheck:
    """Share of the current's rows that are missing, against the reference's share."""
    ref, cur = read_column(reference, name="reference"), read_column(current, name="current")
    return ShareCheck(**_result(~cur.present, cur.rows, ~ref.present, ref.rows))


def type_violation_share(reference: Column, current: Column) -> ShareCheck:
    """Share of the current's present values whose kind is not the reference column's kind.

    Numeric text counts as a number; booleans do not. The reference's own share counts its
    values of a minority kind.
    """
    ref, cur = read_column(reference, name="reference"), read_column(current, name="current")
    kind = main_kind(ref)
    if kind is None:
        raise InvalidInput(_empty("reference"))
    failing = _off_kind(cur, kind)
    checked = _result(failing, _present(cur), _off_kind(ref, kind), _present(ref))
    return ShareCheck(**checked, examples=failing_examples(cur, failing))


def _off_kind(column: Values, kind: int) -> BoolArray:
    failing: BoolArray = column.present & (column.kinds != kind)
    if kind == NUMBER:
        failing &= ~number_text_rows(column)
    return failing


def out_of_range_share(
    reference: Column, current: Column, *, bounds: tuple[float | None, float | None] | None = None
) -> RangeCheck:
    """Share of the current's present values that are numbers outside ``[low, high]`` (±inf always).

    ``bounds`` declares the range (None for an open side); without it the range is the
    reference's finite minimum and maximum. Values that are not numbers are type violations,
    not out of range, and count as in range here.
    """
    ref, cur = read_column(reference, name="reference"), read_column(current, name="current")
    low: float | None
    high: float | None
    if bounds is None:
        is_number, values = as_numbers(ref)
        finite = values[is_number & np.isfinite(values)]
        if finite.size == 0:
            raise InvalidInput("reference has no finite numbers to take a range from; give bounds=(low, high)")
        low, high = float(finite.min()), float(finite.max())
    else:
        low, high = check_bounds(bounds, name="bounds")
    failing = _outside(cur, low, high)
    checked = _result(failing, _present(cur), _outside(ref, low, high), _present(ref))
    examples = failing_examples(cur, failing)
    return RangeCheck(**checked, examples=examples, low=low, high=high, declared=bounds is not None)


def _outside(column: Values, low: float | None, high: float | None) -> BoolArray:
    is_number, values = as_numbers(column)
    outside = is_number & ~np.isfinite(values)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    return outside


def check_bounds(bounds: Any, *, name: str) -> tuple[float | None, float | None]:
    """``(low, high)`` as floats (None for an open side), or InvalidInput naming ``name``."""
    if isinstance(bounds, str | bytes | Mapping) or not hasattr(bounds, "__len__") or len(bounds) != 2:
        raise InvalidInput(f"{name} must be a pair (low, high) of numbers, or None for an open side; got {bounds!r}")
    low, high = (_bound(value, name=name) for value in tuple(bounds))
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{name}: low {format_number(low)} is above high {format_number(high)}")
    return low, high


def _bound(value: Any, *, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real | decimal.Decimal):
        raise InvalidInput(f"{name}: {value!r} is not a number (give a number, or None for an open side)")
    number = float(value)
    if not np.isfinite(number):
        raise InvalidInput(f"{name}: {value!r} is not a finite number (give None for an open side)")
    return number


def unseen_category_share(reference: Column, current: Column) -> ShareCheck:
    """Share of the current's present values that equal no present value of the reference."""
    ref, cur = read_column(reference, name="reference"), read_column(current, name="current")
    if not ref.present.any():
        raise InvalidInput(_empty("reference"))
    ref_codes, cur_codes = comparable_codes(ref, cur)
    failing = (cur_codes >= 0) & ~np.isin(cur_codes, ref_codes[ref_codes >= 0])
    checked = _result(failing, _present(cur), np.zeros(0, dtype=bool), _present(ref))
    return ShareCheck(**checked, examples=failing_examples(cur, failing))


def constant_column(reference: Column, current: Column) -> ConstantCheck:
    """Whether the current holds one distinct value, and whether it became so.

    Constant means exactly one distinct present value, as the dataset registration check
    counts it. A column *became* constant when the current is constant over at least two
    present values (one value alone says nothing) and the reference has two or more.
    """
    ref, cur = read_column(reference, name="reference"), read_column(current, name="current")
    ref_codes, cur_codes = comparable_codes(ref, cur)
    distinct, reference_distinct, values = count_distinct(cur_codes), count_distinct(ref_codes), _present(cur)
    constant = distinct == 1
    return ConstantCheck(
        distinct=distinct,
        reference_distinct=reference_distinct,
        values=values,
        constant=constant,
        became_constant=constant and values >= 2 and reference_distinct >= 2,
        value=value_at(cur, int(np.argmax(cur.present))) if constant else None,
    )


# --- single columns and tables, for the dataset registration check ----------------------


def missing_mask(values: Column) -> BoolArray:
    """For each value, whether it is missing (None, NaN, pandas NA/NaT, Arrow null, ``""``)."""
    return ~read_column(values, name="values").present


def distinct_count(values: Column) -> int | None:
    """The number of distinct present values; None when they cannot be compared (lists, structs)."""
    try:
        return count_distinct(value_codes([read_column(values, name="values")])[0])
    except NotComparable:
        return None


def is_number_text(values: Column) -> BoolArray:
    """For each value, whether it is text that reads as a number (``NUMBER_TEXT``)."""
    return number_text_rows(read_column(values, name="values"))


def column_kind(values: Column) -> str | None:
    """The kind most present values have (number, text, boolean, datetime, other); None without any."""
    kind = main_kind(read_column(values, name="values"))
    return None if kind is None else KINDS[kind - NUMBER]


def duplicate_rows(table: Table) -> DuplicateRows:
    """Rows of one table that repeat an earlier identical row, over all its columns."""
    read = read_table(table, name="table")
    return _duplicates(read, list(read.columns))


def _duplicates(table: TableValues, columns: Sequence[str]) -> DuplicateRows:
    codes, not_compared = [], []
    for column in columns:
        try:
            codes.append(value_codes([table.read(column)])[0])
        except NotComparable:
            not_compared.append(column)
    duplicates = table.rows - distinct_rows(codes, table.rows)
    return DuplicateRows(table.rows, duplicates, _share(duplicates, table.rows), tuple(not_compared))


# --- table-level kernels ---------------------------------------------------------------


def schema_violations(reference: Table, current: Table) -> SchemaCheck:
    """Columns missing from the current, columns the reference lacks, and columns whose kind changed.

    A column's kind is the one most of its present values have; a column without present
    values on either side has no kind to compare. Ints and floats are both numbers, so an int
    column that pandas turned into floats (because of a missing value) is no change.
    """
    ref, cur = read_table(reference, name="reference"), read_table(current, name="current")
    missing = tuple(c for c in ref.columns if c not in cur.columns)
    extra = tuple(c for c in cur.columns if c not in ref.columns)
    changes = []
    for column in (c for c in ref.columns if c in cur.columns):
        was, now = main_kind(ref.read(column)), main_kind(cur.read(column))
        if was is not None and now is not None and was != now:
            changes.append(TypeChange(column, KINDS[was - NUMBER], KINDS[now - NUMBER]))
    return SchemaCheck(missing, extra, tuple(changes), len(missing) + len(extra) + len(changes))


def constant_columns(reference: Table, current: Table) -> ConstantColumns:
    """The columns (of both tables) that became constant: see :func:`constant_column`.

    Columns whose values cannot be compared (lists, dicts) are skipped.
    """
    ref, cur = read_table(reference, name="reference"), read_table(current, name="current")
    found: list[tuple[str, Any]] = []
    for column in (c for c in ref.columns if c in cur.columns):
        before, now = ref.read(column), cur.read(column)
        try:
            check = constant_column(before, now)
        except InvalidInput:  # values that cannot be compared
            continue
        if check.became_constant:
            found.append((column, check.value))
    return ConstantColumns(tuple(c for c, _ in found), tuple(v for _, v in found), len(found))


def duplicate_row_share(reference: Table, current: Table) -> DuplicateCheck:
    """Share of the current's rows that repeat an earlier row, against the reference's share.

    Both tables are compared over the reference's columns that the current has too.
    """
    ref, cur = read_table(reference, name="reference"), read_table(current, name="current")
    columns = [c for c in ref.columns if c in cur.columns]
    before, now = _duplicates(ref, columns), _duplicates(cur, columns)
    return DuplicateCheck(
        count=now.duplicates,
        total=now.rows,
        share=now.share,
        reference_share=before.share,
        increase=now.share - before.share,
        not_compared=tuple(dict.fromkeys(before.not_compared + now.not_compared)),
    )


def row_count_change(reference: Table, current: Table, *, expected_rows: int | None = None) -> RowCountCheck:
    """The current's rows against ``expected_rows`` (default: the reference's), as a relative change."""
    ref, cur = read_table(reference, name="reference"), read_table(current, name="current")
    if expected_rows is None:
        if ref.rows == 0:
            raise InvalidInput("reference has no rows, so there is no row count to expect; give expected_rows")
        expected = ref.rows
    else:
        expected = check_expected_rows(expected_rows)
    return RowCountCheck(cur.rows, expected, (cur.rows - expected) / expected)


def check_expected_rows(expected_rows: Any) -> int:
    """``expected_rows`` as an int, or InvalidInput when it is not a whole number of at least 1."""
    if isinstance(expected_rows, bool) or not isinstance(expected_rows, int | np.integer) or expected_rows < 1:
        raise InvalidInput(f"expected_rows must be a whole number of at least 1, got {expected_rows!r}")
    return int(expected_rows)


# --- registration ----------------------------------------------------------------------

_WORSE: Direction = "higher_is_worse"
_INCREASE = "fails when the result's increase over the reference's share is above"
_SUMMARIES: dict[str, tuple[Any, str]] = {
    "quality.missing_share": (missing_share, f"Share of missing values (None, NaN, null, ''); {_INCREASE} 0.05."),
    "quality.type_violation_share": (
        type_violation_share,
        f"Share of present values not of the reference's kind (numeric text is a number); {_INCREASE} 0.",
    ),
    "quality.out_of_range_share": (
        out_of_range_share,
        f"Share of numbers outside the reference's [min, max] or a declared range, inf always; {_INCREASE} 0.05.",
    ),
    "quality.unseen_category_share": (
        unseen_category_share,
        f"Share of present values the reference never had; {_INCREASE} 0.05.",
    ),
    "quality.constant_columns": (
        constant_columns,
        "Columns constant in the current window but not in the reference; fails when the count is above 0.",
    ),
    "quality.schema_violations": (
        schema_violations,
        "Missing columns, extra columns and changed column kinds; fails when the count is above 0.",
    ),
    "quality.duplicate_row_share": (
        duplicate_row_share,
        f"Share of rows repeating an earlier row; {_INCREASE} 0.05.",
    ),
    "quality.row_count_change": (
        row_count_change,
        "(rows - expected) / expected, expected the reference's rows by default; fails when |change| > 0.1.",
    ),
}
for _id, (_function, _summary) in _SUMMARIES.items():
    register(_id, _function, direction=_WORSE, threshold=THRESHOLDS[_id], summary=_summary)
