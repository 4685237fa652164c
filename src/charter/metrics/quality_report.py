"""The data-quality report: every check of :mod:`charter.metrics.quality`, per column and per table.

Which checks run on a column depends on the reference column's kind (the kind most of its
present values have):

==========================  ===============================================================
column                      checks
==========================  ===============================================================
every column                missing values; became constant
with values in reference    type violations
number (or a declared       out of range (the reference's [min, max], or ``ranges[column]``)
range)
text or boolean             unseen categories
==========================  ===============================================================

Then, for the tables: schema (missing, extra and changed columns), duplicate rows and the
row count (against ``expected_rows``, by default the reference's). A check that cannot run
(a reference column without values, values that cannot be compared) is named in ``notes``.

``thresholds`` overrides the defaults of :data:`charter.metrics.quality.THRESHOLDS`: a key that
is a check id sets it for the whole report (``{"quality.missing_share": 0.1}``); a key that is
a column sets that column's per-column checks (``{"income": {"quality.missing_share": 0.3}}``).
A check fails when its value is above its threshold; each failure gives one sentence in
``issues``, in column order, then the table-level ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from charter.errors import InvalidInput
from charter.metrics import quality
from charter.metrics.quality import (
    ConstantCheck,
    DuplicateCheck,
    RangeCheck,
    RowCountCheck,
    SchemaCheck,
    ShareCheck,
    TypeChange,
)
from charter.metrics.quality_values import KINDS, NUMBER, Table, Values, format_number, main_kind, read_table

#: The checks run on each column, which a column's entry in ``thresholds`` may set.
COLUMN_CHECKS = (
    "quality.missing_share",
    "quality.type_violation_share",
    "quality.out_of_range_share",
    "quality.unseen_category_share",
)
_SHARES = (*COLUMN_CHECKS, "quality.duplicate_row_share")
_NOUNS = {  # what a value of the column should be: one, several
    "number": ("a number", "numbers"),
    "text": ("text", "text"),
    "boolean": ("a boolean", "booleans"),
    "datetime": ("a date or time", "dates or times"),
}


@dataclass(frozen=True)
class ColumnQuality:
    column: str
    kind: str | None  # the reference column's kind; None when it has no present values
    missing: ShareCheck
    type_violations: ShareCheck | None = None
    out_of_range: RangeCheck | None = None
    unseen_categories: ShareCheck | None = None
    constant: ConstantCheck | None = None
    failed: tuple[str, ...] = ()  # ids of the checks this column fails


@dataclass(frozen=True)
class QualityReport:
    rows: int
    reference_rows: int
    columns: tuple[ColumnQuality, ...]  # the reference's columns that the current has, in reference order
    schema: SchemaCheck
    duplicates: DuplicateCheck
    row_count: RowCountCheck
    failed: tuple[str, ...]  # ids of the checks that fail anywhere, in THRESHOLDS order
    issues: tuple[str, ...]  # one sentence per failure: columns in order, then the tables
    notes: tuple[str, ...] = ()  # checks that could not run, and why

    @property
    def passed(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {**_plain(self), "passed": self.passed}


def quality_report(
    reference: Table,
    current: Table,
    *,
    ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
    expected_rows: int | None = None,
    thresholds: Mapping[str, float | Mapping[str, float]] | None = None,
) -> QualityReport:
    """Run every data-quality check of ``current`` against ``reference`` (both tables)."""
    ref, cur = read_table(reference, name="reference"), read_table(current, name="current")
    bounds = _ranges(ranges or {}, ref.columns)
    overall, by_column = _thresholds(thresholds or {}, ref.columns)
    if expected_rows is not None:
        quality.check_expected_rows(expected_rows)
    columns, notes = [], []
    for column in (c for c in ref.columns if c in cur.columns):
        limits = {**overall, **by_column.get(column, {})}
        result, skipped = _column(column, ref.read(column), cur.read(column), bounds.get(column), limits)
        columns.append(result)
        notes.extend(skipped)
    constant = [c for c in columns if c.constant is not None and c.constant.became_constant]
    if len(constant) > overall["quality.constant_columns"]:
        columns = [
            dataclasses.replace(c, failed=(*c.failed, "quality.constant_columns")) if c in constant else c
            for c in columns
        ]
    schema = quality.schema_violations(ref, cur)
    duplicates = quality.duplicate_row_share(ref, cur)
    row_count = quality.row_count_change(ref, cur, expected_rows=expected_rows)
    if duplicates.not_compared:
        shown = ", ".join(map(repr, duplicates.not_compared))
        notes.append(f"duplicate rows: not comparing {shown} (their values cannot be compared)")
    table_failed = [
        check_id
        for check_id, value in (
            ("quality.schema_violations", schema.violations),
            ("quality.duplicate_row_share", duplicates.increase),
            ("quality.row_count_change", abs(row_count.change)),
        )
        if value > overall[check_id]
    ]
    failed = {check for c in columns for check in c.failed} | set(table_failed)
    changes = schema.type_changes if "quality.schema_violations" in failed else ()
    issues = [sentence for c in columns for sentence in _column_issues(c, changes)]
    issues.extend(_table_issues(schema, duplicates, row_count, table_failed))
    return QualityReport(
        rows=cur.rows,
        reference_rows=ref.rows,
        columns=tuple(columns),
        schema=schema,
        duplicates=duplicates,
        row_count=row_count,
        failed=tuple(check for check in quality.THRESHOLDS if check in failed),
        issues=tuple(issues),
        notes=tuple(notes),
    )


def _column(
    column: str,
    reference: Values,
    current: Values,
    bounds: tuple[float | None, float | None] | None,
    limits: dict[str, float],
) -> tuple[ColumnQuality, list[str]]:
    kind_code = main_kind(reference)
    kind = None if kind_code is None else KINDS[kind_code - NUMBER]
    missing = quality.missing_share(reference, current)
    notes: list[str] = []
    types = out_of_range = unseen = constant = None
    if kind is None:
        notes.append(f"column {column!r}: the reference has no values, so only missing values are checked")
    else:
        types = quality.type_violation_share(reference, current)
    if bounds is not None or kind == "number":
        try:
            out_of_range = quality.out_of_range_share(reference, current, bounds=bounds)
        except InvalidInput:
            notes.append(f"column {column!r}: the reference has no finite numbers; declare a range to check it")
    try:
        if kind in ("text", "boolean"):
            unseen = quality.unseen_category_share(reference, current)
        if kind is not None:
            constant = quality.constant_column(reference, current)
    except InvalidInput:
        notes.append(f"column {column!r}: its values cannot be compared, so categories and constancy are not checked")
    checks = (
        ("quality.missing_share", missing),
        ("quality.type_violation_share", types),
        ("quality.out_of_range_share", out_of_range),
        ("quality.unseen_category_share", unseen),
    )
    failed = tuple(check_id for check_id, check in checks if check is not None and check.increase > limits[check_id])
    result = ColumnQuality(column, kind, missing, types, out_of_range, unseen, constant, failed)
    return result, notes


def _ranges(ranges: Mapping[str, Any], columns: Mapping[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    unknown = [c for c in ranges if c not in columns]
    if unknown:
        raise InvalidInput(f"ranges: no column(s) {', '.join(map(repr, unknown))} in the reference")
    return {c: quality.check_bounds(bounds, name=f"ranges: column {c!r}") for c, bounds in ranges.items()}


def _thresholds(
    thresholds: Mapping[str, Any], columns: Mapping[str, Any]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    overall, by_column = dict(quality.THRESHOLDS), {}
    for key, value in thresholds.items():
        if key in quality.THRESHOLDS:
            overall[key] = _threshold(key, value, name=f"thresholds: {key}")
        elif key in columns:
            if not isinstance(value, Mapping):
                raise InvalidInput(
                    f"thresholds: column {key!r}: expected a mapping of check id to threshold, "
                    f"such as {{'quality.missing_share': 0.1}}; got {value!r}"
                )
            for check_id in value:
                if check_id not in COLUMN_CHECKS:
                    raise InvalidInput(
                        f"thresholds: column {key!r}: {check_id!r} is not a per-column check "
                        f"(per-column checks: {', '.join(COLUMN_CHECKS)})"
                    )
            by_column[key] = {c: _threshold(c, v, name=f"thresholds: column {key!r}: {c}") for c, v in value.items()}
        else:
            raise InvalidInput(
                f"thresholds: {key!r} is neither a check ({', '.join(quality.THRESHOLDS)}) "
                f"nor a column of the reference ({', '.join(columns)})"
            )
    return overall, by_column


def _threshold(check_id: str, value: Any, *, name: str) -> float:
    share = check_id in _SHARES
    valid = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    if not valid or (share and value > 1):
        expected = "a share between 0 and 1" if share else "a number of at least 0"
        raise InvalidInput(f"{name} must be {expected}, got {value!r}")
    return float(value)


# --- sentences -------------------------------------------------------------------------


def format_share(share: float) -> str:
    """A share as a percentage with one decimal; "<0.1%" and ">99.9%" rather than 0.0% or 100.0%."""
    text = f"{share:.1%}"
    if text == "0.0%" and share > 0:
        return "<0.1%"
    return ">99.9%" if text == "100.0%" and share < 1 else text


def format_value(value: object) -> str:
    """A value for a sentence: quoted text, plain numbers, at most 60 characters."""
    text = repr(value) if isinstance(value, str | bytes) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _values(count: int) -> str:
    return f"{count:,} value" if count == 1 else f"{count:,} values"


def _examples(check: ShareCheck) -> str:
    return f" (e.g. {', '.join(map(format_value, check.examples))})" if check.examples else ""


def _interval(check: RangeCheck) -> str:
    low = "(-inf" if check.low is None else f"[{format_number(check.low)}"
    high = "inf)" if check.high is None else f"{format_number(check.high)}]"
    return f"{'the declared range' if check.declared else 'the reference range'} {low}, {high}"


def _column_issues(result: ColumnQuality, changes: tuple[TypeChange, ...]) -> list[str]:
    name, issues = repr(result.column), []
    for change in changes:
        if change.column == result.column:
            issues.append(f"column {name} changed type from {change.reference} to {change.current}")
    failed = set(result.failed)
    if "quality.missing_share" in failed:
        missing = result.missing
        reference = f"(reference: {format_share(missing.reference_share)})"
        if missing.share == 1:
            issues.append(f"column {name} is entirely missing {reference}")
        else:
            issues.append(f"column {name}: {format_share(missing.share)} missing {reference}")
    if "quality.type_violation_share" in failed and result.type_violations is not None:
        check = result.type_violations
        one, several = _NOUNS.get(result.kind or "", ("of the reference's type",) * 2)
        what = f"is not {one}" if check.count == 1 else f"are not {several}"
        issues.append(f"column {name}: {_values(check.count)} ({format_share(check.share)}) {what}{_examples(check)}")
    if "quality.out_of_range_share" in failed and result.out_of_range is not None:
        check = result.out_of_range
        issues.append(
            f"column {name}: {_values(check.count)} ({format_share(check.share)}) outside {_interval(check)}"
            f"{_examples(check)}"
        )
    if "quality.unseen_category_share" in failed and result.unseen_categories is not None:
        check = result.unseen_categories
        issues.append(
            f"column {name}: {_values(check.count)} ({format_share(check.share)}) in categories the reference "
            f"does not have{_examples(check)}"
        )
    if "quality.constant_columns" in failed and result.constant is not None:
        constant = result.constant
        issues.append(
            f"column {name} became constant ({format_value(constant.value)}; "
            f"the reference has {constant.reference_distinct:,} distinct values)"
        )
    return issues


def _table_issues(
    schema: SchemaCheck, duplicates: DuplicateCheck, row_count: RowCountCheck, failed: list[str]
) -> list[str]:
    issues: list[str] = []
    if "quality.schema_violations" in failed:
        issues.extend(f"column {c!r} is missing (the reference has it)" for c in schema.missing_columns)
        issues.extend(f"column {c!r} is not in the reference" for c in schema.extra_columns)
    if "quality.duplicate_row_share" in failed:
        rows = "duplicate row" if duplicates.count == 1 else "duplicate rows"
        issues.append(
            f"{duplicates.count:,} {rows} ({format_share(duplicates.share)}; "
            f"reference: {format_share(duplicates.reference_share)})"
        )
    if "quality.row_count_change" in failed:
        direction = "fewer" if row_count.change < 0 else "more"
        issues.append(
            f"{row_count.rows:,} rows, {format_share(abs(row_count.change))} {direction} than the "
            f"{row_count.expected:,} expected"
        )
    return issues


def _plain(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists, all the way down."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
