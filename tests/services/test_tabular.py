"""Reading CSV/Parquet into Arrow, the schema mapping and the quality checks (also against a plain-Python oracle)."""

from __future__ import annotations

import datetime as dt
import gzip
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.services.tabular import (
    FORMATS,
    detect_format,
    quality_report,
    read_table,
    sample_values,
    table_schema,
)

KNOWN = "known formats: csv (.csv, .csv.gz, .tsv, .tsv.gz), parquet (.parquet, .pq, or a folder of them)"
NAN = float("nan")


def invalid(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    assert info.value.code == "input.invalid"
    return info.value.message


def test_formats() -> None:
    assert FORMATS == ("csv", "parquet")


# detect_format ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data.csv", "csv"),
        ("DATA.CSV", "csv"),
        ("data.csv.gz", "csv"),
        ("data.tsv", "csv"),
        ("data.tsv.gz", "csv"),
        ("data.parquet", "parquet"),
        ("data.PQ", "parquet"),
    ],
)
def test_format_from_the_name(tmp_path: Path, name: str, expected: str) -> None:
    assert detect_format(tmp_path / name) == expected  # the name is enough: the file need not exist


@pytest.mark.parametrize("part", ["part-0.parquet", "year=2024/part-0.pq"])
def test_a_folder_of_parquet_files_is_parquet(tmp_path: Path, part: str) -> None:
    (tmp_path / "ds" / part).parent.mkdir(parents=True)
    pq.write_table(pa.table({"a": [1]}), tmp_path / "ds" / part)
    assert detect_format(tmp_path / "ds") == "parquet"


@pytest.mark.parametrize(
    ("name", "files", "expected"),
    [
        ("notes.txt", {"notes.txt": b"x"}, "cannot tell the format of {p} from its name ({known})"),
        ("notes.txt", {}, "{p}: no such file or folder"),
        ("ds", {"ds/README.txt": b"x"}, "{p} is a folder without .parquet or .pq files ({known})"),
        (
            "ds",
            {"ds/_tmp.parquet": b"x", "ds/.x/a.parquet": b"x"},
            "{p} is a folder without .parquet or .pq files ({known})",
        ),
    ],
)
def test_unknown_formats_are_refused(tmp_path: Path, name: str, files: dict[str, bytes], expected: str) -> None:
    for file, data in files.items():
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_bytes(data)
    path = tmp_path / name
    assert invalid(detect_format, path) == expected.format(p=path, known=KNOWN)
    assert invalid(read_table, path) == expected.format(p=path, known=KNOWN)


# read_table -------------------------------------------------------------------------------------------------------

PEOPLE = (
    "name,age,income,member,joined,seen\n"
    "Ada,36,1200.5,true,2024-01-02,2024-01-02 10:30:00\n"
    "Bo,,,false,2023-12-31,\n"
    ",-4,1e3,,,2024-02-29 00:00:00\n"
)
PEOPLE_COLUMNS = {
    "name": ["Ada", "Bo", ""],  # pyarrow keeps empty strings in string columns; quality_report counts them missing
    "age": [36, None, -4],
    "income": [1200.5, None, 1000.0],
    "member": [True, False, None],
    "joined": [dt.date(2024, 1, 2), dt.date(2023, 12, 31), None],
    "seen": [dt.datetime(2024, 1, 2, 10, 30), None, dt.datetime(2024, 2, 29)],
}
PEOPLE_SCHEMA = [
    {"name": "name", "type": "string"},
    {"name": "age", "type": "integer"},
    {"name": "income", "type": "number"},
    {"name": "member", "type": "boolean"},
    {"name": "joined", "type": "date"},
    {"name": "seen", "type": "timestamp"},
]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("people.csv", None),
        ("people.tsv", None),
        ("people.csv.gz", None),
        ("people.tsv.gz", None),
        ("people.txt", "csv"),
    ],
)
def test_csv_round_trip(tmp_path: Path, name: str, fmt: str | None) -> None:
    text = PEOPLE.replace(",", "\t") if ".tsv" in name else PEOPLE
    data = text.encode()
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    table = read_table(tmp_path / name, fmt)
    assert table.to_pydict() == PEOPLE_COLUMNS
    assert table_schema(table) == PEOPLE_SCHEMA


