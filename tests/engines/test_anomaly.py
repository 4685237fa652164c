"""input_anomaly over a lake window, against the anomaly kernels on the same rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.errors import InvalidInput
from charter.lake.table import DecisionLake
from charter.metrics import anomaly
from tests.engines.conftest import MODEL, START, decisions, write

WINDOW = Window(start=START, end=START + dt.timedelta(days=1))
FEATURES = ["age", "income", "tenure"]


@pytest.fixture
def model() -> anomaly.AnomalyModel:
    return anomaly.AnomalyModel.fit(decisions(3000, seed=20), columns=FEATURES)


@pytest.fixture
def window(lake: DecisionLake) -> pa.Table:
    table = decisions(1500, seed=21)
    income = table.column("income").to_numpy().copy()
    income[::40] *= 8  # corrupt inputs
    tenure = table.column("tenure").to_numpy().copy()
    tenure[7] = np.inf
    table = table.set_column(table.schema.get_field_index("income"), "income", pa.array(income))
    table = table.set_column(table.schema.get_field_index("tenure"), "tenure", pa.array(tenure))
    write(lake, table.slice(0, 800))
    write(lake, table.slice(800))
    return table


def test_anomalous_share_equals_the_kernel(engine: LocalEngine, model: anomaly.AnomalyModel, window: pa.Table) -> None:
    result = engine.compute(MODEL, MonitorSpec("input_anomaly"), WINDOW, context={"anomaly_model": model})
    share = result.metric("anomaly.anomalous_share")
    assert share is not None and share.value == anomaly.anomalous_share(model, window) and share.rows == 1500
    assert share.value >= 1500 / 40 / 1500  # every corrupted row at least
    assert result.value("anomaly.out_of_range_share") == anomaly.out_of_range_share(model, window)
    assert result.value("anomaly.mahalanobis_mean") is None  # one row holds inf
    assert result.notes == ("1 decision(s) with an infinite input: the mean Mahalanobis distance is left out",)
    finite = window.filter(pa.array(np.arange(1500) != 7))
    scores = model.score(finite)
    assert np.isfinite(scores.mahalanobis).all()


def test_the_mean_distance_and_a_model_read_back_from_json(lake: DecisionLake, model: anomaly.AnomalyModel) -> None:
    table = decisions(600, seed=22)
    write(lake, table)
    context = {"anomaly_model": model.to_dict()}
    spec = MonitorSpec("input_anomaly", options={"z_threshold": 3.0})
    result = LocalEngine(lake, batch_rows=128).compute(MODEL, spec, WINDOW, context=context)
    assert result.value("anomaly.mahalanobis_mean") == pytest.approx(anomaly.mahalanobis_mean(model, table), rel=1e-12)
    assert result.value("anomaly.anomalous_share") == float(np.mean(model.score(table, z_threshold=3.0).anomalous))


def test_anomaly_errors(engine: LocalEngine, model: anomaly.AnomalyModel, window: pa.Table) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("input_anomaly"), WINDOW)
    assert str(caught.value) == (
        "input_anomaly: the context has no 'anomaly_model' "
        "(the reference's charter.metrics.anomaly.AnomalyModel.fit(...), or its to_dict())"
    )
    with pytest.raises(InvalidInput, match=r"^input_anomaly: the anomaly model scores age, income, tenure"):
        engine.compute(MODEL, MonitorSpec("input_anomaly", features=("age",)), WINDOW, context={"anomaly_model": model})
    other = anomaly.AnomalyModel.fit({"debt": np.arange(50.0), "age": np.arange(50.0) ** 1.5})
    with pytest.raises(InvalidInput, match=r"^input_anomaly: feature\(s\) debt not in the decisions of 'credit-risk'"):
        engine.compute(MODEL, MonitorSpec("input_anomaly"), WINDOW, context={"anomaly_model": other})


def test_the_kernels_fast_path_without_missing_values_scores_as_the_general_one(model: anomaly.AnomalyModel) -> None:
    """AnomalyModel.score skips sorting the rows' missing-value patterns when nothing is missing (for monitors)."""
    rows = decisions(500, seed=23)
    complete = model.score(rows)  # the fast path: no value missing
    income = rows.column("income").to_numpy().copy()
    income[0] = np.nan
    holed = model.score(rows.set_column(rows.schema.get_field_index("income"), "income", pa.array(income)))
    for name in ("mahalanobis", "robust_z", "anomalous", "degrees_of_freedom"):
        assert np.array_equal(getattr(complete, name)[1:], getattr(holed, name)[1:]), name
    assert holed.degrees_of_freedom[0] == 2 and complete.degrees_of_freedom[0] == 3
