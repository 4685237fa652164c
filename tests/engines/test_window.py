"""Which decisions a run reads: time windows, the last N (ties included), versions, alias, slices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.errors import InvalidInput
from charter.lake.table import DecisionLake
from tests.engines.conftest import MODEL, START, decisions, write

SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def table(lake: DecisionLake) -> pa.Table:
    """3,000 decisions one second apart: v1 on prod, then v2 on shadow, then v3 with no alias."""
    parts = [
        decisions(1000, seed=1, start=START, version=1, alias="prod"),
        decisions(1000, seed=2, start=START + 1000 * SECOND, version=2, alias="shadow"),
        decisions(1000, seed=3, start=START + 2000 * SECOND, version=3, alias=None),
    ]
    for part in parts:
        write(lake, part)
    return pa.concat_tables(parts)


def _latency(engine: LocalEngine, window: Window, **spec: object) -> tuple[float | None, int]:
    result = engine.compute(MODEL, MonitorSpec("latency", **spec), window)  # type: ignore[arg-type]
    return result.value("latency.max_ms"), result.rows


def _expected(table: pa.Table, mask: np.ndarray) -> tuple[float, int]:
    kept = table.filter(pa.array(mask))
    return float(pc.max(kept.column("latency_ms")).as_py()), kept.num_rows


def _seconds(table: pa.Table) -> np.ndarray:
    stamps = table.column("ts").cast(pa.int64()).to_numpy()
    return (stamps - stamps.min()) // 1_000_000


def test_a_time_window_holds_start_and_not_end(engine: LocalEngine, table: pa.Table) -> None:
    window = Window(start=START + 500 * SECOND, end=START + 1500 * SECOND)
    seconds = _seconds(table)
    assert _latency(engine, window) == _expected(table, (seconds >= 500) & (seconds < 1500))
    volume = engine.compute(MODEL, MonitorSpec("volume"), window)
    assert volume.value("volume.decisions") == 1000
    assert volume.value("volume.per_hour") == 1000 / (1000 / 3600)


def test_last_n_is_the_latest_decisions(engine: LocalEngine, table: pa.Table) -> None:
    seconds = _seconds(table)
    assert _latency(engine, Window(last=250)) == _expected(table, seconds >= 2750)
    volume = engine.compute(MODEL, MonitorSpec("volume"), Window(last=250))
    assert volume.value("volume.decisions") == 250
    assert volume.value("volume.per_hour") == pytest.approx(3600.0)  # 249 gaps of one second


def test_last_n_inside_a_time_window_and_more_than_there_are(engine: LocalEngine, table: pa.Table) -> None:
    seconds = _seconds(table)
    window = Window(start=START, end=START + 1200 * SECOND, last=300)
    assert _latency(engine, window) == _expected(table, (seconds >= 900) & (seconds < 1200))
    before = Window(end=START + 1200 * SECOND, last=300)  # the latest 300 before a time (a backfill)
    assert _latency(engine, before) == _expected(table, (seconds >= 900) & (seconds < 1200))
    since = Window(start=START + 2900 * SECOND, last=300)  # fewer than 300 since then: all of them
    assert _latency(engine, since) == _expected(table, seconds >= 2900)
    assert _latency(engine, Window(last=10_000)) == _expected(table, seconds >= 0)


def test_last_n_breaks_ties_in_time_by_decision_id(lake: DecisionLake) -> None:
    same_time = decisions(60, seed=5, step=dt.timedelta(0))  # every decision at one instant
    write(lake, same_time)
    engine = LocalEngine(lake, batch_rows=7)
    ids = np.asarray(same_time.column("decision_id").to_pylist())
    latest = np.isin(ids, np.sort(ids)[-25:])
    assert _latency(engine, Window(last=25)) == _expected(same_time, latest)


def test_versions_and_alias_select_decisions(engine: LocalEngine, table: pa.Table) -> None:
    version = table.column("model_version").to_numpy()
    assert _latency(engine, Window(last=5000, versions=(2, 3))) == _expected(table, version >= 2)
    assert _latency(engine, Window(last=5000, alias="shadow")) == _expected(table, version == 2)
    # last N counts after the version filter
    seconds = _seconds(table)
    assert _latency(engine, Window(last=100, versions=(1,))) == _expected(table, (seconds >= 900) & (seconds < 1000))


def test_a_slice_keeps_the_rows_whose_column_equals_the_value(engine: LocalEngine, table: pa.Table) -> None:
    window = Window(last=5000)
    region = np.asarray(table.column("region").to_pylist())
    assert _latency(engine, window, slice=("region", "north")) == _expected(table, region == "north")
    alias = np.asarray(table.column("alias").to_pylist(), dtype=object)
    assert _latency(engine, window, slice=("alias", None)) == _expected(table, alias == None)  # noqa: E711
    version = table.column("model_version").to_numpy()
    assert _latency(engine, window, slice=("model_version", 2)) == _expected(table, version == 2)
    # the window is chosen first, then sliced
    seconds = _seconds(table)
    last = Window(last=1500)
    assert _latency(engine, last, slice=("region", "east")) == _expected(table, (seconds >= 1500) & (region == "east"))


def test_several_monitors_share_one_read(engine: LocalEngine, table: pa.Table) -> None:
    specs = [MonitorSpec("volume"), MonitorSpec("volume", slice=("region", "west")), MonitorSpec("latency")]
    volume, west, latency = engine.compute_many(MODEL, specs, Window(last=5000))
    region = np.asarray(table.column("region").to_pylist())
    assert volume.value("volume.decisions") == 3000
    assert west.value("volume.decisions") == int((region == "west").sum()) == west.rows
    assert west.rows_read == volume.rows_read == 3000
    assert latency.value("latency.max_ms") == pytest.approx(float(pc.max(table.column("latency_ms")).as_py()))


def test_an_empty_window_has_no_values_and_says_so(engine: LocalEngine, table: pa.Table) -> None:
    later = Window(start=START + dt.timedelta(days=2), end=START + dt.timedelta(days=3))
    result = engine.compute(MODEL, MonitorSpec("latency"), later)
    assert (result.values, result.notes, result.rows, result.rows_read) == ((), ("no decisions in the window",), 0, 0)
    sliced = engine.compute(MODEL, MonitorSpec("latency", slice=("region", "nowhere")), Window(last=10))
    assert sliced.values == () and sliced.notes == ("no decisions in the window",) and sliced.rows_read == 10
    # volume reports the zero: a window with too few decisions is what a volume monitor watches for
    volume = engine.compute(MODEL, MonitorSpec("volume"), later)
    assert [(v.metric, v.value) for v in volume.values] == [("volume.decisions", 0.0), ("volume.per_hour", 0.0)]
    assert volume.notes == ("no decisions in the window",)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "window: give start and end (start <= ts < end), or last=N (the latest N decisions)"),
        ({"start": START}, "window: give start and end (start <= ts < end), or last=N (the latest N decisions)"),
        (
            {"start": START, "end": START},
            "window: start 2026-11-01T00:00:00+00:00 is not before end 2026-11-01T00:00:00+00:00",
        ),
        (
            {"start": dt.datetime(2026, 11, 1), "end": START},
            "window: start 2026-11-01T00:00:00 has no time zone; give an aware UTC time",
        ),
        ({"last": 0}, "window: last must be a whole number of at least 1, not 0"),
        ({"last": 5, "versions": ()}, "window: versions must be a non-empty list of version numbers, not ()"),
        ({"last": 5, "alias": ""}, "window: alias must be a non-empty string, not ''"),
    ],
)
def test_bad_windows_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Window(**arguments)  # type: ignore[arg-type]
    assert str(caught.value) == message and caught.value.code == "input.invalid"


def test_times_are_kept_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    window = Window(start=dt.datetime(2026, 11, 1, 1, tzinfo=paris), end=dt.datetime(2026, 11, 1, 2, tzinfo=paris))
    assert window.start == START and window.start.tzinfo == dt.UTC and window.hours == 1.0
    assert Window(last=3, versions=[1, 2]).versions == (1, 2)  # type: ignore[arg-type]
    assert Window(last=3).to_dict() == {"start": None, "end": None, "last": 3, "versions": None, "alias": None}


def test_slices_are_checked_against_the_table(engine: LocalEngine, table: pa.Table) -> None:
    with pytest.raises(InvalidInput, match=r"^latency: slice column 'nope' is not in the decisions of 'credit-risk'"):
        engine.compute(MODEL, MonitorSpec("latency", slice=("nope", 1)), Window(last=5))
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("latency", slice=("model_version", "two")), Window(last=5))
    assert str(caught.value) == "latency: slice value 'two' cannot be compared with column 'model_version' (int64)"
    with pytest.raises(InvalidInput, match=r"slice must be a pair \(column, value\)"):
        MonitorSpec("latency", slice=("region",))  # type: ignore[arg-type]
