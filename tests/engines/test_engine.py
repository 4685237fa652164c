"""The engine's contract: kinds registered and documented, values finite, errors that name the problem."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from charter import engines
from charter.engines import CONTEXT_KEYS, KINDS, METRICS, OPTIONS, Engine, LocalEngine, MetricValue, MonitorSpec, Window
from charter.errors import InvalidInput, NotFound
from charter.lake.table import DecisionLake
from tests.engines.conftest import MODEL, START, decisions, outcomes, write
from tests.engines.test_merge import CASES, REFERENCE, _table

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
WINDOW = Window(start=START, end=START + dt.timedelta(days=1))


def _section(kind: str) -> str:
    start = DOCS.index(f"### `{kind}`")
    end = DOCS.find("\n### ", start + 1)
    return DOCS[start : end if end > 0 else None]


def test_the_public_api() -> None:
    assert engines.__all__ == sorted(engines.__all__, key=lambda n: (not n.isupper(), n))
    assert set(KINDS) == set(CONTEXT_KEYS) == set(OPTIONS) == set(METRICS)
    engine: Engine = LocalEngine(DecisionLake("unused"))  # LocalEngine is an Engine
    assert engine is not None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_documented_with_its_metrics_options_and_context_keys(kind: str) -> None:
    section = _section(kind)
    for metric in METRICS[kind]:
        assert f"`{metric}`" in section, metric
    for option in OPTIONS[kind]:
        assert f"`{option}`" in section, option
    for key in CONTEXT_KEYS[kind]:
        assert f"`{key.split()[0]}`" in section, key


@pytest.mark.parametrize("case", list(CASES))
def test_every_value_is_finite_named_and_json(lake: DecisionLake, case: str) -> None:
    table = _table(400, seed=3).drop_columns(["label"])
    write(lake, table)
    write(lake, outcomes(table, share=0.5), kind="outcomes")
    spec, context = CASES[case]
    result = LocalEngine(lake).compute(MODEL, spec, WINDOW, reference=REFERENCE, context=context)
    assert result.values
    patterns = [re.escape(m).replace("<feature>", ".+").replace("<q>", r"[0-9.]+") for m in METRICS[spec.kind]]
    for value in result.values:
        assert any(re.fullmatch(p, value.metric) for p in patterns), value.metric
    json.dumps(result.to_dict(), allow_nan=False)


def test_unknown_kinds_and_options_are_refused(lake: DecisionLake) -> None:
    write(lake, decisions(10))
    engine = LocalEngine(lake)
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("drift"), WINDOW)
    assert str(caught.value) == (
        "unknown monitor kind 'drift' (kinds: attribution_drift, data_drift, data_quality, estimated_performance, "
        "fairness, input_anomaly, latency, performance, shadow, volume)"
    )
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("volume", options={"per": "day"}), WINDOW)
    assert str(caught.value) == "volume: unknown option(s) per (known: none)"
    with pytest.raises(InvalidInput, match=r"^context must be a mapping, not list"):
        engine.compute(MODEL, MonitorSpec("volume"), WINDOW, context=[])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^reference must be a ReferenceProfile, not dict"):
        engine.compute(MODEL, MonitorSpec("volume"), WINDOW, reference={})  # type: ignore[arg-type]
    with pytest.raises(NotFound, match=r"no decisions logged for model 'other' yet"):
        engine.compute("other", MonitorSpec("volume"), WINDOW)
    with pytest.raises(InvalidInput, match=r"^batch_rows must be a whole number of at least 1, not 0"):
        LocalEngine(lake, batch_rows=0)


def test_specs_and_values_check_themselves() -> None:
    with pytest.raises(InvalidInput, match=r"^monitor data_drift: features must be a list of names, not the string"):
        MonitorSpec("data_drift", features="income")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^monitor: kind must be a non-empty string"):
        MonitorSpec("")
    assert MonitorSpec("data_drift", features=["a", "b"]).features == ("a", "b")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as caught:
        MetricValue("performance.roc_auc", float("nan"), 10)
    assert str(caught.value) == "metric performance.roc_auc: nan is not a finite number; leave the metric out instead"
    value = MetricValue("drift.score:x", 1, 5, {"psi": float("inf"), "pair": (1, 2)})
    assert value.details == {"psi": None, "pair": [1, 2]} and isinstance(value.value, float)
