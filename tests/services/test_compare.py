"""Drift of a data file against a dataset version's stored profile or a reference file, read in batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput, NotFound
from charter.metrics.drift_report import drift_report
from charter.services.compare import compare_drift, rows_hint
from charter.services.context import Context, open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.home import init_home
from charter.services.tabular import count_rows, iter_batches

rng = np.random.default_rng(5)
ROWS = 3000


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def _frame(shift: float) -> dict[str, object]:
    return {
        "age": rng.normal(40 + shift, 10, ROWS),
        "income": rng.lognormal(10, 1, ROWS),
        "region": rng.choice(["n", "s", "e"], ROWS).tolist(),
        "email": [f"u{i}@example.org" for i in range(ROWS)],
    }


def test_a_file_is_compared_with_a_dataset_versions_profile(context: Context, tmp_path: Path) -> None:
    reference, current = _frame(0.0), _frame(6.0)
    pq.write_table(pa.table(reference), tmp_path / "reference.parquet")
    pq.write_table(pa.table(current), tmp_path / "current.parquet", row_group_size=700)
    register_dataset(context, DatasetSpec(name="applicants", legal_basis="contract"))
    add_dataset_version(context, "applicants", tmp_path / "reference.parquet")
    seen: list[int] = []
    result = compare_drift(context, "applicants@1", tmp_path / "current.parquet", progress=seen.append)
    assert (result.reference, result.rows, result.required_share) == ("applicants@1", ROWS, 0.5)
    assert seen[-1] == ROWS
    exact = drift_report({k: reference[k] for k in ("age", "income", "region")}, current)
    assert [c.column for c in result.report.columns] == ["age", "income", "region"]  # email is personal data
    for ours, theirs in zip(result.report.columns, exact.columns, strict=True):
        assert (ours.test, ours.drifted) == (theirs.test, theirs.drifted)
        assert abs(ours.score - theirs.score) <= ours.bound + 1e-9
    assert result.report.columns[0].drifted and not result.report.columns[1].drifted
    assert result.to_dict()["reference"] == "applicants@1"
    assert rows_hint(tmp_path / "current.parquet") == ROWS


def test_a_file_is_compared_with_a_reference_file(context: Context, tmp_path: Path) -> None:
    (tmp_path / "reference.csv").write_text("x,colour\n" + "".join(f"{i % 7},c{i % 3}\n" for i in range(500)))
    (tmp_path / "current.csv").write_text("x,colour\n" + "".join(f"{i % 5},c{i % 4}\n" for i in range(400)))
    result = compare_drift(context, str(tmp_path / "reference.csv"), tmp_path / "current.csv")
    assert result.reference == str(tmp_path / "reference.csv")
    assert {c.column: c.test for c in result.report.columns} == {"x": "ks", "colour": "chi_square"}
    assert rows_hint(tmp_path / "current.csv") is None


def test_bad_comparisons_are_refused_before_reading(context: Context, tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0]}), tmp_path / "reference.parquet")
    pq.write_table(pa.table({"y": [1.0]}), tmp_path / "current.parquet")
    with pytest.raises(NotFound, match="no dataset 'nothing'"):
        compare_drift(context, "nothing@1", tmp_path / "current.parquet")
    reference = str(tmp_path / "reference.parquet")
    with pytest.raises(InvalidInput, match=r"thresholds: no column\(s\) z in the reference"):
        compare_drift(context, reference, tmp_path / "absent.parquet", thresholds={"z": 0.2})
    with pytest.raises(InvalidInput, match=r"current: column\(s\) x are missing"):
        compare_drift(context, reference, tmp_path / "current.parquet")
    with pytest.raises(InvalidInput, match=r"absent\.parquet: no such file or folder"):
        compare_drift(context, reference, tmp_path / "absent.parquet")


def test_files_are_read_in_batches(tmp_path: Path) -> None:
    table = pa.table({"a": np.arange(10_000, dtype=np.int64), "b": [f"v{i}" for i in range(10_000)]})
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=1000)
    folder = tmp_path / "folder"
    folder.mkdir()
    pq.write_table(table.slice(0, 4000), folder / "part-0.parquet")
    pq.write_table(table.slice(4000), folder / "part-1.parquet")
    (tmp_path / "data.csv").write_text("a,b\n" + "".join(f"{i},v{i}\n" for i in range(10_000)))
    for path in (tmp_path / "one.parquet", folder, tmp_path / "data.csv"):
        batches = list(iter_batches(path, rows=1500))
        assert len(batches) > 1 and pa.Table.from_batches(batches).equals(table.cast(batches[0].schema))
    assert count_rows(folder) == 10_000 and count_rows(tmp_path / "data.csv") is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "empty.csv is empty: it has no header line"),
        ("twice.csv", "a,a\n1,2\n", "column 'a' appears more than once"),
        ("data.txt", "a\n1\n", "cannot tell the format"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(InvalidInput, match=message):
        list(iter_batches(tmp_path / name))


def test_a_csv_whose_later_rows_change_type_is_named(tmp_path: Path) -> None:
    lines = "".join(f"{i}\n" for i in range(200_000))
    (tmp_path / "late.csv").write_text("n\n" + lines + "abc\n")
    with pytest.raises(InvalidInput, match=r"late.csv: not readable as CSV in batches .*a column's type comes from"):
        list(iter_batches(tmp_path / "late.csv", rows=1000))
