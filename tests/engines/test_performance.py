"""performance (outcomes joined by decision id) against scikit-learn; estimated_performance against the kernel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as sk

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.errors import InvalidInput
from charter.lake.schema import TIMESTAMP
from charter.lake.table import DecisionLake
from charter.metrics.estimate import calibrate, estimate_performance
from tests.engines.conftest import MODEL, START, decisions, outcomes, write

WINDOW = Window(start=START, end=START + dt.timedelta(days=1))
BINARY = {"task": "binary_classification"}


def _joined(table: pa.Table, labels: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The decisions that have an outcome, and their labels (the latest outcome of each)."""
    latest = dict(zip(labels.column("decision_id").to_pylist(), labels.column("label").to_pylist(), strict=True))
    keep = np.array([i in latest for i in table.column("decision_id").to_pylist()])
    kept = table.filter(pa.array(keep))
    return kept, np.array([latest[i] for i in kept.column("decision_id").to_pylist()])


@pytest.fixture
def binary(lake: DecisionLake) -> tuple[pa.Table, np.ndarray]:
    first, second = decisions(1500, seed=1), decisions(1500, seed=2, start=START + dt.timedelta(hours=1))
    write(lake, first)
    write(lake, second)
    table = pa.concat_tables([first, second])
    labels = outcomes(table, share=0.7)
    write(lake, labels, kind="outcomes")
    # a correction: 50 outcomes logged again later with the label flipped; the latest wins
    fixed = labels.slice(0, 50)
    fixed = fixed.set_column(1, "ts", pa.array([START + dt.timedelta(days=40)] * 50, type=TIMESTAMP))
    fixed = fixed.set_column(2, "label", pa.array(1 - fixed.column("label").to_numpy()))
    write(lake, fixed, kind="outcomes")
    return _joined(table, pa.concat_tables([labels.slice(50), fixed]))


def test_binary_performance_equals_scikit_learn(engine: LocalEngine, binary: tuple[pa.Table, np.ndarray]) -> None:
    rows, y_true = binary
    y_pred, score = rows.column("prediction").to_numpy(), rows.column("score").to_numpy()
    result = engine.compute(MODEL, MonitorSpec("performance"), WINDOW, context=BINARY)
    expected = {
        "performance.accuracy": sk.accuracy_score(y_true, y_pred),
        "performance.precision": sk.precision_score(y_true, y_pred),
        "performance.recall": sk.recall_score(y_true, y_pred),
        "performance.f1": sk.f1_score(y_true, y_pred),
        "performance.roc_auc": sk.roc_auc_score(y_true, score),
        "performance.pr_auc": sk.average_precision_score(y_true, score),
        "performance.log_loss": sk.log_loss(y_true, score),
        "performance.brier": sk.brier_score_loss(y_true, score),
    }
    assert [v.metric for v in result.values] == list(expected)
    for value in result.values:
        assert value.value == pytest.approx(expected[value.metric], rel=1e-12), value.metric
        assert value.rows == len(y_true)
    assert result.rows == 3000 and result.notes == ()


def test_string_labels_with_a_positive_class(lake: DecisionLake) -> None:
    table = decisions(800, seed=4)
    words = np.where(table.column("prediction").to_numpy() == 1, "approve", "deny")
    table = table.set_column(table.schema.get_field_index("prediction"), "prediction", pa.array(words.tolist()))
    write(lake, table)
    rng = np.random.default_rng(5)
    labels = rng.choice(["approve", "deny"], 800)
    write(
        lake,
        pa.table({"decision_id": table.column("decision_id"), "ts": table.column("ts"), "label": labels}),
        kind="outcomes",
    )
    engine = LocalEngine(lake, batch_rows=300)
    result = engine.compute(MODEL, MonitorSpec("performance", options={"positive": "approve"}), WINDOW, context=BINARY)
    assert result.value("performance.precision") == pytest.approx(
        sk.precision_score(labels, words, pos_label="approve")
    )
    assert result.value("performance.roc_auc") == pytest.approx(
        sk.roc_auc_score(labels == "approve", table.column("score").to_numpy())
    )
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("performance"), WINDOW, context=BINARY)
    assert str(caught.value).startswith("performance: binary outcomes need 0/1 or boolean labels, got [")


