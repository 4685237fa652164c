"""The decision lake's Delta tables: batches with row hashes, idempotent retries, windows, evolution, deletion."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from charter.errors import InvalidInput, NotFound
from charter.ids import new_id
from charter.lake.rowhash import row_hashes
from charter.lake.schema import TIMESTAMP
from charter.lake.table import DecisionLake

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def decisions(
    rows: int, *, hour: int = 0, version: int = 1, alias: str | None = "prod", extra: bool = False
) -> pa.Table:
    rng = np.random.default_rng(rows + hour)
    columns = {
        "decision_id": [new_id() for _ in range(rows)],
        "ts": pa.array([START + dt.timedelta(hours=hour, seconds=i) for i in range(rows)], type=TIMESTAMP),
        "model_version": pa.array([version] * rows, type=pa.int64()),
        "alias": pa.array([alias] * rows, type=pa.string()),
        "registered": pa.array([True] * rows),
        "subject_id": pa.array([f"s{i % 3}" for i in range(rows)]),
        "age": rng.integers(18, 90, rows),
        "income": rng.normal(50_000, 10_000, rows),
        "prediction": rng.integers(0, 2, rows),
        "score": rng.random(rows),
    }
    if extra:
        columns["tenure"] = rng.integers(0, 30, rows)
    return pa.table(columns)


@pytest.fixture
def lake(tmp_path: Path) -> DecisionLake:
    return DecisionLake(tmp_path / "lake")


def test_a_batch_is_written_once_with_its_hashes(lake: DecisionLake) -> None:
    batch = decisions(50)
    commit = lake.append("credit-risk", "decisions", batch, batch_id="b1")
    assert (commit.rows, commit.written, commit.version) == (50, True, 0)
    again = lake.append("credit-risk", "decisions", batch, batch_id="b1")
    assert not again.written and again.root == commit.root and again.version == 0
    restarted = DecisionLake(lake.root)  # another process: it reads the commits to find the batch
    assert restarted.committed("credit-risk", "decisions", "b1") == 0
    assert restarted.committed("credit-risk", "decisions", "b2") is None
    stored = lake.read_table("credit-risk")
    assert stored.num_rows == 50
    assert stored.column("_batch").to_pylist() == ["b1"] * 50
    assert stored.column("_row_hash").to_pylist() == row_hashes(batch).to_pylist()
    manifest = lake.read_manifest("credit-risk", "decisions", "b1")
    assert manifest is not None and manifest[1].num_rows == 50
    assert lake.models() == ["credit-risk"]


def test_windows_select_time_versions_alias_and_columns(lake: DecisionLake) -> None:
    lake.append("m", "decisions", decisions(10, hour=0, version=1), batch_id="a")
    lake.append("m", "decisions", decisions(10, hour=5, version=2, alias="shadow"), batch_id="b")
    window = lake.read_table("m", start=START + dt.timedelta(hours=4), end=START + dt.timedelta(hours=6))
    assert window.num_rows == 10 and set(window.column("model_version").to_pylist()) == {2}
    assert lake.read_table("m", versions=[1]).num_rows == 10
    assert lake.read_table("m", alias="shadow", columns=["decision_id", "age"]).column_names == ["decision_id", "age"]
    with pytest.raises(InvalidInput, match=r"columns: nope not in the decisions of 'm'"):
        lake.read_table("m", columns=["nope"])
    with pytest.raises(InvalidInput, match="has no time zone"):
        lake.read_table("m", start=dt.datetime(2026, 11, 1))
    with pytest.raises(InvalidInput, match="the window is empty"):
        lake.read_table("m", start=START, end=START)
    with pytest.raises(NotFound, match="no outcomes logged for model 'm' yet"):
        lake.read_table("m", "outcomes")


def test_a_new_feature_evolves_the_schema(lake: DecisionLake) -> None:
    lake.append("m", "decisions", decisions(5), batch_id="a")
    lake.append("m", "decisions", decisions(5, hour=1, extra=True), batch_id="b")
    table = lake.read_table("m")
    assert table.num_rows == 10 and "tenure" in table.column_names
    assert table.column("tenure").null_count == 5


def test_other_engines_read_the_lake_without_charter(lake: DecisionLake) -> None:
    lake.append("m", "decisions", decisions(20), batch_id="a")
    frame = pl.read_delta(lake.uri("m"))
    assert frame.height == 20 and "age" in frame.columns


def test_compaction_keeps_every_row_and_hash(lake: DecisionLake) -> None:
    for i in range(5):
        lake.append("m", "decisions", decisions(8, hour=i), batch_id=f"b{i}")
    before = lake.read_table("m").sort_by("decision_id")
    lake.compact("m")
    after = lake.read_table("m").sort_by("decision_id")
    assert after.equals(before)
    assert len(DeltaTable(lake.uri("m")).file_uris()) == 1


def test_deletion_by_time_and_by_subject_returns_what_went(lake: DecisionLake) -> None:
    lake.append("m", "decisions", decisions(9, hour=0), batch_id="old")
    recent = decisions(9, hour=48)
    lake.append("m", "decisions", recent, batch_id="new")
    outcomes = pa.table(
        {
            "decision_id": recent.column("decision_id"),
            "ts": recent.column("ts"),
            "label": pa.array([1] * 9),
        }
    )
    lake.append("m", "outcomes", outcomes, batch_id="o1")
    gone = lake.delete_before("m", "decisions", START + dt.timedelta(hours=24))
    assert {row.batch_id for row in gone} == {"old"} and len(gone) == 9
    erased = lake.erase_subject("m", "s1")
    assert {row.kind for row in erased} == {"decisions", "outcomes"}
    assert sum(row.kind == "decisions" for row in erased) == 3
    remaining = lake.read_table("m")
    assert "s1" not in remaining.column("subject_id").to_pylist() and remaining.num_rows == 6
    assert lake.read_table("m", "outcomes").num_rows == 6


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"x": [1]}), "has no 'decision_id' column"),
        (pa.table({"decision_id": ["a"], "_batch": ["x"]}), "are the lake's to add"),
        (pa.table({"decision_id": pa.array([], pa.string())}), "is empty"),
    ],
)
def test_bad_batches_are_refused(lake: DecisionLake, table: pa.Table, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        lake.append("m", "decisions", table, batch_id="x")
    assert not lake.exists("m")


def test_a_column_of_nothing_but_nulls_takes_the_tables_type(lake: DecisionLake) -> None:
    lake.append("m", "decisions", decisions(3), batch_id="a")
    empty = decisions(2, hour=1).set_column(6, "age", pa.nulls(2))
    lake.append("m", "decisions", empty, batch_id="b")
    table = lake.read_table("m")
    assert table.num_rows == 5 and table.column("age").null_count == 2
    fresh = pa.table({"decision_id": ["x"], "ts": pa.array([START], type=TIMESTAMP), "note": pa.nulls(1),
                      "score": pa.nulls(1)})  # fmt: skip
    lake.append("other", "decisions", fresh, batch_id="c")
    schema = lake.read_table("other").schema
    assert "note" not in schema.names  # no values and no known type: left out, not guessed
    assert schema.field("score").type == pa.float64()  # a lake column of its own keeps its fixed type


def test_a_concurrent_batch_with_values_is_not_merged_into_a_guessed_type(lake: DecisionLake) -> None:
    """The race behind a rare CI failure: a batch with only nulls in a column (a shadow launch without scores)
    created the table first, its guessed text type took the next batch's numbers as text, and those rows no
    longer matched their anchored hashes."""
    first = pa.table({"decision_id": ["a"], "ts": pa.array([START], type=TIMESTAMP), "extra": pa.nulls(1)})
    lake.append("m2", "decisions", first, batch_id="a")
    second = pa.table({"decision_id": ["b"], "ts": pa.array([START], type=TIMESTAMP), "extra": [0.25]})
    commit = lake.append("m2", "decisions", second, batch_id="b")
    table = lake.read_table("m2").sort_by("decision_id")
    assert table.schema.field("extra").type == pa.float64()
    assert table.column("extra").to_pylist() == [None, 0.25]
    from charter.lake.rowhash import row_hashes

    assert row_hashes(table.slice(1, 1).drop_columns(["_batch", "_row_hash"]))[0].as_py() == (
        table.column("_row_hash")[1].as_py()
    )
    assert commit.written


def test_writers_with_open_tables_catch_up_with_each_other(lake: DecisionLake) -> None:
    """Two lake objects (as two processes) keep their tables open between writes: each write first reads
    the other's commits, so versions follow on, schemas merge and a batch the other wrote is not written."""
    other = DecisionLake(lake.root)
    first = lake.append("m", "decisions", decisions(5, hour=0), batch_id="a")
    second = other.append("m", "decisions", decisions(5, hour=1, extra=True), batch_id="b")
    third = lake.append("m", "decisions", decisions(5, hour=2), batch_id="c")
    assert [first.version, second.version, third.version] == [0, 1, 2]
    assert not other.append("m", "decisions", decisions(5, hour=2), batch_id="c").written
    assert not lake.append("m", "decisions", decisions(5, hour=1), batch_id="b").written
    stored = lake.read_table("m")
    assert stored.num_rows == 15 and stored.column("tenure").null_count == 10


def test_threads_sharing_a_lake_write_every_batch_once(lake: DecisionLake) -> None:
    import threading

    batches = [decisions(20, hour=h) for h in range(8)]
    commits = []

    def write(h: int) -> None:
        commits.append(lake.append("m", "decisions", batches[h], batch_id=f"t{h}"))

    threads = [threading.Thread(target=write, args=(h,)) for h in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(c.version for c in commits) == list(range(8))
    assert lake.read_table("m").num_rows == 160


def test_a_table_removed_and_made_again_under_an_open_writer_is_written_correctly(lake: DecisionLake) -> None:
    import shutil

    for h in range(3):
        lake.append("m", "decisions", decisions(5, hour=h), batch_id=f"old{h}")
    shutil.rmtree(Path(lake.root) / "m")
    DecisionLake(lake.root).append("m", "decisions", decisions(4, hour=9), batch_id="new0")
    commit = lake.append("m", "decisions", decisions(6, hour=10), batch_id="new1")
    assert commit.written and commit.version == 1
    assert lake.read_table("m").num_rows == 10
    assert DeltaTable(lake.uri("m")).version() == 1
