"""latency (within the sketch's bound of numpy.percentile), volume, and shadow launches (exact counts)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.engines.kinds.operations import quantile_name
from charter.engines.sketch import HIGH, LOW, RELATIVE_ERROR, LatencySketch
from charter.errors import InvalidInput
from charter.lake.table import DecisionLake
from tests.engines.conftest import MODEL, START, decisions, write

WINDOW = Window(start=START, end=START + dt.timedelta(days=1))


def _within_bound(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= RELATIVE_ERROR * exact + LOW / 2 + 1e-12 * exact


def test_latency_quantiles_are_within_the_documented_bound(lake: DecisionLake) -> None:
    tables = [decisions(2000, seed=s, start=START + dt.timedelta(hours=s)) for s in range(3)]
    for table in tables:
        write(lake, table)
    latencies = np.concatenate([t.column("latency_ms").to_numpy() for t in tables])
    spec = MonitorSpec("latency", options={"quantiles": [0.5, 0.9, 0.95, 0.99, 0.999, 0.0, 1.0]})
    result = LocalEngine(lake, batch_rows=333).compute(MODEL, spec, WINDOW)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999, 0.0, 1.0):
        value = result.metric(quantile_name(q))
        assert value is not None and value.rows == 6000
        assert _within_bound(value.value, float(np.percentile(latencies, q * 100))), q
        assert value.details["relative_error"] == RELATIVE_ERROR
    assert result.value("latency.p0_ms") == latencies.min() and result.value("latency.p100_ms") == latencies.max()
    assert result.value("latency.mean_ms") == pytest.approx(latencies.mean(), rel=1e-12)
    assert result.value("latency.max_ms") == latencies.max()
    assert result.notes == ("no 'error' column: the error share is not computed",)
    assert [quantile_name(q) for q in (0.5, 0.95, 0.999)] == ["latency.p50_ms", "latency.p95_ms", "latency.p99.9_ms"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0, 1e-2), st.floats(0, 50), st.floats(0, 1e8), st.sampled_from([0.0, 1.0, 2.5])),
        min_size=1,
        max_size=300,
    ),
    st.floats(0, 1),
    st.integers(0, 300),
)
def test_any_latencies_any_split(values: list[float], q: float, cut: int) -> None:
    array = np.asarray(values)
    whole = LatencySketch.of(pa.array(array))
    merged = LatencySketch.of(pa.array(array[:cut])).merge(LatencySketch.of(pa.array(array[cut:])))
    assert merged == whole  # counts and extremes exactly
    exact = float(np.percentile(array, q * 100))
    position = q * (len(array) - 1)
    between = np.sort(array)[[int(np.floor(position)), int(np.ceil(position))]]
    if between.max() < HIGH:  # above HIGH (2.8 hours) only the maximum bounds the estimate
        assert _within_bound(whole.quantile(q), exact)


def test_the_error_share_from_an_error_column(lake: DecisionLake) -> None:
    table = decisions(500, seed=3)
    errors = [None] * 500
    errors[::10] = ["timeout"] * 50
    errors[5] = ""  # empty text is no error
    latency = table.column("latency_ms").to_pylist()
    latency[:20] = [None] * 20
    table = table.set_column(table.schema.get_field_index("latency_ms"), "latency_ms", pa.array(latency, pa.float64()))
    write(lake, table.append_column("error", pa.array(errors, pa.string())))
    result = LocalEngine(lake).compute(MODEL, MonitorSpec("latency"), WINDOW)
    share = result.metric("latency.error_share")
    assert share is not None and share.value == 0.1 and share.details == {"errors": 50, "column": "error"}
    assert result.notes == ("20 decision(s) without a valid latency left out",)
    p50 = result.metric("latency.p50_ms")
    assert p50 is not None and p50.rows == 480


def test_shadow_counts_are_exact(lake: DecisionLake) -> None:
    write(lake, decisions(300, seed=1, version=3, alias="prod"))
    write(lake, decisions(120, seed=2, version=4, alias="prod"))  # never approved for prod
    write(lake, decisions(80, seed=3, version=4, alias="shadow"))  # approved as a shadow
    write(lake, decisions(25, seed=4, version=9, alias=None, registered=False))  # unknown to the registry
    write(lake, decisions(15, seed=5, version=3, alias=None))  # called by version, never approved that way
    approved = {(3, "prod"), (4, "shadow"), (9, None)}
    result = LocalEngine(lake, batch_rows=64).compute(
        MODEL, MonitorSpec("shadow"), WINDOW, context={"approved": approved}
    )
    assert result.value("shadow.unapproved") == 120 + 25 + 15
    assert result.value("shadow.unapproved_share") == 160 / 540
    assert result.value("shadow.unregistered") == 25
    pairs = result.metric("shadow.unapproved")
    assert pairs is not None and pairs.rows == 540
    assert pairs.details["pairs"][0] == {
        "version": 3,
        "alias": "prod",
        "registered": True,
        "decisions": 300,
        "approved": True,
    }
    assert {(p["version"], p["alias"], p["approved"]) for p in pairs.details["pairs"]} == {
        (3, "prod", True),
        (4, "prod", False),
        (4, "shadow", True),
        (9, None, False),
        (3, None, False),
    }
    # pairs given as JSON lists work the same
    again = LocalEngine(lake).compute(
        MODEL, MonitorSpec("shadow"), WINDOW, context={"approved": [[3, "prod"], [4, "shadow"]]}
    )
    assert again.value("shadow.unapproved") == 160


def test_shadow_needs_the_approved_pairs(lake: DecisionLake) -> None:
    write(lake, decisions(10, seed=1))
    engine = LocalEngine(lake)
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("shadow"), WINDOW)
    assert str(caught.value) == "shadow: the context has no 'approved' (the (version, alias) pairs approved to serve)"
    with pytest.raises(
        InvalidInput, match=r"^shadow: context 'approved' holds \('prod',\), not a \(version, alias\) pair"
    ):
        engine.compute(MODEL, MonitorSpec("shadow"), WINDOW, context={"approved": [("prod",)]})
    with pytest.raises(InvalidInput, match=r"^latency: option quantiles must hold numbers from 0 to 1, not 95"):
        engine.compute(MODEL, MonitorSpec("latency", options={"quantiles": [95]}), WINDOW)
    with pytest.raises(InvalidInput, match=r"^latency: error column 'failed' is not in the decisions"):
        engine.compute(MODEL, MonitorSpec("latency", options={"error_column": "failed"}), WINDOW)


def test_volume_over_the_last_decisions_uses_their_span(lake: DecisionLake) -> None:
    write(lake, decisions(61, seed=1, step=dt.timedelta(minutes=1)))  # 60 gaps of a minute: an hour
    result = LocalEngine(lake).compute(MODEL, MonitorSpec("volume"), Window(last=100))
    assert result.value("volume.decisions") == 61 and result.value("volume.per_hour") == pytest.approx(60.0)
    write(lake, decisions(1, seed=2, start=START + dt.timedelta(days=5)))
    single = LocalEngine(lake).compute(MODEL, MonitorSpec("volume"), Window(last=1))
    assert single.value("volume.per_hour") is None
    assert single.notes == ("the window's decisions share one time: no rate per hour",)