TYPED = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int32()),
        "score": pa.array([0.5, None, -1e300]),
        "label": pa.array(["a", None, "c"]).dictionary_encode(),
        "day": pa.array([dt.date(2024, 1, 1)] * 3),
        "tags": pa.array([[1], [], None], pa.list_(pa.int64())),
    }
)


@pytest.mark.parametrize(("name", "fmt"), [("t.parquet", None), ("t.pq", None), ("t.bin", "parquet")])
def test_parquet_round_trip(tmp_path: Path, name: str, fmt: str | None) -> None:
    pq.write_table(TYPED, tmp_path / name)
    assert read_table(tmp_path / name, fmt).equals(TYPED)


def test_a_folder_is_read_as_its_parquet_files_in_path_order(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    (folder / "sub").mkdir(parents=True)
    pq.write_table(pa.table({"a": [3], "b": ["z"]}), folder / "sub" / "part-2.pq")
    pq.write_table(pa.table({"a": [2], "b": ["y"]}), folder / "part-1.parquet")
    pq.write_table(pa.table({"a": [0, 1], "b": ["w", "x"]}), folder / "part-0.parquet")
    for junk in ("_SUCCESS", "README.txt", ".part-9.parquet.crc", "_temporary.parquet"):
        (folder / junk).write_bytes(b"not parquet")
    table = read_table(folder)
    assert table.to_pydict() == {"a": [0, 1, 2, 3], "b": ["w", "x", "y", "z"]}


def test_parquet_files_of_a_folder_must_share_their_columns(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1]}), folder / "p0.parquet")
    pq.write_table(pa.table({"a": ["x"]}), folder / "p1.parquet")
    assert invalid(read_table, folder) == (
        f"{folder / 'p1.parquet'}: its columns (a: string) differ from those of {folder / 'p0.parquet'} (a: int64); "
        "every file in a folder must have the same columns"
    )


@pytest.mark.parametrize(
    ("name", "data", "fmt", "expected"),
    [
        ("bad.csv", b"a,b\n1,2\n3,4,5\n6,7\n", None, "{p} row 3: expected 2 columns, got 3: 3,4,5"),
        ("bad.tsv", b"a\tb\n1\t2\n3\n", None, "{p} row 3: expected 2 columns, got 1: 3"),
        ("empty.csv", b"", None, "{p} is empty: it has no header line"),
        ("dup.csv", b"a,a\n1,2\n", None, "{p}: column 'a' appears more than once; column names must be unique"),
        ("missing.csv", None, None, "{p}: no such file or folder"),
        ("missing.parquet", None, None, "{p}: no such file or folder"),
        ("data.csv", b"a\n1\n", "json", f"unknown format 'json' ({KNOWN})"),
        ("data.json", b"{}", None, "cannot tell the format of {p} from its name ({known})"),
    ],
)
def test_unreadable_files_are_refused_by_name(
    tmp_path: Path, name: str, data: bytes | None, fmt: str | None, expected: str
) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    assert invalid(read_table, path, fmt) == expected.format(p=path, known=KNOWN)


def test_a_file_that_is_not_parquet_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"this is not parquet")
    message = invalid(read_table, path)
    assert message.startswith(f"{path}: not a readable Parquet file (")


def test_a_parquet_file_without_columns_is_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({}), tmp_path / "none.parquet")
    assert invalid(read_table, tmp_path / "none.parquet") == f"{tmp_path / 'none.parquet'} is empty: it has no columns"


