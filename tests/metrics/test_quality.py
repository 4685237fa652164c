"""Data-quality kernels: hand-computed values over every input type, pandas as the oracle, edge cases, errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.metrics import quality, registry
from charter.metrics.quality import ShareCheck
from charter.metrics.quality_values import EXAMPLES

INF, NAN = math.inf, math.nan
Kernel = Callable[[Any, Any], Any]

COLUMNS: list[tuple[str, Callable[[list[Any]], Any]]] = [
    ("list", list),
    ("numpy", lambda v: np.array(v, dtype=object if any(x is None for x in v) else None)),
    ("pandas", pd.Series),
    ("polars", pl.Series),
    ("pyarrow", pa.array),
]
TABLES: list[tuple[str, Callable[[dict[str, list[Any]]], Any]]] = [
    ("dict of lists", dict),
    ("dict of numpy", lambda t: {k: COLUMNS[1][1](v) for k, v in t.items()}),
    ("pandas", pd.DataFrame),
    ("polars", pl.DataFrame),
    ("pyarrow", pa.table),
]
# Columns that mix kinds: what a list, an object array or an object Series can hold (Arrow cannot).
MIXED: list[tuple[str, Callable[[list[Any]], Any]]] = [
    ("list", list),
    ("numpy", lambda v: np.array(v, dtype=object)),
    ("pandas", lambda v: pd.Series(v, dtype=object)),
    ("polars", lambda v: pl.Series(v, dtype=pl.Object)),
]


def share(count: int, total: int, reference: float = 0.0, examples: tuple[Any, ...] = ()) -> dict[str, Any]:
    value = count / total if total else 0.0
    return {
        "count": count,
        "total": total,
        "share": value,
        "reference_share": reference,
        "increase": value - reference,
        "examples": examples,
    }


def assert_fields(result: Any, expected: dict[str, Any]) -> None:
    actual = {k: getattr(result, k) for k in expected}
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
        else:
            assert actual[key] == value, key


def out_of_range(bounds: tuple[float | None, float | None]) -> Kernel:
    return lambda r, c: quality.out_of_range_share(r, c, bounds=bounds)


# --- per-column kernels: hand-computed, over every input type --------------------------

COLUMN_CASES: list[tuple[str, Kernel, list[Any], list[Any], dict[str, Any]]] = [
    (
        "missing numbers: None and NaN",
        quality.missing_share,
        [1.0, None, 3.0, 4.0],
        [None, NAN, 5.0, NAN],
        share(3, 4, reference=0.25),
    ),
    (
        "missing text: None and the empty string",
        quality.missing_share,
        ["a", "b", "", None],
        ["a", "", "", None, " "],
        share(3, 5, reference=0.5),
    ),
    (
        "type: text in a number column, numeric text is a number",
        quality.type_violation_share,
        [1.0, 2.0, 3.0],
        ["1", "2.5", "abc", None, " 8 ", "n/a", "abc"],
        share(3, 6, examples=("abc", "n/a")),
    ),
    (
        "type: nan and inf written as text are not numbers",
        quality.type_violation_share,
        [1.0, 2.0],
        ["nan", "inf", "1e3", "-.5"],
        share(2, 4, examples=("nan", "inf")),
    ),
    ("type: numbers in a text column", quality.type_violation_share, ["a", "b"], [1, 2, None], share(2, 2, 0, (1, 2))),
    (
        "type: numbers in a boolean column",
        quality.type_violation_share,
        [True, False],
        [0, 1, 1],
        share(3, 3, 0, (1, 0)),
    ),
    ("type: none", quality.type_violation_share, ["a", "b"], ["z", None, ""], share(0, 1)),
    (
        "range: the reference's min and max, inf always out",
        quality.out_of_range_share,
        [1.0, 5.0, 3.0, None],
        [0.0, 1.0, 5.0, 6.0, INF, -INF, None, NAN],
        {**share(4, 6, examples=(0.0, 6.0, INF, -INF)), "low": 1.0, "high": 5.0, "declared": False},
    ),
    (
        "range: declared, open above",
        out_of_range((0, None)),
        [-5.0, 1.0],
        [-1.0, 0.0, 100.0, INF],
        {**share(2, 4, reference=0.5, examples=(-1.0, INF)), "low": 0.0, "high": None, "declared": True},
    ),
    (
        "range: numeric text is read as a number, other text is in range",
        quality.out_of_range_share,
        [1.0, 5.0],
        ["0", "3", "abc", "7"],
        {**share(2, 4, examples=("0", "7")), "low": 1.0, "high": 5.0},
    ),
    (
        "range: bounds are inclusive",
        out_of_range((1, 2)),
        [0.0],
        [1.0, 1.5, 2.0, 2.0000001],
        {**share(1, 4, reference=1.0, examples=(2.0000001,)), "low": 1.0, "high": 2.0},
    ),
    (
        "unseen categories, most frequent first",
        quality.unseen_category_share,
        ["a", "b", "a", None],
        ["a", "d", "c", "c", None, ""],
        share(3, 4, examples=("c", "d")),
    ),
    (
        "unseen: ints and floats compare by value",
        quality.unseen_category_share,
        [0, 1],
        [0.0, 1.0, 2.0],
        share(1, 3, 0, (2.0,)),
    ),
    ("unseen booleans", quality.unseen_category_share, [True, True], [True, False, None], share(1, 2, 0, (False,))),
    ("unseen: a single-class reference", quality.unseen_category_share, ["x"] * 3, ["x", "y"], share(1, 2, 0, ("y",))),
    (
        "became constant",
        quality.constant_column,
        ["a", "b", None],
        ["x", "x", None],
        {"distinct": 1, "reference_distinct": 2, "values": 2, "constant": True, "became_constant": True, "value": "x"},
    ),
    (
        "one value is constant but did not become so",
        quality.constant_column,
        ["a", "b"],
        ["x", None],
        {"distinct": 1, "values": 1, "constant": True, "became_constant": False, "value": "x"},
    ),
    (
        "constant in the reference too",
        quality.constant_column,
        [7.0, 7.0],
        [7.0, 7.0, 7.0],
        {"distinct": 1, "reference_distinct": 1, "constant": True, "became_constant": False, "value": 7.0},
    ),
    (
        "not constant",
        quality.constant_column,
        ["a", "b"],
        ["a", "b", "a"],
        {"distinct": 2, "constant": False, "became_constant": False, "value": None},
    ),
]


@pytest.mark.parametrize(("type_name", "convert"), COLUMNS, ids=[c[0] for c in COLUMNS])
@pytest.mark.parametrize(
    ("name", "kernel", "reference", "current", "expected"), COLUMN_CASES, ids=[c[0] for c in COLUMN_CASES]
)
def test_column_kernels_on_every_input_type(
    name: str,
    kernel: Kernel,
    reference: list[Any],
    current: list[Any],
    expected: dict[str, Any],
    type_name: str,
    convert: Callable[[list[Any]], Any],
) -> None:
    assert_fields(kernel(convert(reference), convert(current)), expected)


@pytest.mark.parametrize(("type_name", "convert"), MIXED, ids=[c[0] for c in MIXED])
def test_mixed_columns_are_read_value_by_value(type_name: str, convert: Callable[[list[Any]], Any]) -> None:
    current = convert([1, 2.5, "abc", True, None, NAN, "", "7", decimal.Decimal("1.5"), dt.date(2024, 1, 1), b"x"])
    assert_fields(
        quality.type_violation_share([1.0, 2.0, 8.0], current),
        share(4, 8, examples=("abc", True, dt.date(2024, 1, 1), b"x")),
    )
    assert_fields(quality.out_of_range_share([1.0, 2.0, 8.0], current), share(0, 8))  # "7" and 1.5 are in [1, 8]
    assert_fields(quality.missing_share([0.0], current), share(3, 11))
    unseen = quality.unseen_category_share([1, "abc", True], current)
    assert_fields(unseen, share(5, 8, 0, (2.5, "7", 1.5, dt.date(2024, 1, 1), b"x")))


def test_chunked_dictionary_and_view_columns_are_read_like_plain_ones() -> None:
    chunked = pa.chunked_array([pa.array(["a", None]), pa.array(["", "c"])])
    expected = quality.unseen_category_share(["a"], ["a", None, "", "c"])
    assert quality.unseen_category_share(pa.array(["a"]), chunked) == expected
    assert quality.unseen_category_share(pa.array(["a"]).dictionary_encode(), chunked.dictionary_encode()) == expected
    assert quality.unseen_category_share(["a"], pa.array(["a", None, "", "c"], pa.string_view())) == expected
    assert quality.unseen_category_share(["a"], pd.Series(["a", None, "", "c"], dtype="category")) == expected
    assert quality.unseen_category_share(["a"], pd.Series(["a", None, "", "c"], dtype="string")) == expected
    assert quality.missing_share([1], pd.Series([1, None, 3], dtype="Int64")).count == 1


# --- against pandas --------------------------------------------------------------------


def _frame(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(seed * 0.3, 1, rows).round(1)),
            "c": pd.Series(rng.choice(["a", "b", "c", "d", "e", ""], rows), dtype=object).where(
                rng.random(rows) > 0.05, None
            ),
            "k": rng.integers(0, 3, rows),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shares_match_pandas(seed: int) -> None:
    reference, current = _frame(0, 300), _frame(seed, 250)
    for column in ("x", "c"):
        missing = current[column].isna() | (current[column] == "")
        assert quality.missing_share(reference[column], current[column]).share == pytest.approx(missing.mean())
    low, high = reference["x"].min(), reference["x"].max()
    present = current["x"].dropna()
    outside = quality.out_of_range_share(reference["x"], current["x"])
    assert (outside.low, outside.high) == (low, high)
    assert outside.share == pytest.approx((~present.between(low, high)).mean())
    present_c = current["c"][current["c"].notna() & (current["c"] != "")]
    sample = reference["c"].iloc[:8]  # a few categories, so that some are unseen
    unseen = quality.unseen_category_share(sample, current["c"])
    assert 0 < unseen.share < 1
    assert unseen.share == pytest.approx((~present_c.isin(sample.dropna())).mean())
    assert quality.distinct_count(current["c"]) == present_c.nunique()
    for frame in (reference, current):
        expected = frame.duplicated().mean()
        assert quality.duplicate_rows(frame).share == pytest.approx(expected)
        assert quality.duplicate_rows(pl.from_pandas(frame)).share == pytest.approx(expected)
        assert quality.duplicate_rows(pa.Table.from_pandas(frame, preserve_index=False)).share == pytest.approx(
            expected
        )
    assert quality.duplicate_row_share(reference, current).increase == pytest.approx(
        current.duplicated().mean() - reference.duplicated().mean()
    )


# --- table-level kernels ---------------------------------------------------------------

REFERENCE = {"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "z", "w"], "c": [7, 7, 7, 7], "f": [0.5, 1.5, 2.5, 3.5]}
CURRENT = {"a": ["1", "2", "3", "4", "5"], "b": ["x", "x", None, None, "y"], "c": [7, 7, None, None, 7], "e": [1] * 5}


@pytest.mark.parametrize(("type_name", "convert"), TABLES, ids=[c[0] for c in TABLES])
def test_table_kernels_on_every_input_type(type_name: str, convert: Callable[[dict[str, list[Any]]], Any]) -> None:
    reference, current = convert(REFERENCE), convert(CURRENT)
    schema = quality.schema_violations(reference, current)
    assert schema == quality.SchemaCheck(
        missing_columns=("f",),
        extra_columns=("e",),
        type_changes=(quality.TypeChange("a", "number", "text"),),
        violations=3,
    )
    # compared over the shared columns a, b and c; every value of a differs, so no row repeats
    assert quality.duplicate_row_share(reference, current) == quality.DuplicateCheck(
        count=0, total=5, share=0.0, reference_share=0.0, increase=0.0
    )
    same_a = convert({**CURRENT, "a": ["1", "1", "3", "3", "5"]})  # now rows 1 and 3 repeat rows 0 and 2
    assert_fields(quality.duplicate_row_share(reference, same_a), share(2, 5))
    assert quality.row_count_change(reference, current) == quality.RowCountCheck(rows=5, expected=4, change=0.25)
    assert quality.row_count_change(reference, current, expected_rows=10).change == -0.5
    became = convert({"a": [1.0, 1.0, 1.0, 1.0], "b": ["x", "y", "x", "y"], "c": [7, 7, 7, 7], "f": [1.0] * 4})
    assert quality.constant_columns(reference, became) == quality.ConstantColumns(("a", "f"), (1.0, 1.0), 2)


def test_schema_kinds_come_from_the_values_not_the_storage() -> None:
    reference = pd.DataFrame({"n": [1, 2, 3], "s": ["a", "b", "c"], "t": pd.to_datetime(["2024-01-01"] * 3)})
    current = pd.DataFrame({"n": [1.5, None, 3.0], "s": [None, None, None], "t": [dt.date(2024, 1, 2)] * 3})
    assert quality.schema_violations(reference, current).violations == 0  # int -> float; no values; both dates
    mostly_numbers = pd.DataFrame({"n": [1, "x", 3], "s": ["a", 1, 2], "t": ["2024-01-01"] * 3})
    changes = quality.schema_violations(reference, mostly_numbers).type_changes
    assert changes == (quality.TypeChange("s", "text", "number"), quality.TypeChange("t", "datetime", "text"))
    assert [quality.column_kind(v) for v in ([1, "x", 3], ["a", True], [None, ""], [[1], [2, 3]])] == [
        "number",
        "text",
        None,
        "other",
    ]


def test_duplicates_compare_missing_markers_as_equal_and_the_empty_string_as_a_value() -> None:
    frame = pd.DataFrame({"a": [None, NAN, "", "", pd.NA], "b": [1, 1, 1, 1, 1]}, dtype=object)
    assert quality.duplicate_rows(frame).duplicates == 3 == frame.duplicated().sum()
    assert quality.duplicate_rows({"x": [0.0, -0.0, 1, 1.0]}).duplicates == 2


def test_columns_that_cannot_be_compared_are_named() -> None:
    table = pa.table({"tags": pa.array([[1], [1], None]), "a": [1, 1, 1]})
    assert quality.duplicate_rows(table) == quality.DuplicateRows(3, 2, 2 / 3, ("tags",))
    lists = pd.Series([[1], [1]])  # (a list of equal-length lists would be read as a 2-D array)
    assert quality.duplicate_rows({"tags": lists, "a": [1, 1]}).not_compared == ("tags",)
    assert quality.distinct_count(table.column("tags")) is None
    assert quality.distinct_count([[1], [2, 3]]) is None  # ragged: a column of lists
    assert quality.constant_columns(table, table).count == 0
    with pytest.raises(InvalidInput, match=r"^reference and current: the values cannot be compared with each other"):
        quality.unseen_category_share(lists, pd.Series([[2]]))


def test_single_column_helpers() -> None:
    values = pa.chunked_array([pa.array(["a", "", None]), pa.array(["1.5", " 2 ", "x"])])
    assert quality.missing_mask(values).tolist() == [False, True, True, False, False, False]
    assert quality.is_number_text(values).tolist() == [False, False, False, True, True, False]
    assert quality.distinct_count(values) == 4
    assert quality.distinct_count([1, 1.0, True, "1", None, NAN]) == 3  # 1 == 1.0, but True and "1" are other kinds


# --- edge cases ------------------------------------------------------------------------

SHARE_KERNELS: list[tuple[str, Kernel]] = [
    ("missing_share", quality.missing_share),
    ("type_violation_share", quality.type_violation_share),
    ("out_of_range_share", quality.out_of_range_share),
    ("unseen_category_share", quality.unseen_category_share),
]


@pytest.mark.parametrize(("name", "kernel"), SHARE_KERNELS, ids=[k[0] for k in SHARE_KERNELS])
@pytest.mark.parametrize(("type_name", "convert"), COLUMNS, ids=[c[0] for c in COLUMNS])
def test_an_empty_or_all_missing_current_window_has_shares_of_zero(
    name: str, kernel: Kernel, type_name: str, convert: Callable[[list[Any]], Any]
) -> None:
    empty = kernel([1.0, 2.0], convert([]) if type_name != "pyarrow" else pa.array([], pa.float64()))
    assert (empty.count, empty.total, empty.share, empty.increase) == (0, 0, 0.0, 0.0)
    missing = kernel([1.0, 2.0], convert([None, None]))
    assert missing.share == (1.0 if name == "missing_share" else 0.0)


def test_an_empty_current_window_fails_the_row_count_only() -> None:
    reference, current = {"a": [1, 2]}, {"a": []}
    assert quality.row_count_change(reference, current).change == -1.0
    assert quality.duplicate_row_share(reference, current).share == 0.0
    assert quality.schema_violations(reference, current).violations == 0
    assert quality.constant_columns(reference, current).count == 0


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        (
            quality.type_violation_share,
            'reference is empty: no values are left after dropping missing ones (None, NaN, "")',
        ),
        (
            quality.unseen_category_share,
            'reference is empty: no values are left after dropping missing ones (None, NaN, "")',
        ),
        (
            quality.out_of_range_share,
            "reference has no finite numbers to take a range from; give bounds=(low, high)",
        ),
    ],
)
def test_a_reference_without_values_is_refused_where_it_defines_the_rule(kernel: Kernel, message: str) -> None:
    for reference in ([], [None, NAN, ""]):
        with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$") as caught:
            kernel(reference, [1.0])
        assert caught.value.code == "input.invalid"
    assert quality.missing_share([], [None]).reference_share == 0.0
    assert quality.out_of_range_share([INF, -INF], [INF], bounds=(None, None)).share == 1.0


def test_text_range_reference_without_numbers() -> None:
    with pytest.raises(InvalidInput, match="reference has no finite numbers"):
        quality.out_of_range_share(["a", "b"], [1.0])
    assert quality.out_of_range_share(["a", "b"], [1.0, 11.0], bounds=(0, 10)).share == 0.5


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: quality.out_of_range_share([1], [1], bounds=(5, 1)),
            "bounds: low 5 is above high 1",
        ),
        (
            lambda: quality.out_of_range_share([1], [1], bounds=("a", 1)),
            "bounds: 'a' is not a number (give a number, or None for an open side)",
        ),
        (
            lambda: quality.out_of_range_share([1], [1], bounds=(0, True)),
            "bounds: True is not a number (give a number, or None for an open side)",
        ),
        (
            lambda: quality.out_of_range_share([1], [1], bounds=(0, INF)),
            "bounds: inf is not a finite number (give None for an open side)",
        ),
        (
            lambda: quality.out_of_range_share([1], [1], bounds=(0, 1, 2)),  # type: ignore[arg-type]
            "bounds must be a pair (low, high) of numbers, or None for an open side; got (0, 1, 2)",
        ),
        (
            lambda: quality.out_of_range_share([1], [1], bounds="0-1"),  # type: ignore[arg-type]
            "bounds must be a pair (low, high) of numbers, or None for an open side; got '0-1'",
        ),
        (
            lambda: quality.missing_share([[1, 2], [3, 4]], [1]),
            "reference: expected one column of values, got an array of shape (2, 2)",
        ),
        (
            lambda: quality.missing_share([1], np.zeros((2, 3))),
            "current: expected one column of values, got an array of shape (2, 3)",
        ),
        (
            lambda: quality.missing_share(pd.DataFrame({"a": [1]}), [1]),
            "reference: expected one column of values, got a table (DataFrame)",
        ),
        (
            lambda: quality.missing_share([1], 5),
            "current: expected one column of values, got an array of shape ()",
        ),
        (
            lambda: quality.duplicate_row_share({"a": [1, 2, 3], "b": [1, 2]}, {"a": [1]}),
            "reference: the columns must have the same length: 'a' has 3, 'b' has 2",
        ),
        (
            lambda: quality.schema_violations(
                {"a": [1]}, pd.DataFrame({"a": [1]}).join(pd.DataFrame({"b": [2]})).rename(columns={"b": "a"})
            ),
            "current: column 'a' appears more than once; column names must be unique",
        ),
        (
            lambda: quality.schema_violations([1, 2], {"a": [1]}),
            "reference: expected a table (a dict of columns, a pandas or polars DataFrame, or a pyarrow Table), "
            "got list",
        ),
        (
            lambda: quality.schema_violations({"a": [1]}, {1: [1]}),
            "current: column names must be text, got 1",
        ),
        (
            lambda: quality.schema_violations({"a": 5}, {"a": [1]}),
            "reference column 'a': expected a column of values, got int",
        ),
        (
            lambda: quality.schema_violations({"a": "abc"}, {"a": [1]}),
            "reference column 'a': expected a column of values, got str",
        ),
        (
            lambda: quality.row_count_change({"a": []}, {"a": [1]}),
            "reference has no rows, so there is no row count to expect; give expected_rows",
        ),
        (
            lambda: quality.row_count_change({"a": [1]}, {"a": [1]}, expected_rows=0),
            "expected_rows must be a whole number of at least 1, got 0",
        ),
        (
            lambda: quality.row_count_change({"a": [1]}, {"a": [1]}, expected_rows=2.5),  # type: ignore[arg-type]
            "expected_rows must be a whole number of at least 1, got 2.5",
        ),
    ],
)
def test_invalid_inputs_are_refused_with_a_message_naming_the_fix(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        call()


# --- properties ------------------------------------------------------------------------

values = st.one_of(
    st.none(),
    st.just(""),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(["a", "b", "1.5", " 2 ", "nan", "x y"]),
)
columns = st.lists(values, max_size=30)


@settings(max_examples=150, deadline=None)
@given(columns, columns)
def test_shares_are_in_0_1_and_the_counts_add_up(reference: list[Any], current: list[Any]) -> None:
    checks: list[ShareCheck] = [quality.missing_share(reference, current)]
    for kernel in (quality.type_violation_share, quality.unseen_category_share, quality.out_of_range_share):
        try:
            checks.append(kernel(reference, current))
        except InvalidInput:  # a reference without (finite, for ranges) values
            continue
    for check in checks:
        assert 0.0 <= check.share <= 1.0 and 0.0 <= check.reference_share <= 1.0
        assert check.increase == pytest.approx(check.share - check.reference_share)
        assert len(check.examples) <= min(check.count, EXAMPLES)
    missing = checks[0].count
    assert missing == sum(v is None or v == "" or (isinstance(v, float) and math.isnan(v)) for v in current)
    for check in checks[1:]:
        assert check.total == len(current) - missing


@settings(max_examples=150, deadline=None)
@given(columns)
def test_a_column_against_itself_has_no_unseen_categories_and_no_new_missing_values(column: list[Any]) -> None:
    assert quality.missing_share(column, column).increase == 0.0
    if quality.column_kind(column) is not None:
        assert quality.unseen_category_share(column, column).share == 0.0
        assert quality.type_violation_share(column, column).increase == 0.0


rows = st.lists(
    st.tuples(st.sampled_from([None, 1, 2]), st.sampled_from([None, "", "a", "b"])), min_size=1, max_size=30
)


@settings(max_examples=100, deadline=None)
@given(rows)
def test_a_table_concatenated_with_itself_is_at_least_half_duplicates(table_rows: list[tuple[Any, Any]]) -> None:
    table = {"n": [r[0] for r in table_rows], "s": [r[1] for r in table_rows]}
    doubled = {k: v + v for k, v in table.items()}
    assert quality.duplicate_rows(doubled).share >= 0.5
    assert quality.duplicate_rows(table).duplicates == len(table_rows) - len(set(table_rows))
    assert (
        quality.duplicate_rows(pd.DataFrame(doubled, dtype=object)).duplicates
        == pd.DataFrame(doubled, dtype=object).duplicated().sum()
    )


# --- registry --------------------------------------------------------------------------

EXPECTED_THRESHOLDS: dict[str, float | None] = {
    "quality.missing_share": 0.05,
    "quality.type_violation_share": 0.0,
    "quality.out_of_range_share": 0.05,
    "quality.unseen_category_share": 0.05,
    "quality.constant_columns": 0.0,
    "quality.schema_violations": 0.0,
    "quality.duplicate_row_share": 0.05,
    "quality.row_count_change": 0.1,
}


def test_every_quality_kernel_is_registered_and_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "MODULES", ("charter.metrics.quality",))
    metrics = {i: m for i, m in registry.all_metrics().items() if i.startswith("quality.")}
    assert {i: m.threshold for i, m in metrics.items()} == EXPECTED_THRESHOLDS
    assert quality.THRESHOLDS == EXPECTED_THRESHOLDS
    for metric_id, metric in metrics.items():
        assert metric.direction == "higher_is_worse"
        assert metric.summary.strip(), metric_id
        assert metric_id in (quality.__doc__ or ""), f"{metric_id} is missing from the quality module docstring"
    assert {m.function for m in metrics.values()} == {
        quality.missing_share,
        quality.type_violation_share,
        quality.out_of_range_share,
        quality.unseen_category_share,
        quality.constant_columns,
        quality.schema_violations,
        quality.duplicate_row_share,
        quality.row_count_change,
    }


def test_results_are_frozen_dataclasses() -> None:
    result = quality.missing_share([1], [None])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.share = 0.0  # type: ignore[misc]