def test_multiclass_and_regression_equal_scikit_learn(lake: DecisionLake) -> None:
    rng = np.random.default_rng(8)
    table = decisions(1200, seed=6)
    classes = np.array(["low", "mid", "high"])
    predicted = rng.choice(classes, 1200)
    truth = np.where(rng.random(1200) < 0.6, predicted, rng.choice(classes, 1200))
    write(
        lake, table.set_column(table.schema.get_field_index("prediction"), "prediction", pa.array(predicted.tolist()))
    )
    write(
        lake,
        pa.table({"decision_id": table.column("decision_id"), "ts": table.column("ts"), "label": truth}),
        kind="outcomes",
    )
    engine = LocalEngine(lake, batch_rows=500)
    task = {"task": "multiclass_classification"}
    result = engine.compute(MODEL, MonitorSpec("performance", options={"average": "weighted"}), WINDOW, context=task)
    assert result.value("performance.accuracy") == pytest.approx(sk.accuracy_score(truth, predicted))
    assert result.value("performance.f1") == pytest.approx(sk.f1_score(truth, predicted, average="weighted"))
    assert result.value("performance.recall") == pytest.approx(sk.recall_score(truth, predicted, average="weighted"))

    other = DecisionLake(lake.root + "-regression")
    table = decisions(900, seed=9)
    prices = rng.normal(100, 20, 900)
    guesses = prices + rng.normal(0, 5, 900)
    write(other, table.set_column(table.schema.get_field_index("prediction"), "prediction", pa.array(guesses)))
    write(
        other,
        pa.table({"decision_id": table.column("decision_id"), "ts": table.column("ts"), "label": prices}),
        kind="outcomes",
    )
    result = LocalEngine(other, batch_rows=200).compute(
        MODEL, MonitorSpec("performance"), WINDOW, context={"task": "regression"}
    )
    assert result.value("performance.mae") == pytest.approx(sk.mean_absolute_error(prices, guesses), rel=1e-12)
    assert result.value("performance.rmse") == pytest.approx(np.sqrt(sk.mean_squared_error(prices, guesses)), rel=1e-12)
    assert result.value("performance.mape") == pytest.approx(
        sk.mean_absolute_percentage_error(prices, guesses), rel=1e-12
    )
    assert result.value("performance.r2") == pytest.approx(sk.r2_score(prices, guesses), rel=1e-12)


def test_without_outcomes_there_is_nothing_to_measure(lake: DecisionLake) -> None:
    write(lake, decisions(300, seed=3))
    result = LocalEngine(lake).compute(MODEL, MonitorSpec("performance"), WINDOW, context=BINARY)
    assert result.values == ()
    assert result.notes == ("no outcomes joined: none of the window's decisions has a label yet",)


def test_performance_needs_the_task(engine: LocalEngine, binary: tuple[pa.Table, np.ndarray]) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("performance"), WINDOW)
    assert str(caught.value) == (
        "performance: the context has no 'task' (the model's task: one of binary_classification, "
        "multiclass_classification, regression)"
    )
    with pytest.raises(InvalidInput, match=r"^performance: context 'task' must be one of"):
        engine.compute(MODEL, MonitorSpec("performance"), WINDOW, context={"task": "ranking"})


def test_estimated_performance_equals_the_kernel(engine: LocalEngine, binary: tuple[pa.Table, np.ndarray]) -> None:
    scores = np.concatenate(
        [decisions(1500, seed=1).column("score").to_numpy(), decisions(1500, seed=2).column("score").to_numpy()]
    )
    result = engine.compute(MODEL, MonitorSpec("estimated_performance"), WINDOW)
    expected = estimate_performance(scores)
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        value = result.metric(f"estimated.{name}")
        kernel = getattr(expected, name)
        assert value is not None and value.value == pytest.approx(kernel.value, rel=1e-9), name
        assert value.details["standard_error"] == pytest.approx(kernel.standard_error, rel=1e-6)
    assert result.notes == ("no calibrator in the context: the scores are taken as calibrated probabilities",)
    # the labels were drawn from the scores, so the estimate is close to the truth
    rows, y_true = binary
    truth = sk.accuracy_score(y_true, rows.column("prediction").to_numpy())
    accuracy = result.metric("estimated.accuracy")
    assert accuracy is not None and abs(accuracy.value - truth) < 4 * accuracy.details["standard_error"] + 0.01


def test_estimated_performance_with_a_calibrator(engine: LocalEngine, binary: tuple[pa.Table, np.ndarray]) -> None:
    rng = np.random.default_rng(12)
    ref_scores = rng.random(2000)
    ref_labels = (rng.random(2000) < ref_scores**2).astype(int)  # the model is over-confident
    context = {"reference_scores": ref_scores, "reference_labels": ref_labels, "task": "binary_classification"}
    result = engine.compute(
        MODEL, MonitorSpec("estimated_performance", options={"threshold": 0.6}), WINDOW, context=context
    )
    scores = np.concatenate(
        [decisions(1500, seed=1).column("score").to_numpy(), decisions(1500, seed=2).column("score").to_numpy()]
    )
    calibrator = calibrate(ref_scores, ref_labels)
    expected = estimate_performance(scores, threshold=0.6, calibrator=calibrator)
    assert result.value("estimated.f1") == pytest.approx(expected.f1.value, rel=1e-9)
    same = engine.compute(
        MODEL,
        MonitorSpec("estimated_performance", options={"threshold": 0.6}),
        WINDOW,
        context={"calibrator": calibrator.to_dict()},
    )
    assert same.value("estimated.roc_auc") == pytest.approx(expected.roc_auc.value, rel=1e-9)  # type: ignore[union-attr]
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("estimated_performance"), WINDOW, context={"reference_scores": ref_scores})
    assert str(caught.value) == "estimated_performance: the context has no 'reference_labels' (calibrating needs both)"
    with pytest.raises(InvalidInput, match=r"^estimated_performance: estimates are for binary_classification"):
        engine.compute(MODEL, MonitorSpec("estimated_performance"), WINDOW, context={"task": "regression"})