def test_a_csv_header_alone_is_an_empty_table(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    table = read_table(tmp_path / "h.csv")
    assert (table.num_rows, table.column_names) == (0, ["a", "b"])
    assert table_schema(table) == [{"name": "a", "type": "other"}, {"name": "b", "type": "other"}]  # Arrow's null type


# table_schema and sample_values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "simple"),
    [
        (pa.int8(), "integer"),
        (pa.int64(), "integer"),
        (pa.uint64(), "integer"),
        (pa.float32(), "number"),
        (pa.float64(), "number"),
        (pa.decimal128(10, 2), "number"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.string_view(), "string"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
        (pa.dictionary(pa.int8(), pa.int64()), "integer"),
        (pa.bool_(), "boolean"),
        (pa.date32(), "date"),
        (pa.date64(), "date"),
        (pa.timestamp("s"), "timestamp"),
        (pa.timestamp("ns", tz="Europe/Berlin"), "timestamp"),
        (pa.binary(), "other"),
        (pa.time64("us"), "other"),
        (pa.duration("ms"), "other"),
        (pa.list_(pa.int64()), "other"),
        (pa.struct([("x", pa.int64())]), "other"),
        (pa.map_(pa.string(), pa.int64()), "other"),
        (pa.null(), "other"),
    ],
)
def test_schema_types(dtype: pa.DataType, simple: str) -> None:
    table = pa.schema([("first", pa.int64()), ("col", dtype)]).empty_table()
    assert table_schema(table) == [{"name": "first", "type": "integer"}, {"name": "col", "type": simple}]


@pytest.mark.parametrize(
    ("values", "limit", "expected"),
    [
        (pa.array(["a", None, "", "b", "c"]), 1000, ["a", "b", "c"]),
        (pa.array(["a", None, "", "b", "c"]), 2, ["a", "b"]),
        (pa.array(["a", "b"]), 0, []),
        (pa.array(["x", None, "", "y"], pa.string_view()), 10, ["x", "y"]),
        (pa.array(["x", None, "x"]).dictionary_encode(), 10, ["x", "x"]),
        (pa.array([1.5, NAN, None, -2.0]), 10, [1.5, -2.0]),
        (pa.array([None, 7, 0]), 10, [7, 0]),
        (pa.array([None, None]), 10, []),
    ],
)
def test_sample_values_skip_missing_values(values: pa.Array, limit: int, expected: list[object]) -> None:
    assert sample_values(pa.table({"c": values}), "c", limit) == expected


def test_sample_values_of_a_large_chunked_column() -> None:
    column = pa.chunked_array(
        [pa.array([None] * 10_000, pa.string()), pa.array([f"user{i}@x.org" for i in range(5000)])]
    )
    assert sample_values(pa.table({"email": column}), "email") == [f"user{i}@x.org" for i in range(1000)]


def test_sample_values_errors() -> None:
    table = pa.table({"a": [1], "b": [2]})
    assert invalid(sample_values, table, "c") == "no column 'c' (columns: a, b)"
    assert invalid(sample_values, table, "a", -1) == "limit must be 0 or more, not -1"


# quality_report ------------------------------------------------------------------------------------------------------


def col(
    missing: int = 0, share: float = 0.0, constant: bool = False, distinct: int | None = 0, violations: int = 0
) -> dict[str, Any]:
    return {
        "missing": missing,
        "missing_share": share,
        "constant": constant,
        "distinct": distinct,
        "type_violations": violations,
    }


NUMBERS = ["1", "-2", "3.5", "-4.25", "1e3", "-2.5E-3", ".5", "+7", " 8 ", "10."]
QUALITY_CASES = [
    pytest.param(
        {"income": [1.0, None, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]},
        0.05,
        {"income": col(1, 0.125, distinct=7)},
        0,
        ("column 'income': 12.5% missing",),
        id="missing-above-threshold",
    ),
    pytest.param(
        {"income": [1.0, None, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]},
        0.125,
        {"income": col(1, 0.125, distinct=7)},
        0,
        (),
        id="at-threshold",
    ),
    pytest.param(
        {"city": ["a", "", None, "b"], "x": [1.0, NAN, None, 2.0]},
        0.05,
        {"city": col(2, 0.5, distinct=2), "x": col(2, 0.5, distinct=2)},
        0,
        ("column 'city': 50.0% missing", "column 'x': 50.0% missing"),
        id="empty-strings-and-nan-are-missing",
    ),
    pytest.param(
        {"country": ["DE", "DE", None, "DE"], "n": [1, 2, 3, 4]},
        0.5,
        {"country": col(1, 0.25, constant=True, distinct=1), "n": col(distinct=4)},
        0,
        ("column 'country' is constant ('DE')",),
        id="constant-string",
    ),
    pytest.param(
        {"k": [7, 7, 7], "flag": [True, True, True]},
        0.05,
        {"k": col(constant=True, distinct=1), "flag": col(constant=True, distinct=1)},
        2,
        ("column 'k' is constant (7)", "column 'flag' is constant (True)", "2 duplicate rows"),
        id="constant-number-and-boolean",
    ),
    pytest.param(
        {"a": [1, 2, 3], "none": [None, None, None], "blank": ["", "", None], "nan": [NAN, None, NAN]},
        0.05,
        {"a": col(distinct=3), "none": col(3, 1.0), "blank": col(3, 1.0), "nan": col(3, 1.0)},
        0,
        (
            "column 'none' is entirely missing",
            "column 'blank' is entirely missing",
            "column 'nan' is entirely missing",
        ),
        id="entirely-missing",
    ),
    pytest.param(
        {"a": [1, 1, 2, 1, 2], "b": ["x", "x", "y", "x", "z"]},
        0.05,
        {"a": col(distinct=2), "b": col(distinct=3)},
        2,
        ("2 duplicate rows",),
        id="duplicates",
    ),
    pytest.param(
        {"a": [None, None, 1], "f": [NAN, NAN, 1.0], "s": ["", "", "q"]},
        0.9,
        {
            "a": col(2, 2 / 3, distinct=1, constant=True),
            "f": col(2, 2 / 3, distinct=1, constant=True),
            "s": col(2, 2 / 3, distinct=1, constant=True),
        },
        1,
        (
            "column 'a' is constant (1)",
            "column 'f' is constant (1.0)",
            "column 's' is constant ('q')",
            "1 duplicate row",
        ),
        id="nulls-and-nans-are-equal-when-comparing-rows",
    ),
    pytest.param(
        {"age": [*NUMBERS, *[str(i) for i in range(100, 117)], "n/a", "?", "ten", "", None]},
        0.5,
        {"age": col(2, 2 / 32, distinct=30, violations=3)},
        0,
        ("column 'age': 3 values are not numbers in a mostly numeric column",),
        id="type-violations-at-90-percent",
    ),
    pytest.param(
        {"age": [*NUMBERS[:9], "1,000"]},
        0.05,
        {"age": col(distinct=10, violations=1)},
        0,
        ("column 'age': 1 value is not a number in a mostly numeric column",),
        id="one-type-violation",
    ),
    pytest.param(
        {"age": [*NUMBERS[:8], "e5", "--1"]}, 0.05, {"age": col(distinct=10)}, 0, (), id="below-90-percent-is-text"
    ),
    pytest.param({"age": NUMBERS}, 0.05, {"age": col(distinct=10)}, 0, (), id="all-numbers-are-no-violation"),
]


@pytest.mark.parametrize(("columns", "threshold", "expected", "duplicates", "issues"), QUALITY_CASES)
def test_quality_rules(
    columns: dict[str, list[Any]], threshold: float, expected: dict[str, Any], duplicates: int, issues: tuple[str, ...]
) -> None:
    table = pa.table(columns)
    report = quality_report(table, missing_threshold=threshold)
    assert report.rows == table.num_rows
    assert report.columns == expected
    assert report.duplicate_rows == duplicates
    assert report.issues == issues


def test_empty_table() -> None:
    table = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string()), "f": pa.array([], pa.float64())})
    report = quality_report(table)
    assert report.to_dict() == {
        "rows": 0,
        "duplicate_rows": 0,
        "columns": {"a": col(), "s": col(), "f": col()},
        "issues": [],
    }


