"""wrap() and @governed: the model's result comes back unchanged, and each call is a logged decision."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from charter.sdk import DecisionLogger, MemorySink, governed, wrap
from tests.sdk.conftest import MODEL

Make = Callable[..., DecisionLogger]


@pytest.fixture(scope="module")
def credit() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"age": rng.integers(18, 80, 200).astype(float), "income": rng.normal(50, 15, 200)})
    labels = np.where(frame["income"] + rng.normal(0, 5, 200) > 50, "approve", "deny")
    return frame, labels


def test_a_logistic_regression_predicts_as_before_and_each_row_is_a_decision(
    make_logger: Make, credit: tuple[pd.DataFrame, Any]
) -> None:
    frame, labels = credit
    model = LogisticRegression().fit(frame.to_numpy(), labels)
    sink = MemorySink()
    governed_model = wrap(model, make_logger(sink, features=["age", "income"]))
    X = frame.to_numpy()[:50]

    predicted = governed_model.predict(X)

    np.testing.assert_array_equal(predicted, model.predict(X))
    ids = governed_model.last_decision_ids
    assert len(ids) == 50
    assert governed_model.logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.column("decision_id").to_pylist() == ids
    assert table.column("prediction").to_pylist() == predicted.tolist()
    np.testing.assert_array_equal(table.column("income").to_numpy(), X[:, 1])
    assert min(table.column("latency_ms").to_pylist()) > 0


def test_predict_proba_logs_probabilities_and_the_class_label(
    make_logger: Make, credit: tuple[pd.DataFrame, Any]
) -> None:
    frame, labels = credit
    model = LogisticRegression().fit(frame.to_numpy(), labels)
    sink = MemorySink()
    governed_model = wrap(model, make_logger(sink))
    probabilities = governed_model.predict_proba(frame.to_numpy()[:5])
    np.testing.assert_array_equal(probabilities, model.predict_proba(frame.to_numpy()[:5]))
    assert governed_model.logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.column("prediction").to_pylist() == model.classes_[probabilities.argmax(axis=1)].tolist()
    assert table.column("scores").to_pylist() == probabilities.tolist()
    assert table.column("score").to_pylist() == probabilities[:, 1].tolist()


def test_a_pipeline_on_a_dataframe_logs_named_features_and_multiclass_scores(make_logger: Make) -> None:
    iris = load_iris(as_frame=True)
    frame = iris.frame.drop(columns="target").rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(frame, iris.target)
    sink = MemorySink()
    governed_pipeline = wrap(pipeline, make_logger(sink))
    governed_pipeline.predict_proba(frame.iloc[:10])
    governed_pipeline.predict(frame.iloc[10:12])
    assert governed_pipeline.logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.num_rows == 12
    assert table.column_names[-4:] == list(frame.columns)
    assert [len(s) for s in table.column("scores").to_pylist()[:10]] == [3] * 10
    assert governed_pipeline.logger.stats.errors == 0, governed_pipeline.logger.stats.last_errors


def test_attributes_fall_through_and_missing_methods_stay_missing(
    make_logger: Make, credit: tuple[pd.DataFrame, Any]
) -> None:
    frame, labels = credit
    classifier = LogisticRegression().fit(frame.to_numpy(), labels)
    regressor = LinearRegression().fit(frame.to_numpy(), frame["income"])
    logger = make_logger()
    assert wrap(classifier, logger).classes_.tolist() == ["approve", "deny"]
    assert wrap(classifier, logger).coef_ is classifier.coef_
    assert hasattr(wrap(classifier, logger), "predict_proba")
    assert not hasattr(wrap(regressor, logger), "predict_proba")
    assert not hasattr(wrap(lambda x: x, logger), "predict")
    with pytest.raises(AttributeError, match="predict_proba"):
        wrap(regressor, logger).predict_proba(frame.to_numpy())


def test_the_result_is_the_models_own_object(make_logger: Make) -> None:
    answer = np.array([1, 0])

    class Fixed:
        def predict(self, inputs: Any) -> Any:
            return answer

    assert wrap(Fixed(), make_logger()).predict(np.ones((2, 3))) is answer


def test_a_plain_function_with_the_decorator(make_logger: Make) -> None:
    sink = MemorySink()
    logger = make_logger(sink)

    @governed(logger)
    def approve(applicant: dict[str, float]) -> bool:
        """Approve the rich."""
        return applicant["income"] > 50

    assert approve({"age": 30, "income": 80.0}) is True
    assert approve.__name__ == "approve" and approve.__doc__ == "Approve the rich."
    ids = approve.last_decision_ids
    assert logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.column("decision_id").to_pylist() == ids
    assert table.column("prediction").to_pylist() == [True]
    assert table.column("income").to_pylist() == [80.0]


class FakeTensor:
    """Looks like a torch tensor to duck typing: detach().cpu().numpy()."""

    def __init__(self, values: Any) -> None:
        self.values = np.asarray(values, dtype=np.float32)

    def detach(self) -> FakeTensor:
        return self

    def cpu(self) -> FakeTensor:
        return self

    def numpy(self) -> np.ndarray[Any, Any]:
        return self.values


def test_a_torch_like_module_logs_the_argmax_and_softmax_of_its_logits(make_logger: Make) -> None:
    logits = FakeTensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])

    class Net:
        def __call__(self, batch: FakeTensor) -> FakeTensor:
            return logits

    sink = MemorySink()
    net = wrap(Net(), make_logger(sink))
    assert net(FakeTensor(np.ones((2, 4)))) is logits
    assert net.logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.column("prediction").to_pylist() == [0, 1]
    expected = np.exp(logits.values) / np.exp(logits.values).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.array(table.column("scores").to_pylist()), expected, rtol=1e-6)
    assert table.column("f3").to_pylist() == [1.0, 1.0]


def test_the_models_exceptions_pass_through_and_nothing_is_logged(make_logger: Make) -> None:
    class Broken:
        def predict(self, inputs: Any) -> Any:
            raise ValueError("X has 3 features, but Broken is expecting 4")

    logger = make_logger()
    with pytest.raises(ValueError, match="expecting 4"):
        wrap(Broken(), logger).predict(np.ones((1, 3)))
    assert logger.flush(timeout=5)
    assert logger.stats.enqueued == 0


def test_logging_problems_never_reach_the_caller(make_logger: Make) -> None:
    class Odd:
        def predict(self, inputs: Any) -> Any:
            return [object()] * len(inputs)

    logger = make_logger(features=["a", "b"])
    result = wrap(Odd(), logger).predict(np.ones((3, 5)))  # wrong width and unstorable predictions
    assert len(result) == 3
    assert logger.flush(timeout=5)
    assert logger.stats.errors == 2, logger.stats.last_errors


def test_last_decision_ids_belong_to_the_calling_thread(make_logger: Make) -> None:
    governed_function = wrap(lambda x: np.zeros(len(x)), make_logger())
    seen: dict[int, tuple[list[str], list[str]]] = {}

    def call(rows: int) -> None:
        ids = governed_function.logger.log(np.ones((rows, 1)), np.zeros(rows))  # an unrelated log call
        governed_function(np.ones((rows, 1)))
        seen[rows] = (ids, governed_function.last_decision_ids)

    threads = [threading.Thread(target=call, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {n: len(last) for n, (_, last) in seen.items()} == {1: 1, 2: 2, 3: 3}
    assert all(not set(ids) & set(last) for ids, last in seen.values())


def test_before_the_first_call_the_last_decision_ids_are_an_empty_list_of_ones_own(make_logger: Make) -> None:
    model = wrap(lambda x: np.zeros(len(x)), make_logger())
    mine = model.last_decision_ids
    mine.append("not an id")
    assert model.last_decision_ids == [] and wrap(lambda x: x, model.logger).last_decision_ids == []


def test_a_single_row_predict_is_recorded_with_its_latency(make_logger: Make) -> None:
    class Model:
        def predict(self, X: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            return X[:, 0] > 0

    sink = MemorySink()
    model = wrap(Model(), make_logger(sink, features=["a", "b"]))
    answers = [model.predict(np.array([[sign * 1.0, 2.0]]))[0] for sign in (1, -1, 1)]
    ids = model.last_decision_ids
    assert model.logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.column("prediction").to_pylist() == answers == [True, False, True]
    assert table.column("decision_id").to_pylist()[-1:] == ids
    assert table.column("a").to_pylist() == [1.0, -1.0, 1.0]
    assert all(latency > 0 for latency in table.column("latency_ms").to_pylist())


def test_context_adds_subject_ids_and_groups(make_logger: Make) -> None:
    sink = MemorySink()
    model = wrap(lambda x: np.zeros(len(x)), make_logger(sink))
    with model.context(subject_ids=["c-1", "c-2"], groups={"sex": ["F", "M"]}, trace_id="t-1"):
        model(np.ones((2, 1)))
    model(np.ones((1, 1)))
    assert model.logger.flush(timeout=5)
    table = sink.decisions(MODEL)
    assert table.column("subject_id").to_pylist() == ["c-1", "c-2", None]
    assert table.column("group_sex").to_pylist() == ["F", "M", None]
    assert table.column("trace_id").to_pylist() == ["t-1", "t-1", None]
