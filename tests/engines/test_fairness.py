"""fairness by a protected attribute over a lake window, against fairlearn on the same rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from fairlearn import metrics as fl

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.errors import InvalidInput
from charter.lake.table import DecisionLake
from tests.engines.conftest import MODEL, START, decisions, outcomes, write

WINDOW = Window(start=START, end=START + dt.timedelta(days=1))
SPEC = MonitorSpec("fairness", group="sex")


@pytest.fixture
def table(lake: DecisionLake) -> pa.Table:
    parts = [decisions(1200, seed=1), decisions(1200, seed=2, start=START + dt.timedelta(hours=2))]
    for part in parts:
        write(lake, part)
    return pa.concat_tables(parts)


def _labelled(table: pa.Table, labels: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    known = dict(zip(labels.column("decision_id").to_pylist(), labels.column("label").to_pylist(), strict=True))
    ids = table.column("decision_id").to_pylist()
    keep = np.array([i in known for i in ids])
    y_true = np.array([known[i] for i, k in zip(ids, keep, strict=True) if k])
    return y_true, table.column("prediction").to_numpy()[keep], np.asarray(table.column("group_sex").to_pylist())[keep]


def test_selection_rates_without_outcomes(engine: LocalEngine, table: pa.Table) -> None:
    y_pred, sex = table.column("prediction").to_numpy(), np.asarray(table.column("group_sex").to_pylist())
    result = engine.compute(MODEL, SPEC, WINDOW)
    assert [v.metric for v in result.values] == [
        "fairness.demographic_parity_difference",
        "fairness.demographic_parity_ratio",
        "fairness.disparate_impact",
    ]
    dp = fl.demographic_parity_difference(y_pred, y_pred, sensitive_features=sex)
    ratio = fl.demographic_parity_ratio(y_pred, y_pred, sensitive_features=sex)
    assert result.value("fairness.demographic_parity_difference") == pytest.approx(dp, abs=1e-15)
    assert result.value("fairness.demographic_parity_ratio") == pytest.approx(ratio, abs=1e-15)
    assert result.value("fairness.disparate_impact") == pytest.approx(ratio, abs=1e-15)
    groups = result.values[0].details["groups"]
    assert sorted(groups) == ["F", "M", "X"] and sum(g["count"] for g in groups.values()) == 2400
    assert result.notes == ("no outcomes joined: only the selection-rate metrics are computed",)


def test_with_outcomes_the_error_rate_gaps_too(engine: LocalEngine, lake: DecisionLake, table: pa.Table) -> None:
    labels = outcomes(table, share=0.6)
    write(lake, labels, kind="outcomes")
    y_true, y_pred, sex = _labelled(table, labels)
    result = engine.compute(MODEL, MonitorSpec("fairness", group="sex", options={"privileged": "M"}), WINDOW)
    expected = {
        "fairness.equalized_odds_difference": fl.equalized_odds_difference(y_true, y_pred, sensitive_features=sex),
        "fairness.equalized_odds_ratio": fl.equalized_odds_ratio(y_true, y_pred, sensitive_features=sex),
        "fairness.equal_opportunity_difference": fl.equal_opportunity_difference(
            y_true, y_pred, sensitive_features=sex
        ),
    }
    for metric, value in expected.items():
        found = result.metric(metric)
        assert found is not None and found.value == pytest.approx(value, abs=1e-15), metric
        assert found.rows == len(y_true)
    # disparate impact with a privileged group: everyone else's selection rate over the privileged one's
    everyone = table.column("prediction").to_numpy()
    everyone_sex = np.asarray(table.column("group_sex").to_pylist())
    di = everyone[everyone_sex != "M"].mean() / everyone[everyone_sex == "M"].mean()
    assert result.value("fairness.disparate_impact") == pytest.approx(di, rel=1e-12)
    assert result.value("fairness.average_odds_difference") is not None
    assert result.value("fairness.predictive_parity_difference") is not None


def test_rows_without_a_group_are_left_out(lake: DecisionLake) -> None:
    table = decisions(300, seed=5)
    sex = table.column("group_sex").to_pylist()
    sex[:30] = [None] * 30
    write(lake, table.set_column(table.schema.get_field_index("group_sex"), "group_sex", pa.array(sex, pa.string())))
    result = LocalEngine(lake).compute(MODEL, SPEC, WINDOW)
    assert result.notes[0] == "30 decision(s) without a group_sex label or a prediction left out"
    y_pred = table.column("prediction").to_numpy()[30:]
    dp = fl.demographic_parity_difference(y_pred, y_pred, sensitive_features=np.asarray(sex[30:]))
    assert result.value("fairness.demographic_parity_difference") == pytest.approx(dp)


def test_fairness_errors(engine: LocalEngine, table: pa.Table) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("fairness"), WINDOW)
    assert str(caught.value) == (
        "fairness: the monitor names no group (the protected attribute, logged as group_<attribute>)"
    )
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("fairness", group="age_band"), WINDOW)
    assert str(caught.value) == (
        "fairness: group 'age_band' is not logged with the decisions of 'credit-risk' "
        "(no column 'group_age_band'; groups logged: sex)"
    )
    with pytest.raises(InvalidInput, match=r"^fairness: privileged: 'Q' is not one of the groups"):
        engine.compute(MODEL, MonitorSpec("fairness", group="sex", options={"privileged": "Q"}), WINDOW)
