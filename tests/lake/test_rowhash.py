"""Row hashes: the canonical encoding byte for byte, C equal to Python, and what changes a hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.lake import rowhash
from charter.ledger import merkle
from charter.ledger.native import switched as native_switched
from tests.conftest import IN_CI

HEAD = b"charter.row.v2\x1f1:c"  # a one-column batch whose column is named "c"


def python_path() -> AbstractContextManager[None]:
    """Run with CHARTER_NATIVE=0, the documented switch to the pure-Python path."""
    return native_switched(False)


def require_extension() -> None:
    if not merkle.available():
        if IN_CI:
            pytest.fail("charter._rowhash did not build: install libssl-dev, then reinstall")
        pytest.skip("charter._rowhash is not built here (or CHARTER_NATIVE=0)")


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def one_column(array: pa.Array) -> pa.RecordBatch:
    return pa.record_batch({"c": array})


def hashes(batch: pa.RecordBatch | pa.Table, **options: Any) -> list[bytes]:
    return list(rowhash.row_hashes(batch, **options).to_pylist())


# Each case: an Arrow array and, per row, the tag and value the module docstring prescribes.
CASES: list[tuple[str, pa.Array, list[bytes]]] = [
    ("bool", pa.array([True, False, None]), [b"btrue", b"bfalse", b"bN"]),
    ("int8", pa.array([5, -12, None], pa.int8()), [b"i5", b"i-12", b"iN"]),
    ("int32", pa.array([5, 0], pa.int32()), [b"i5", b"i0"]),
    ("int64", pa.array([-(2**63), 5]), [b"i-9223372036854775808", b"i5"]),
    ("uint64", pa.array([2**64 - 1], pa.uint64()), [b"i18446744073709551615"]),
    (
        "float64",
        pa.array([0.5, -0.0, 0.0, 2.0, float("nan"), float("inf"), float("-inf"), None]),
        [b"f0.5", b"f-0", b"f0", b"f2", b"fnan", b"finf", b"f-inf", b"fN"],
    ),
    (
        "float64 notation",
        pa.array([1e-6, 1e-7, 1234567890.5, 1e10, 12345678901.0, 1e21, 5e-324, -1.5e-300]),
        [
            b"f0.000001",
            b"f1e-7",
            b"f1234567890.5",
            b"f1e+10",
            b"f1.2345678901e+10",
            b"f1e+21",
            b"f5e-324",
            b"f-1.5e-300",
        ],
    ),
    ("float32", pa.array([0.1, 1.5], pa.float32()), [b"f0.10000000149011612", b"f1.5"]),
    ("float16", pa.array([1.5], pa.float16()), [b"f1.5"]),
    (
        "string",
        pa.array(["", "null", None, "héllo", "a\x1fb", "N"]),
        [b"s0:", b"s4:null", b"sN", "s6:héllo".encode(), b"s3:a\x1fb", b"s1:N"],
    ),
    ("large_string", pa.array(["ab", None], pa.large_string()), [b"s2:ab", b"sN"]),
    ("string_view", pa.array(["ab", None], pa.string_view()), [b"s2:ab", b"sN"]),
    (
        "dictionary",
        pa.DictionaryArray.from_arrays(pa.array([1, 0, None, 1], pa.int8()), pa.array(["x", "yz"])),
        [b"s2:yz", b"s1:x", b"sN", b"s2:yz"],
    ),
    ("binary", pa.array([b"\x00\xff", b"", None]), [b"x2:\x00\xff", b"x0:", b"xN"]),
    ("fixed_size_binary", pa.array([b"ab"], pa.binary(2)), [b"x2:ab"]),
    (
        "timestamp us UTC",
        pa.array([1_700_000_000_123_456, 0, None], pa.timestamp("us", tz="UTC")),
        [b"t1700000000123456", b"t0", b"tN"],
    ),
    ("timestamp s, no zone", pa.array([1, -1], pa.timestamp("s")), [b"t1000000", b"t-1000000"]),
    ("timestamp ns Paris", pa.array([5_000, None], pa.timestamp("ns", tz="Europe/Paris")), [b"t5", b"tN"]),
    ("date32", pa.array([dt.date(1970, 1, 4), None]), [b"d3", b"dN"]),
    ("date64", pa.array([dt.date(1969, 12, 31)], pa.date64()), [b"d-1"]),
    (
        "list of float64",
        pa.array([[0.5, None], [], None, [None], [float("nan")]], pa.list_(pa.float64())),
        [b"lf[0.5,N]", b"lf[]", b"lfN", b"lf[N]", b"lf[nan]"],
    ),
    ("list of string", pa.array([["a,b", "", None], ["]"]]), [b"ls[3:a,b,0:,N]", b"ls[1:]]"]),
    ("list of lists", pa.array([[[1, 2], None, []], None]), [b"lli[[1,2],N,[]]", b"lliN"]),
    ("large_list", pa.array([[1.0, 2.5], None], pa.large_list(pa.float64())), [b"lf[1,2.5]", b"lfN"]),
    ("fixed_size_list", pa.array([[1.0, 2.5], None], pa.list_(pa.float64(), 2)), [b"lf[1,2.5]", b"lfN"]),
]


@pytest.mark.parametrize(("kind", "array", "values"), CASES, ids=[case[0] for case in CASES])
def test_each_type_encodes_as_documented(kind: str, array: pa.Array, values: list[bytes]) -> None:
    nulls = array.is_null().to_pylist()
    expected = [rowhash.FORMAT if null else HEAD + value for value, null in zip(values, nulls, strict=True)]
    assert rowhash.canonical_rows(one_column(array)).to_pylist() == expected
    assert hashes(one_column(array)) == [sha(row) for row in expected]
    with python_path():
        assert hashes(one_column(array)) == [sha(row) for row in expected]


def test_a_decision_row_hashes_to_its_pinned_digest() -> None:
    # The docstring's example, then a row of the lake's own columns; digests pinned so the format cannot drift.
    example = pa.table({"score": [0.5], "decision_id": ["a"], "n": [3], "tags": [["x", None]]})
    example_bytes = b"charter.row.v2\x1f11:decision_ids1:a\x1f1:ni3\x1f5:scoref0.5\x1f4:tagsls[1:x,N]"
    assert rowhash.canonical_rows(example).to_pylist() == [example_bytes]
    assert hashes(example) == [sha(example_bytes)]
    assert sha(example_bytes).hex() == "e80c51875925007d652a40d5d95bc1dc49550e8fbc15e03bb8d2e2784aed6e87"

    decision = pa.table(
        {
            "decision_id": ["0190a5c4-7c1e-7000-8000-000000000001"],
            "ts": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")),
            "model_version": [3],
            "alias": pa.array([None], pa.string()),
            "registered": [True],
            "prediction": [1.0],
            "scores": pa.array([[0.25, 0.75]], pa.list_(pa.float64())),
            "group_sex": pa.DictionaryArray.from_arrays(pa.array([0], pa.int8()), pa.array(["f"])),
            "_batch": ["b1"],
            "_row_hash": pa.array([bytes(32)], pa.binary(32)),
        }
    )
    decision_bytes = (
        b"charter.row.v2"  # alias is null: left out
        b"\x1f11:decision_ids36:0190a5c4-7c1e-7000-8000-000000000001"
        b"\x1f9:group_sexs1:f"
        b"\x1f13:model_versioni3"
        b"\x1f10:predictionf1"
        b"\x1f10:registeredbtrue"
        b"\x1f6:scoreslf[0.25,0.75]"
        b"\x1f2:tst1767225600000000"
    )
    assert rowhash.canonical_rows(decision).to_pylist() == [decision_bytes]
    assert hashes(decision) == [sha(decision_bytes)]
    assert sha(decision_bytes).hex() == "b589670d90aec832bef300b13689c017b9fd2e3b84fbebc873b72b46b8d2b72d"


def test_a_batch_with_no_columns_left_encodes_the_format_name_alone() -> None:
    batch = pa.record_batch({"_batch": ["b1", "b1"]})
    assert rowhash.canonical_rows(batch).to_pylist() == [b"charter.row.v2"] * 2
    assert hashes(batch) == [sha(b"charter.row.v2")] * 2
    assert rowhash.canonical_rows(pa.record_batch({"c": pa.array([], pa.float64())})).to_pylist() == []
    assert len(rowhash.row_hashes(pa.record_batch({"c": pa.array([], pa.float64())}))) == 0


def test_column_names_are_length_prefixed_and_sorted_by_their_utf8_bytes() -> None:
    batch = pa.record_batch({"é": [1], "z": [2], "a\x1fb": [3], "Z": [4]})
    assert rowhash.canonical_rows(batch).to_pylist() == [
        b"charter.row.v2\x1f1:Zi4\x1f3:a\x1fbi3\x1f1:zi2" + "\x1f2:éi1".encode()
    ]


# Floats: Arrow's text, checked against the rule the docstring states, so an Arrow upgrade
# that changed it (and so every row hash) fails here first.


def documented_float_text(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    _, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    power = exponent + len(digits) - 1  # x = d.ddd * 10**power
    if -6 <= power <= 9:
        if power >= len(digits) - 1:
            return sign + digits + "0" * (power - len(digits) + 1)
        if power >= 0:
            return sign + digits[: power + 1] + "." + digits[power + 1 :]
        return sign + "0." + "0" * (-power - 1) + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_floats_encode_by_the_documented_rule(values: list[float]) -> None:
    rows = rowhash.canonical_rows(one_column(pa.array(values, pa.float64()))).to_pylist()
    assert rows == [HEAD + b"f" + documented_float_text(value).encode() for value in values]


@pytest.mark.parametrize("power", range(-12, 25))
def test_floats_at_every_notation_boundary(power: int) -> None:
    values = [10.0**power, 1.5 * 10.0**power, -(10.0**power) * 1.234567]
    rows = rowhash.canonical_rows(one_column(pa.array(values))).to_pylist()
    assert rows == [HEAD + b"f" + documented_float_text(value).encode() for value in values]


# Equalities the encoding promises.


def test_integer_widths_encode_alike() -> None:
    values = [5, -3, None, 0]
    expected = hashes(one_column(pa.array(values, pa.int64())))
    for kind in (pa.int8(), pa.int16(), pa.int32()):
        assert hashes(one_column(pa.array(values, kind))) == expected
    assert hashes(one_column(pa.array([5, 0], pa.uint8()))) == [expected[0], expected[3]]
    assert hashes(one_column(pa.array([5.0]))) != [expected[0]]  # the tag keeps 5.0 apart from 5


def test_dictionary_text_and_plain_text_encode_alike() -> None:
    plain = pa.array(["a", None, "b", "a"])
    encoded = pa.DictionaryArray.from_arrays(pa.array([0, None, 1, 0], pa.int32()), pa.array(["a", "b"]))
    assert hashes(one_column(encoded)) == hashes(one_column(plain))
    assert hashes(one_column(plain.cast(pa.large_string()))) == hashes(one_column(plain))


def test_column_order_does_not_matter() -> None:
    columns = {"decision_id": ["x", "y"], "score": [0.1, None], "n": [1, 2], "tags": [["a"], []]}
    forward = pa.table(columns)
    backward = pa.table(dict(reversed(columns.items())))
    assert hashes(forward) == hashes(backward)


def test_the_lake_columns_are_left_out_unless_asked_for() -> None:
    plain = pa.table({"decision_id": ["x"], "score": [0.5]})
    stamped = plain.append_column("_batch", pa.array(["b1"])).append_column("_row_hash", pa.array([bytes(32)]))
    assert hashes(stamped) == hashes(plain)
    assert hashes(stamped, exclude=("_row_hash",)) != hashes(plain)
    assert hashes(plain, exclude=("score",)) == hashes(pa.table({"decision_id": ["x"]}))


def test_chunks_tables_slices_and_threads_give_the_same_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 23
    batch = pa.record_batch(
        {
            "decision_id": [f"d{i}" for i in range(rows)],
            "score": [i / 7 if i % 5 else None for i in range(rows)],
            "scores": [[i / 3, None] if i % 4 else None for i in range(rows)],
            "label": pa.DictionaryArray.from_arrays(pa.array([i % 3 for i in range(rows)], pa.int8()), ["a", "b", "c"]),
        }
    )
    expected = [sha(row) for row in rowhash.canonical_rows(batch).to_pylist()]
    monkeypatch.setattr(rowhash, "CHUNK", 4)
    assert hashes(batch) == expected
    assert hashes(batch, workers=3) == expected
    table = pa.Table.from_batches([batch.slice(0, 5), batch.slice(5, 1), batch.slice(6)])
    assert hashes(table) == expected
    assert rowhash.canonical_rows(table).to_pylist() == rowhash.canonical_rows(batch).to_pylist()
    assert hashes(batch.slice(7, 9)) == expected[7:16]
    with python_path():
        assert hashes(table, workers=2) == expected


# The C loop against hashlib and against the Python loop.

CELLS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "score": (pa.float64(), st.none() | st.floats(allow_nan=True, allow_infinity=True)),
    "subject_id": (pa.string(), st.none() | st.text(max_size=12)),
    "model_version": (pa.int64(), st.none() | st.integers(-(2**63), 2**63 - 1)),
    "registered": (pa.bool_(), st.none() | st.booleans()),
    "scores": (pa.list_(pa.float64()), st.none() | st.lists(st.none() | st.floats(allow_nan=True), max_size=4)),
    "ts": (pa.timestamp("us", tz="UTC"), st.none() | st.integers(-(2**62), 2**62)),
    "blob": (pa.binary(), st.none() | st.binary(max_size=8)),
}


@st.composite
def columns(draw: st.DrawFn, min_rows: int = 0) -> dict[str, list[Any]]:
    """Cell values by column name (timestamps as integer microseconds), every column as long."""
    n = draw(st.integers(min_rows, 12))
    names = draw(st.lists(st.sampled_from(sorted(CELLS)), min_size=1, unique=True))
    return {name: draw(st.lists(CELLS[name][1], min_size=n, max_size=n)) for name in names}


def build(values: dict[str, list[Any]]) -> pa.RecordBatch:
    return pa.record_batch({name: pa.array(cells, CELLS[name][0]) for name, cells in values.items()})


@settings(max_examples=150, deadline=None)
@given(columns())
def test_the_c_loop_equals_the_python_loop_and_hashlib(values: dict[str, list[Any]]) -> None:
    require_extension()
    batch = build(values)
    rows = rowhash.canonical_rows(batch)
    expected = b"".join(sha(row) for row in rows.to_pylist())
    assert rowhash.hash_each(rows) == expected
    assert rowhash.hash_each(rows, native=False) == expected
    wide = rows.cast(pa.large_binary())
    assert rowhash.hash_each(wide) == rowhash.hash_each(wide, native=False) == expected
    if len(rows) > 2:
        inner = rows.slice(1, len(rows) - 2)
        assert rowhash.hash_each(inner) == rowhash.hash_each(inner, native=False) == expected[32 : 32 * (len(rows) - 1)]
    native_hashes = rowhash.row_hashes(batch)
    with python_path():
        python_hashes = rowhash.row_hashes(batch)
    assert native_hashes.equals(python_hashes)
    assert native_hashes.to_pylist() == [expected[i : i + 32] for i in range(0, len(expected), 32)]


def distinct(old: Any, new: Any) -> bool:
    """Whether two cell values encode differently (NaN equals NaN; -0.0 differs from 0.0)."""

    def key(value: Any) -> Any:
        if isinstance(value, float):
            return ("nan",) if math.isnan(value) else (value, math.copysign(1.0, value))
        if isinstance(value, list):
            return [key(item) for item in value]
        return (type(value).__name__, value)

    return bool(key(old) != key(new))


@settings(max_examples=200, deadline=None)
@given(columns(min_rows=1), st.data())
def test_changing_one_cell_changes_exactly_that_rows_hash(values: dict[str, list[Any]], data: st.DataObject) -> None:
    n = len(next(iter(values.values())))
    row = data.draw(st.integers(0, n - 1))
    name = data.draw(st.sampled_from(sorted(values)))
    old = values[name][row]
    new = data.draw(CELLS[name][1].filter(lambda value: distinct(old, value)))
    changed = {key: list(cells) for key, cells in values.items()}
    changed[name][row] = new
    before, after = hashes(build(values)), hashes(build(changed))
    assert [i for i in range(n) if before[i] != after[i]] == [row]


def test_every_row_of_a_shuffled_batch_keeps_its_hash() -> None:
    rows = 50
    batch = pa.record_batch(
        {"decision_id": [f"id-{i:03d}" for i in range(rows)], "score": [i / 10 for i in range(rows)]}
    )
    order = list(range(rows))
    random.Random(7).shuffle(order)
    shuffled = batch.take(pa.array(order))
    assert hashes(shuffled) == [hashes(batch)[i] for i in order]
    assert rowhash.batch_root(shuffled) == rowhash.batch_root(batch)
    assert rowhash.batch_root(batch) == merkle.merkle_root(hashes(batch))  # ids sort as they stand
    assert rowhash.batch_root(shuffled, workers=2) == rowhash.batch_root(batch)


# Bad input.


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (
            pa.record_batch({"c": pa.array([{"a": 1}])}),
            "column 'c' is of type struct<a: int64>, which rows cannot be hashed in (booleans, integers, floats, "
            "text, bytes, timestamps, dates and lists of these can); cast it to the lake's schema first",
        ),
        (
            pa.record_batch({"c": pa.array([[None]], pa.list_(pa.null()))}),
            "column 'c[]' is of type null, which rows cannot be hashed in (booleans, integers, floats, "
            "text, bytes, timestamps, dates and lists of these can); cast it to the lake's schema first",
        ),
        (
            pa.record_batch({"c": pa.array([Decimal("1.5")])}),
            "column 'c' is of type decimal128(2, 1), which rows cannot be hashed in (booleans, integers, floats, "
            "text, bytes, timestamps, dates and lists of these can); cast it to the lake's schema first",
        ),
        (
            pa.record_batch([pa.array([1]), pa.array([2])], names=["c", "c"]),
            "column 'c' appears more than once in the batch; each column needs its own name",
        ),
    ],
    ids=["struct", "list of null", "decimal", "duplicate"],
)
def test_unhashable_batches_are_refused_naming_the_column(batch: pa.RecordBatch, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rowhash.row_hashes(batch)
    assert str(caught.value) == message
    assert caught.value.code == "input.invalid"


def test_a_timestamp_finer_than_a_microsecond_is_refused() -> None:
    batch = one_column(pa.array([1_001], pa.timestamp("ns")))
    with pytest.raises(InvalidInput, match=r"^column 'c': a timestamp is not a whole number of microseconds"):
        rowhash.row_hashes(batch)


NOT_A_BATCH: Any = {"c": [1]}


def test_other_bad_arguments_are_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        rowhash.row_hashes(NOT_A_BATCH)
    assert str(caught.value) == "expected an Arrow RecordBatch or Table of decisions, not dict"
    with pytest.raises(InvalidInput) as caught:
        rowhash.row_hashes(one_column(pa.array([1])), workers=0)
    assert str(caught.value) == "workers is 0; use 1 or more threads"
    with pytest.raises(InvalidInput) as caught:
        rowhash.hash_each(pa.array(["a", None]).cast(pa.binary()))
    assert str(caught.value) == "hash_each takes binary values without nulls, not binary values with 1 nulls"


def test_a_batch_root_needs_decision_ids() -> None:
    with pytest.raises(InvalidInput) as caught:
        rowhash.batch_root(pa.record_batch({"score": [0.5], "_batch": ["b"]}))
    assert str(caught.value) == (
        "the batch has no decision_id column (it has: score, _batch); "
        "rows are ordered by decision id before their root is taken"
    )
    with pytest.raises(InvalidInput, match=r"^decision id 'x' appears more than once; each row needs its own$"):
        rowhash.batch_root(pa.record_batch({"decision_id": ["x", "y", "x"], "score": [1.0, 2.0, 3.0]}))


def test_a_null_cell_reads_as_an_absent_column() -> None:
    # A later batch adds a feature: older rows read null there, and their hashes must not change.
    before = pa.table({"decision_id": ["a", "b"], "age": [30, 41]})
    after = pa.table({"decision_id": ["a", "b"], "age": [30, 41], "tenure": pa.array([None, None], pa.int64())})
    untyped = pa.table({"decision_id": ["a", "b"], "age": [30, 41], "note": pa.array([None, None])})
    assert hashes(before) == hashes(after) == hashes(untyped)
    mixed = pa.table({"decision_id": ["a", "b"], "age": [30, 41], "tenure": pa.array([None, 7], pa.int64())})
    assert hashes(mixed)[0] == hashes(before)[0] and hashes(mixed)[1] != hashes(before)[1]
