"""The data-quality report: which checks run, the sentences, thresholds and ranges, over every table type."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from charter.errors import InvalidInput
from charter.metrics.quality_report import format_share, format_value, quality_report

REFERENCE: dict[str, list[Any]] = {
    "age": [20.5, 30.5, 40.5, 50.5, 60.5],
    "country": ["DE", "FR", "DE", "UK", "FR"],
    "score": [0.1, 0.2, 0.3, 0.4, 0.5],
    "code": [1.0, 2.0, 3.0, 4.0, 5.0],
    "zip": ["1", "2", "3", "4", "5"],
}
CURRENT: dict[str, list[Any]] = {
    "age": [25.5, None, 70.5, None, 35.5, 35.5],
    "country": ["DE", "XX", "DE", "DE", "ZZ", "XX"],
    "score": [0.3] * 6,
    "code": ["1", "2", "x", "4", "5", "n/a"],
    "extra": [1] * 6,
}
ISSUES = (
    "column 'age': 33.3% missing (reference: 0.0%)",
    "column 'age': 1 value (25.0%) outside the reference range [20.5, 60.5] (e.g. 70.5)",
    "column 'country': 3 values (50.0%) in categories the reference does not have (e.g. 'XX', 'ZZ')",
    "column 'score' became constant (0.3; the reference has 5 distinct values)",
    "column 'code' changed type from number to text",
    "column 'code': 2 values (33.3%) are not numbers (e.g. 'x', 'n/a')",
    "column 'zip' is missing (the reference has it)",
    "column 'extra' is not in the reference",
    "6 rows, 20.0% more than the 5 expected",
)
TABLES: list[tuple[str, Callable[[dict[str, list[Any]]], Any]]] = [
    ("dict of lists", dict),
    ("dict of numpy", lambda t: {k: np.array(v, dtype=object if None in v else None) for k, v in t.items()}),
    ("pandas", pd.DataFrame),
    ("polars", pl.DataFrame),
    ("pyarrow", pa.table),
]


@pytest.mark.parametrize(("type_name", "convert"), TABLES, ids=[c[0] for c in TABLES])
def test_the_report_on_every_table_type(type_name: str, convert: Callable[[dict[str, list[Any]]], Any]) -> None:
    report = quality_report(convert(REFERENCE), convert(CURRENT))
    assert report.issues == ISSUES
    assert report.failed == (
        "quality.missing_share",
        "quality.type_violation_share",
        "quality.out_of_range_share",
        "quality.unseen_category_share",
        "quality.constant_columns",
        "quality.schema_violations",
        "quality.row_count_change",
    )
    assert not report.passed
    assert (report.rows, report.reference_rows, report.notes) == (6, 5, ())
    by_name = {c.column: c for c in report.columns}
    assert list(by_name) == ["age", "country", "score", "code"]
    assert {c: r.kind for c, r in by_name.items()} == {
        "age": "number",
        "country": "text",
        "score": "number",
        "code": "number",
    }
    age = by_name["age"]
    assert (age.out_of_range is not None, age.unseen_categories) == (True, None)
    assert by_name["country"].out_of_range is None and by_name["country"].unseen_categories is not None
    assert by_name["score"].failed == ("quality.constant_columns",)
    assert report.duplicates.count == 0 and report.schema.violations == 3


def test_to_dict_is_plain_and_json_ready() -> None:
    report = quality_report(REFERENCE, CURRENT)
    data = report.to_dict()
    assert data["passed"] is False
    assert data["issues"] == list(ISSUES)
    assert data["columns"][0]["out_of_range"] == {
        "count": 1,
        "total": 4,
        "share": 0.25,
        "reference_share": 0.0,
        "increase": 0.25,
        "examples": [70.5],
        "low": 20.5,
        "high": 60.5,
        "declared": False,
    }
    assert data["schema"]["type_changes"] == [{"column": "code", "reference": "number", "current": "text"}]
    assert data["row_count"] == {"rows": 6, "expected": 5, "change": pytest.approx(0.2)}
    assert json.loads(json.dumps(data)) == data


def test_identical_tables_pass() -> None:
    report = quality_report(pd.DataFrame(REFERENCE), pa.table(REFERENCE))
    assert (report.passed, report.failed, report.issues, report.notes) == (True, (), (), ())
    assert all(c.failed == () for c in report.columns)


def test_thresholds_for_the_report_and_for_one_column() -> None:
    thresholds = {
        "quality.missing_share": 0.5,
        "quality.row_count_change": 0.25,
        "quality.constant_columns": 1,
        "quality.schema_violations": 3,
        "country": {"quality.unseen_category_share": 0.5},  # 0.5 is not above 0.5
        "code": {"quality.type_violation_share": 0.2},
    }
    report = quality_report(REFERENCE, CURRENT, thresholds=thresholds)
    assert report.failed == ("quality.type_violation_share", "quality.out_of_range_share")
    assert report.issues == (
        "column 'age': 1 value (25.0%) outside the reference range [20.5, 60.5] (e.g. 70.5)",
        "column 'code': 2 values (33.3%) are not numbers (e.g. 'x', 'n/a')",
    )
    assert report.schema.violations == 3  # still reported, no longer an issue


def test_declared_ranges_replace_the_reference_range() -> None:
    ranges = {"score": (0, 0.25), "age": (None, 100), "country": (0, 1)}
    report = quality_report(REFERENCE, CURRENT, ranges=ranges, expected_rows=6)
    by_name = {c.column: c for c in report.columns}
    score = by_name["score"].out_of_range
    assert score is not None and (score.share, score.reference_share, score.declared) == (1.0, 0.6, True)
    assert "column 'score': 6 values (100.0%) outside the declared range [0, 0.25] (e.g. 0.3)" in report.issues
    assert by_name["age"].out_of_range is not None and by_name["age"].out_of_range.count == 0
    country = by_name["country"].out_of_range  # text: nothing is a number, so nothing is out of range
    assert country is not None and country.count == 0
    assert not any("rows," in issue for issue in report.issues)


def test_checks_that_cannot_run_are_noted() -> None:
    reference = {"empty": [None, None], "tags": pd.Series([[1], [2]]), "inf": [np.inf, -np.inf]}
    current = {"empty": ["a", None], "tags": pd.Series([[1], [1]]), "inf": [1.0, 2.0]}
    report = quality_report(reference, current)
    assert report.notes == (
        "column 'empty': the reference has no values, so only missing values are checked",
        "column 'tags': its values cannot be compared, so categories and constancy are not checked",
        "column 'inf': the reference has no finite numbers; declare a range to check it",
        "duplicate rows: not comparing 'tags' (their values cannot be compared)",
    )
    assert report.issues == ()
    report = quality_report(reference, current, ranges={"inf": (0, 1.5)})
    checked = report.columns[2].out_of_range
    assert checked is not None and (checked.share, checked.reference_share, checked.increase) == (0.5, 1.0, -0.5)
    assert report.issues == ()  # the reference's infinities are out of any range: 100% then, 50% now


def test_an_empty_current_window_fails_the_row_count_only() -> None:
    empty = pa.table(
        {k: pa.array([], pa.float64() if k in ("age", "score", "code") else pa.string()) for k in REFERENCE}
    )
    report = quality_report(REFERENCE, empty)
    assert report.issues == ("0 rows, 100.0% fewer than the 5 expected",)
    assert report.failed == ("quality.row_count_change",)
    assert all(c.missing.total == 0 and c.missing.share == 0.0 for c in report.columns)


def test_entirely_missing_columns() -> None:
    report = quality_report({"a": [1.0, 2.0]}, {"a": [None, None]})
    assert report.issues == (
        "column 'a' is entirely missing (reference: 0.0%)",
        "1 duplicate row (50.0%; reference: 0.0%)",  # two rows of nothing but missing values are the same row
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ranges": {"nope": (0, 1)}}, "ranges: no column(s) 'nope' in the reference"),
        ({"ranges": {"age": (5, 1)}}, "ranges: column 'age': low 5 is above high 1"),
        (
            {"ranges": {"age": ("low", 1)}},
            "ranges: column 'age': 'low' is not a number (give a number, or None for an open side)",
        ),
        (
            {"ranges": {"age": 5}},
            "ranges: column 'age' must be a pair (low, high) of numbers, or None for an open side; got 5",
        ),
        (
            {"thresholds": {"nope": 0.1}},
            "thresholds: 'nope' is neither a check (quality.missing_share, quality.type_violation_share, "
            "quality.out_of_range_share, quality.unseen_category_share, quality.constant_columns, "
            "quality.schema_violations, quality.duplicate_row_share, quality.row_count_change) "
            "nor a column of the reference (age, country, score, code, zip)",
        ),
        (
            {"thresholds": {"quality.missing_share": 1.5}},
            "thresholds: quality.missing_share must be a share between 0 and 1, got 1.5",
        ),
        (
            {"thresholds": {"quality.row_count_change": -1}},
            "thresholds: quality.row_count_change must be a number of at least 0, got -1",
        ),
        (
            {"thresholds": {"quality.schema_violations": "any"}},
            "thresholds: quality.schema_violations must be a number of at least 0, got 'any'",
        ),
        (
            {"thresholds": {"age": 0.1}},
            "thresholds: column 'age': expected a mapping of check id to threshold, "
            "such as {'quality.missing_share': 0.1}; got 0.1",
        ),
        (
            {"thresholds": {"age": {"quality.row_count_change": 0.1}}},
            "thresholds: column 'age': 'quality.row_count_change' is not a per-column check (per-column checks: "
            "quality.missing_share, quality.type_violation_share, quality.out_of_range_share, "
            "quality.unseen_category_share)",
        ),
        (
            {"thresholds": {"age": {"quality.missing_share": True}}},
            "thresholds: column 'age': quality.missing_share must be a share between 0 and 1, got True",
        ),
        ({"expected_rows": 0}, "expected_rows must be a whole number of at least 1, got 0"),
    ],
)
def test_bad_options_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        quality_report(REFERENCE, CURRENT, **kwargs)


def test_bad_tables_are_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match=r"^current: the columns must have the same length: 'a' has 2, 'b' has 1$"):
        quality_report({"a": [1, 2]}, {"a": [1, 2], "b": [1]})
    with pytest.raises(InvalidInput, match=r"^reference: expected a table .* got Series$"):
        quality_report(pd.Series([1, 2]), {"a": [1]})


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.0, "0.0%"), (0.0004, "<0.1%"), (0.125, "12.5%"), (0.9996, ">99.9%"), (1.0, "100.0%")],
)
def test_format_share(share: float, text: str) -> None:
    assert format_share(share) == text


def test_format_value() -> None:
    assert (format_value("DE"), format_value(7), format_value(None)) == ("'DE'", "7", "None")
    assert format_value("x" * 70) == "'" + "x" * 56 + "..."
