"""DESIGN invariant 2 for every kind: summarise(a + b) == merge(summarise(a), summarise(b)).

Checked twice: on the kinds' plans with hypothesis (random tables, random splits into up to four
parts), and through the engine on a real lake (adjacent windows' partial results merged give
the values of the window that spans both).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.engines import KINDS, LocalEngine, MonitorSpec, Setup, Window
from charter.engines.base import EngineResult, PartialResult, Plan
from charter.lake.table import DecisionLake
from charter.metrics.anomaly import AnomalyModel
from charter.metrics.summary import ReferenceProfile
from tests.engines.conftest import MODEL, START, decisions, outcomes, write

REFERENCE_ROWS = decisions(2000, seed=99)
REFERENCE = ReferenceProfile.fit(
    {n: REFERENCE_ROWS.column(n).to_numpy(zero_copy_only=False) for n in ("age", "income", "region")}
)
ANOMALY = AnomalyModel.fit(REFERENCE_ROWS, columns=["age", "income", "tenure"])
SCHEMA = {
    "features": [
        {"name": "age", "type": "integer", "min": 18, "max": 80},
        {"name": "income", "type": "number"},
        {"name": "region", "type": "category", "categories": ["north", "south", "east"]},
    ]
}
#: Every kind, with the spec and context that make it compute everything it can.
CASES: dict[str, tuple[MonitorSpec, dict[str, Any]]] = {
    "data_drift": (MonitorSpec("data_drift"), {}),
    "data_quality": (MonitorSpec("data_quality"), {"input_schema": SCHEMA}),
    "performance": (MonitorSpec("performance"), {"task": "binary_classification"}),
    "performance (multiclass)": (MonitorSpec("performance"), {"task": "multiclass_classification"}),
    "performance (regression)": (MonitorSpec("performance"), {"task": "regression"}),
    "estimated_performance": (MonitorSpec("estimated_performance"), {}),
    "fairness": (MonitorSpec("fairness", group="sex"), {}),
    "latency": (MonitorSpec("latency"), {}),
    "volume": (MonitorSpec("volume"), {}),
    "input_anomaly": (MonitorSpec("input_anomaly"), {"anomaly_model": ANOMALY}),
    "shadow": (MonitorSpec("shadow"), {"approved": {(1, "prod")}}),
    "attribution_drift": (MonitorSpec("attribution_drift"), {"reference_importance": {"income": 2.0, "age": 1.0}}),
}


def test_every_kind_is_covered() -> None:
    assert {spec.kind for spec, _ in CASES.values()} == set(KINDS)


def _table(rows: int, seed: int) -> pa.Table:
    """Decisions with a joined label (some missing), an error column and attributions."""
    rng = np.random.default_rng(seed)
    table = decisions(rows, seed=seed, version=int(rng.integers(1, 3)))
    labels = outcomes(table, seed=seed, share=0.7)
    known = dict(zip(labels.column("decision_id").to_pylist(), labels.column("label").to_pylist(), strict=True))
    label = pa.array([known.get(i) for i in table.column("decision_id").to_pylist()], pa.int64())
    error = pa.array(np.where(rng.random(rows) < 0.1, "boom", None).tolist(), pa.string())
    attribution = pa.array(np.where(rng.random(rows) < 0.3, np.nan, rng.normal(size=rows)), from_pandas=True)
    return (
        table.append_column("label", label)
        .append_column("error", error)
        .append_column("attribution_income", attribution)
        .append_column("attribution_age", pa.array(rng.normal(size=rows)))
    )


def _plan(case: str, schema: pa.Schema) -> Plan:
    spec, context = CASES[case]
    window = Window(start=START, end=START + dt.timedelta(days=1))
    return KINDS[spec.kind](Setup(MODEL, spec, window, REFERENCE, context, schema, True, 1))


def _same(a: Any, b: Any) -> bool:
    """Equal partial results: exact for counts, to rounding for floating-point sums."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _values(result: Any) -> list[tuple[str, float, int]]:
    return [(v.metric, v.value, v.rows) for v in result.values]


def _assert_same_values(a: EngineResult, b: EngineResult) -> None:
    assert [(m, r) for m, _, r in _values(a)] == [(m, r) for m, _, r in _values(b)]
    for (metric, x, _), (_, y, _) in zip(_values(a), _values(b), strict=True):
        assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), metric
    assert a.notes == b.notes


@pytest.mark.parametrize("case", list(CASES))
@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 120), seed=st.integers(0, 10_000), cuts=st.lists(st.floats(0, 1), max_size=3))
def test_merging_parts_equals_summarising_the_whole(case: str, rows: int, seed: int, cuts: list[float]) -> None:
    table = _table(rows, seed)
    plan = _plan(case, table.schema)
    batch = table.combine_chunks().to_batches()[0]
    edges = [0, *sorted(int(c * rows) for c in cuts), rows]
    parts = [batch.slice(lo, hi - lo) for lo, hi in itertools.pairwise(edges) if hi > lo]
    merged = plan.empty
    for part in parts:
        merged = plan.merge(merged, plan.summarise(part))
    whole = plan.merge(plan.empty, plan.summarise(batch))  # a window's run starts from the empty partial result
    assert _same(merged, whole)
    done = PartialResult(case, plan, merged, rows, rows).finish()
    _assert_same_values(done, PartialResult(case, plan, whole, rows, rows).finish())


@pytest.fixture
def hours(lake: DecisionLake) -> DecisionLake:
    """Three hours of decisions (two versions), with outcomes, errors and attributions."""
    for hour in range(3):
        table = _table(400, seed=hour).drop_columns(["label"])
        stamps = pa.array(
            [START + dt.timedelta(hours=hour, seconds=9 * i) for i in range(400)], type=table.schema.field("ts").type
        )
        table = table.set_column(table.schema.get_field_index("ts"), "ts", stamps)
        write(lake, table)
        write(lake, outcomes(table, seed=hour, share=0.5), kind="outcomes")
    return lake


@pytest.mark.parametrize("case", list(CASES))
def test_adjacent_windows_merge_into_the_window_of_both(hours: DecisionLake, case: str) -> None:
    engine = LocalEngine(hours, batch_rows=150)
    spec, context = CASES[case]
    cut = START + dt.timedelta(hours=1, minutes=17)
    first = Window(start=START, end=cut)
    second = Window(start=cut, end=START + dt.timedelta(hours=3))
    both = Window(start=START, end=START + dt.timedelta(hours=3))
    options: dict[str, Any] = {"reference": REFERENCE, "context": context}
    parts = engine.summarise(MODEL, spec, first, **options).merge(engine.summarise(MODEL, spec, second, **options))
    merged, whole = parts.finish(), engine.compute(MODEL, spec, both, **options)
    assert merged.rows == whole.rows == 1200 and merged.rows_read == 1200
    _assert_same_values(merged, whole)
    assert whole.values, whole.notes
