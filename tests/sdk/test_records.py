"""What a logged call becomes in the sink: one row per decision, with the lake's columns and types."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from charter.clock import FixedClock
from charter.lake.schema import DECISION_FIELDS
from charter.sdk import DecisionLogger, MemorySink
from tests.sdk.conftest import MODEL

Make = Callable[..., DecisionLogger]
FEATURES = ["age", "income", "debt"]


def logged(logger: DecisionLogger, sink: MemorySink) -> pa.Table:
    assert logger.flush(timeout=5)
    return sink.decisions(MODEL)


def test_a_batch_of_1000_rows_is_1000_decisions_with_the_lake_columns_and_types(make_logger: Make) -> None:
    sink = MemorySink()
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC))
    logger = make_logger(sink, version=7, alias="prod", registered=True, features=FEATURES, groups=["sex"], clock=clock)
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(1000, 3))
    predictions = rng.integers(0, 2, size=1000)
    probabilities = rng.random(1000)
    sex = np.where(rng.random(1000) < 0.5, "F", "M")
    subjects = [f"customer-{i}" for i in range(1000)]

    ids = logger.log(
        inputs,
        predictions,
        scores=probabilities,
        latency_ms=2.5,
        subject_ids=subjects,
        groups={"sex": sex},
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )

    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert all(uuid.UUID(i).version == 7 for i in ids)
    table = logged(logger, sink)
    assert table.num_rows == 1000
    for field in DECISION_FIELDS:
        assert table.schema.field(field.name).type == field.type, field.name
    assert table.column_names[: len(DECISION_FIELDS)] == [f.name for f in DECISION_FIELDS]
    assert table.column_names[len(DECISION_FIELDS) :] == ["prediction", *FEATURES, "group_sex"]
    assert table.schema.field("prediction").type == pa.int64()
    assert table.column("decision_id").to_pylist() == ids
    assert set(table.column("ts").to_pylist()) == {clock.now()}
    assert set(table.column("model_version").to_pylist()) == {7}
    assert set(table.column("alias").to_pylist()) == {"prod"}
    assert set(table.column("registered").to_pylist()) == {True}
    assert set(table.column("latency_ms").to_pylist()) == {2.5}
    assert table.column("subject_id").to_pylist() == subjects
    assert set(table.column("trace_id").to_pylist()) == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    np.testing.assert_array_equal(table.column("score").to_numpy(), probabilities)
    assert table.column("scores").null_count == 1000
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), predictions)
    for j, name in enumerate(FEATURES):
        np.testing.assert_array_equal(table.column(name).to_numpy(), inputs[:, j])
    assert table.column("group_sex").to_pylist() == sex.tolist()
    assert logger.stats.errors == 0, logger.stats.last_errors


def test_class_probabilities_fill_scores_and_the_binary_score(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink)
    binary = np.array([[0.9, 0.1], [0.2, 0.8]])
    three = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    logger.log(np.zeros((2, 2)), np.array([0, 1]), scores=binary)
    logger.log(np.zeros((2, 2)), np.array([0, 2]), scores=three)
    table = logged(logger, sink)
    assert table.column("scores").to_pylist() == [*binary.tolist(), *three.tolist()]
    assert table.column("score").to_pylist() == [0.1, 0.8, None, None]


ROWS = {"age": [31, 45, 52], "income": [52_000.0, 81_500.5, 12_000.0]}
EXPECTED = {"age": [31, 45, 52], "income": [52_000.0, 81_500.5, 12_000.0]}


@pytest.mark.parametrize(
    "make_inputs",
    [
        pytest.param(lambda: np.array([ROWS["age"], ROWS["income"]], dtype=np.float64).T, id="numpy"),
        pytest.param(lambda: pd.DataFrame(ROWS), id="pandas"),
        pytest.param(lambda: pl.DataFrame(ROWS), id="polars"),
        pytest.param(lambda: pa.table(ROWS), id="pyarrow"),
        pytest.param(lambda: {k: list(v) for k, v in ROWS.items()}, id="dict-of-lists"),
        pytest.param(lambda: {k: np.array(v) for k, v in ROWS.items()}, id="dict-of-arrays"),
        pytest.param(lambda: [list(r) for r in zip(ROWS["age"], ROWS["income"], strict=True)], id="list-of-rows"),
        pytest.param(
            lambda: [{"age": a, "income": i} for a, i in zip(ROWS["age"], ROWS["income"], strict=True)], id="records"
        ),
    ],
)
def test_every_batch_input_type_gives_the_same_feature_columns(
    make_logger: Make, make_inputs: Callable[[], Any]
) -> None:
    sink = MemorySink()
    logger = make_logger(sink, features=["age", "income"])
    ids = logger.log(make_inputs(), np.array([1, 0, 1]))
    table = logged(logger, sink)
    assert len(ids) == 3 and table.num_rows == 3
    for name, values in EXPECTED.items():
        assert table.column(name).to_pylist() == pytest.approx(values)
    assert logger.stats.errors == 0, logger.stats.last_errors


@pytest.mark.parametrize(
    ("row", "prediction"),
    [
        pytest.param(np.array([31.0, 52_000.0]), 1, id="numpy-1d"),
        pytest.param(np.array([[31.0, 52_000.0]]), np.array([1]), id="numpy-1xk"),
        pytest.param({"age": 31, "income": 52_000.0}, 1, id="dict-of-scalars"),
        pytest.param([31, 52_000.0], np.int64(1), id="list"),
        pytest.param(pd.Series({"age": 31, "income": 52_000.0}), [1], id="pandas-series"),
    ],
)
def test_a_single_row_is_one_decision(make_logger: Make, row: Any, prediction: Any) -> None:
    sink = MemorySink()
    logger = make_logger(sink, features=["age", "income"])
    ids = logger.log(row, prediction, scores=0.75)
    table = logged(logger, sink)
    assert len(ids) == 1 and table.column("decision_id").to_pylist() == ids
    assert table.column("age").to_pylist() == [31]
    assert table.column("income").to_pylist() == [52_000.0]
    assert table.column("prediction").to_pylist() == [1]
    assert table.column("score").to_pylist() == [0.75]
    assert logger.stats.errors == 0, logger.stats.last_errors


def test_many_single_row_calls_are_stacked_into_one_batch(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink, features=["a", "b"], flush_interval=60)
    ids = [logger.log(np.array([float(i), -float(i)]), i % 2, latency_ms=float(i))[0] for i in range(500)]
    table = logged(logger, sink)
    assert sink.calls == 1
    assert table.column("decision_id").to_pylist() == ids
    assert table.column("a").to_pylist() == [float(i) for i in range(500)]
    assert table.column("latency_ms").to_pylist() == [float(i) for i in range(500)]
    assert table.column("prediction").to_pylist() == [i % 2 for i in range(500)]


def test_unnamed_features_are_f0_to_fn(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink)
    logger.log(np.ones((2, 3)), [0, 1])
    assert logged(logger, sink).column_names[-3:] == ["f0", "f1", "f2"]


@pytest.mark.parametrize(
    ("predictions", "expected_type"),
    [
        (np.array([0.25, 0.5]), pa.float64()),
        (np.array([True, False]), pa.bool_()),
        (["approve", "deny"], pa.string()),
        (np.array(["approve", "deny"]), pa.string()),
        (pd.Series(["approve", "deny"], dtype="category"), pa.string()),
        (pl.Series([3, 4]), pa.int64()),
    ],
)
def test_predictions_keep_their_type(make_logger: Make, predictions: Any, expected_type: pa.DataType) -> None:
    sink = MemorySink()
    logger = make_logger(sink)
    logger.log(np.zeros((2, 1)), predictions)
    assert logged(logger, sink).schema.field("prediction").type == expected_type
    assert logger.stats.errors == 0, logger.stats.last_errors


def test_a_group_column_of_the_inputs_is_recorded_as_the_group(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink, groups=["sex"])
    logger.log(pd.DataFrame({"income": [1.0, 2.0], "sex": ["F", "M"]}), [0, 1])
    table = logged(logger, sink)
    assert table.column("group_sex").to_pylist() == ["F", "M"]
    assert table.column("sex").to_pylist() == ["F", "M"]  # the model saw it as a feature too


def test_changing_the_inputs_after_log_does_not_change_what_was_logged(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink, flush_interval=60)
    buffer = np.ones((2, 2))
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    predictions = np.array([0.5, 0.5])
    logger.log(buffer, predictions)
    logger.log(frame, predictions)
    buffer[:] = 99.0
    predictions[:] = 99.0
    frame.loc[0, "a"] = 99.0
    table = logged(logger, sink)
    assert table.column("f0").to_pylist()[:2] == [1.0, 1.0]
    assert table.column("a").to_pylist()[2:] == [1.0, 2.0]
    assert 99.0 not in table.column("prediction").to_pylist()


def test_outcomes_join_decisions_by_id(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink)
    ids = logger.log(np.zeros((3, 1)), [1, 0, 1])
    logger.log_outcomes(ids, [1, 1, 0])
    logger.log_outcomes(ids[0], 0)  # a later label for one decision is a new outcome
    assert logger.flush(timeout=5)
    outcomes = sink.outcomes(MODEL)
    assert outcomes.column("decision_id").to_pylist() == [*ids, ids[0]]
    assert outcomes.column("label").to_pylist() == [1, 1, 0, 0]
    assert outcomes.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_the_active_opentelemetry_trace_is_recorded(make_logger: Make) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    sink = MemorySink()
    logger = make_logger(sink)
    tracer = TracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("predict") as span:
        logger.log(np.zeros((2, 1)), [0, 1])
    logger.log(np.zeros((1, 1)), [1])
    logger.log(np.zeros((1, 1)), [1], trace_id="given")
    expected = f"{span.get_span_context().trace_id:032x}"
    assert logged(logger, sink).column("trace_id").to_pylist() == [expected, expected, None, "given"]
