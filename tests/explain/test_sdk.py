"""Sampled explanations at log time: computed on the writer thread, stored as attribution columns, off by default."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from charter.errors import InvalidInput
from charter.integrations.explain_subjects import subject_from_model
from charter.integrations.explainers import make_explainer
from charter.sdk import DecisionLogger, MemorySink, wrap
from tests.explain.conftest import FEATURES, Models

MODEL = "credit-risk"
# shap's import warns of matplotlib's coming changes (Python shows PendingDeprecationWarning to nobody but pytest)
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[DecisionLogger]:
    made = DecisionLogger(MemorySink(), model=MODEL, spool_dir=tmp_path / "spool", features=FEATURES)
    yield made
    made.close(timeout=5)


def sink_of(logger: DecisionLogger) -> MemorySink:
    sink = logger._pipeline._sink
    assert isinstance(sink, MemorySink)
    return sink


def test_every_sampled_decision_carries_its_shap_values(
    logger: DecisionLogger, models: Models, holdout: pd.DataFrame
) -> None:
    gbm = models["gbm"]
    governed = wrap(gbm, logger, explain_rate=1.0)
    x = holdout[FEATURES][:30]
    governed.predict_proba(x)
    assert logger.flush(timeout=30)
    table = sink_of(logger).decisions(MODEL)
    assert logger.stats.explained == 30 and logger.stats.errors == 0
    direct = make_explainer(subject_from_model(gbm, FEATURES)).explain(x.to_numpy())
    for j, feature in enumerate(FEATURES):
        assert np.allclose(table.column(f"attribution_{feature}").to_numpy(), direct.values[:, j], atol=1e-12)
    assert set(table.column("explanation_method").to_pylist()) == {"shap:tree:log_odds"}
    logged = np.array(table.column("score").to_pylist())
    assert np.allclose(direct.total, np.log(logged) - np.log1p(-logged), atol=1e-9)  # additive to what was logged


def test_explanations_run_on_the_writer_thread_never_on_the_callers(
    logger: DecisionLogger, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    threads: set[str] = set()
    weights = np.array([1.5, -1.0, 0.3, 0.0])

    def score(matrix: np.ndarray) -> np.ndarray:
        if matrix.ndim == 2 and len(matrix) > 1:  # called with a batch of coalitions: the explainer at work
            threads.add(threading.current_thread().name)
        return np.asarray(1 / (1 + np.exp(-(matrix @ weights))))

    governed = wrap(score, logger, explain_rate=0.5, explain_background=train[FEATURES].to_numpy()[:40])
    for row in holdout[FEATURES].to_numpy()[:40]:
        governed(row)
    assert threads == set()  # the caller's 40 predictions never explained anything
    assert logger.flush(timeout=30)
    table = sink_of(logger).decisions(MODEL)
    explained = table.column("explanation_method").is_valid().to_numpy(zero_copy_only=False)
    assert 0 < explained.sum() == logger.stats.explained < 40
    assert threads == {f"charter-logger[{MODEL}]"}
    assert set(
        table.filter(table.column("explanation_method").is_valid()).column("explanation_method").to_pylist()
    ) == {"shap:kernel:probability"}
    assert table.column("attribution_income").null_count == 40 - explained.sum()  # rows not sampled: null


def test_without_a_rate_nothing_is_explained_or_added(
    logger: DecisionLogger, models: Models, holdout: pd.DataFrame
) -> None:
    governed = wrap(models["gbm"], logger)
    assert logger._pipeline.explainer is None  # the writer does not even look
    governed.predict_proba(holdout[FEATURES][:10])
    assert logger.flush(timeout=10)
    table = sink_of(logger).decisions(MODEL)
    assert not [c for c in table.column_names if c.startswith(("attribution_", "explanation"))]
    assert logger.stats.explained == 0
    logger.explain_with(models["gbm"], rate=0.5)
    assert logger._pipeline.explainer is not None
    logger.explain_with(models["gbm"], rate=0)
    assert logger._pipeline.explainer is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 1.5}, "explain_rate: 1.5 must be a share of decisions from 0 to 1"),
        ({"rate": True}, "explain_rate: True must be a share of decisions from 0 to 1"),
        ({"rate": 0.1, "method": "anchors"}, "explain_method: 'anchors' is not one of shap, lime"),
    ],
)
def test_bad_options_are_refused_when_wrapping(logger: DecisionLogger, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        logger.explain_with(lambda x: x, **options)
    assert str(caught.value) == message


def test_a_model_that_cannot_be_explained_stops_explaining_not_logging(
    logger: DecisionLogger, holdout: pd.DataFrame
) -> None:
    def three_classes(matrix: np.ndarray) -> np.ndarray:
        return np.tile([0.2, 0.3, 0.5], (len(matrix), 1))

    governed = wrap(three_classes, logger, explain_rate=1.0, explain_background=holdout[FEATURES].to_numpy()[:30])
    governed(holdout[FEATURES].to_numpy()[:5])
    assert logger.flush(timeout=10)
    assert sink_of(logger).decisions(MODEL).num_rows == 5 and logger.stats.explained == 0
    [message] = logger.stats.last_errors
    assert (
        message.startswith(f"{MODEL}: sampled explanations stopped (") and "explanations cover binary models" in message
    )


def test_without_background_the_first_logged_rows_serve(
    logger: DecisionLogger, models: Models, holdout: pd.DataFrame
) -> None:
    governed = wrap(models["logistic"], logger, explain_rate=1.0)  # linear: needs the background's means
    governed.predict_proba(holdout[FEATURES][:5])
    assert logger.flush(timeout=10) and logger.stats.explained == 0  # 5 rows: too few to stand for the data
    governed.predict_proba(holdout[FEATURES][5:60])
    assert logger.flush(timeout=10)
    assert logger.stats.explained == 55 and logger.stats.errors == 0
    table = sink_of(logger).decisions(MODEL)
    assert table.column("explanation_method").to_pylist()[-1] == "shap:linear:log_odds"


def test_a_durable_caller_is_never_kept_waiting_for_explanations(
    logger: DecisionLogger, models: Models, holdout: pd.DataFrame
) -> None:
    wrap(models["gbm"], logger, explain_rate=1.0)
    logger.log(holdout[FEATURES][:5], np.ones(5), durable=True)  # returns once the rows are in the sink
    assert sink_of(logger).decisions(MODEL).num_rows == 5
    assert logger.stats.explained == 0
    logger.log(holdout[FEATURES][5:10], np.ones(5))
    assert logger.flush(timeout=10) and logger.stats.explained == 5