def test_columns_arrow_cannot_compare_are_left_out_of_duplicates() -> None:
    table = pa.table({"tags": pa.array([[1], [2], None]), "a": pa.array([1, 1, 1])})
    report = quality_report(table)
    assert report.columns == {"tags": col(1, 1 / 3, distinct=None), "a": col(constant=True, distinct=1)}
    assert report.duplicate_rows == 2
    assert report.issues == (
        "column 'tags': 33.3% missing",
        "column 'a' is constant (1)",
        "2 duplicate rows (not comparing 'tags': Arrow cannot compare their values)",
    )


def test_dictionary_and_string_view_columns() -> None:
    table = pa.table(
        {
            "d": pa.array(["x", "", None, "x", "x", "x", "x", "x", "x", "x", "x"]).dictionary_encode(),
            "v": pa.array([*NUMBERS[:9], "x", ""], pa.string_view()),
        }
    )
    report = quality_report(table, missing_threshold=0.5)
    assert report.columns == {
        "d": col(2, 2 / 11, constant=True, distinct=1),
        "v": col(1, 1 / 11, distinct=10, violations=1),
    }
    assert report.issues == (
        "column 'd' is constant ('x')",
        "column 'v': 1 value is not a number in a mostly numeric column",
    )


def test_a_csv_read_from_disk_is_checked(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(PEOPLE)
    report = quality_report(read_table(tmp_path / "people.csv"), missing_threshold=0.5)
    assert report.columns["name"] == col(1, 1 / 3, distinct=2)
    assert report.issues == ()


def test_missing_threshold_is_a_share() -> None:
    assert invalid(quality_report, pa.table({"a": [1]}), missing_threshold=1.5) == (
        "missing_threshold must be between 0 and 1, not 1.5"
    )


def test_duplicate_column_names_are_refused() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    assert invalid(quality_report, table) == "the table: column 'a' appears more than once; column names must be unique"


def test_200_000_rows() -> None:
    n, unique = 200_000, 150_000  # rows past `unique` repeat row i - unique exactly
    ids = [i % unique for i in range(n)]
    table = pa.table(
        {
            "id": ids,
            "score": [NAN if i % 8 == 0 else float(k) for i, k in zip(range(n), ids, strict=True)],
            "code": ["?" if i % 50 == 0 else str(k) for i, k in zip(range(n), ids, strict=True)],
            "country": ["DE"] * n,
        }
    )
    report = quality_report(table)
    assert report.rows == n
    assert report.duplicate_rows == n - unique
    assert report.columns == {
        "id": col(distinct=unique),
        "score": col(n // 8, 0.125, distinct=unique - unique // 8),
        "code": col(distinct=unique - unique // 50 + 1, violations=n // 50),
        "country": col(constant=True, distinct=1),
    }
    assert report.issues == (
        "column 'score': 12.5% missing",
        "column 'code': 4000 values are not numbers in a mostly numeric column",
        "column 'country' is constant ('DE')",
        "50000 duplicate rows",
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(-2, 2)), st.sampled_from([None, "", "a", "b", "1"])), max_size=30
    )
)
def test_quality_matches_a_plain_python_oracle(rows: list[tuple[int | None, str | None]]) -> None:
    ints, strs = [r[0] for r in rows], [r[1] for r in rows]
    report = quality_report(
        pa.table({"i": pa.array(ints, pa.int64()), "s": pa.array(strs, pa.string())}), missing_threshold=1.0
    )
    for name, values in (("i", ints), ("s", strs)):
        present = [v for v in values if v is not None and v != ""]
        missing = len(values) - len(present)
        stats = report.columns[name]
        assert stats["missing"] == missing
        assert math.isclose(stats["missing_share"], missing / len(values) if values else 0.0)
        assert stats["distinct"] == len(set(present))
        assert stats["constant"] == (len(set(present)) == 1)
    assert report.duplicate_rows == len(rows) - len(set(rows))


def test_hidden_and_underscore_folders_are_skipped_with_their_files(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    for sub in (".staging", "_temporary", "ok"):
        (folder / sub).mkdir(parents=True)
    pq.write_table(pa.table({"a": [1]}), folder / "ok" / "p.parquet")
    pq.write_table(pa.table({"a": [9]}), folder / ".staging" / "p.parquet")
    pq.write_table(pa.table({"a": [9]}), folder / "_temporary" / "p.parquet")
    assert read_table(folder).to_pydict() == {"a": [1]}


def test_a_folder_with_too_many_entries_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/`` or a home folder given by mistake is refused, not walked whole."""
    import charter.services.tabular as tabular

    monkeypatch.setattr(tabular, "MAX_FOLDER_ENTRIES", 5)
    folder = tmp_path / "ds"
    folder.mkdir()
    for i in range(6):
        pq.write_table(pa.table({"a": [i]}), folder / f"p{i}.parquet")
    assert invalid(read_table, folder) == (
        f"{folder} holds more than 5 files and folders; give the folder that holds the dataset's Parquet files"
    )


def test_a_folder_that_cannot_be_read_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``/proc`` gave under ``/``: an OSError while walking becomes a clear error, not a crash."""
    import os

    folder = tmp_path / "ds"
    (folder / "net").mkdir(parents=True)
    real = os.scandir

    def scandir(path: Any) -> Any:
        if str(path).endswith("net"):
            raise OSError(22, "Invalid argument", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert (
        invalid(read_table, folder, "parquet")
        == f"cannot read {folder / 'net'}: Invalid argument (under the dataset folder {folder})"
    )
