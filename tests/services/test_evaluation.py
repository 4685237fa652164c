"""Evaluating a real scikit-learn model on registered data: integrity, scorecard against the oracle, suites."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LogisticRegression

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import IntegrityMismatch, InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import audit
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.evaluation import evaluate, get_evaluation, list_evaluations, record_evaluation
from charter.services.home import init_home
from charter.services.registry import ModelSpec, register_model, register_version

SUITE = """\
apiVersion: charter.dev/v1
kind: Suite
metadata: {name: credit-edge-cases}
spec:
  cases:
    - name: scores are probabilities
      kind: range
      min: 0
      max: 1
    - name: more income never raises the risk of default
      kind: monotonic
      feature: income
      values: [10, 30, 60, 90]
      direction: decreasing
    - name: sex does not change decisions
      kind: invariance
      feature: sex
      values: [F, M]
"""


def applicants(seed: int, rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, rows).round(1)
    age = rng.integers(18, 80, rows)
    sex = rng.choice(["F", "M"], rows)
    logit = (income - 50) / 10 + (age - 45) / 40
    default = (rng.uniform(size=rows) < 1 / (1 + np.exp(logit))).astype(int)
    band = np.where(age < 30, "18-29", np.where(age < 50, "30-49", "50+"))
    return pd.DataFrame({"income": income, "age": age, "sex": sex, "age_band": band, "default": default})


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def registered(context: Context, tmp_path: Path) -> dict[str, object]:
    train, holdout = applicants(1), applicants(2)
    model = LogisticRegression().fit(train[["income", "age"]], train["default"])
    artifact = tmp_path / "credit.pkl"
    artifact.write_bytes(pickle.dumps(model))
    data = tmp_path / "holdout.csv"
    holdout.to_csv(data, index=False)
    register_dataset(context, DatasetSpec(name="holdout", legal_basis="contract"))
    add_dataset_version(context, "holdout", data)
    register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
    register_version(context, "credit-risk", digest_path(artifact), framework="sklearn")
    return {"model": model, "holdout": holdout, "artifact": artifact, "data": data}


def test_the_scorecard_matches_scikit_learn(context: Context, registered: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    suite = tmp_path / "edge.yaml"
    suite.write_text(SUITE)
    steps: list[str] = []
    result = evaluate(context, "credit-risk@1", dataset="holdout@1", label="default", slices=["age_band"],
                      suites=[suite],
                      progress=steps.append)  # fmt: skip
    holdout, model = registered["holdout"], registered["model"]
    scores = model.predict_proba(holdout[["income", "age"]])[:, 1]  # type: ignore[attr-defined]
    y = holdout["default"]  # type: ignore[index]
    assert result.label == "default" and result.rows == 600
    assert result.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(y, scores), abs=1e-12)
    assert result.metrics["accuracy"] == pytest.approx(sk.accuracy_score(y, scores > 0.5), abs=1e-12)
    assert result.metrics["log_loss"] == pytest.approx(sk.log_loss(y, scores), abs=1e-9)
    young = (holdout["age_band"] == "18-29").to_numpy()  # type: ignore[index]
    assert result.slices["age_band"]["18-29"]["roc_auc"] == pytest.approx(sk.roc_auc_score(y[young], scores[young]))
    assert set(result.fairness) == {"sex", "age_band"}  # classified as protected when the dataset was registered
    assert any(n.startswith("fairness on age: 62 distinct values is too many groups") for n in result.notes)
    assert 0 < result.fairness["sex"]["disparate_impact"] <= 1
    assert result.suites["credit-edge-cases"]["passed"] == 3
    assert steps[0] == "checking holdout@1" and steps[-1] == "running suite credit-edge-cases"
    assert get_evaluation(context, result.id).metrics == result.metrics
    assert [e.id for e in list_evaluations(context, "credit-risk@1")] == [result.id]
    [entry] = list_entries(context.engine, EntryFilter(action="model.evaluated"))
    assert (
        entry.data["metrics"]["roc_auc"] == result.metrics["roc_auc"] and "groups" not in entry.data["fairness"]["sex"]
    )
    assert audit.verify_ledger(context).ok


def test_a_tampered_artifact_is_refused_and_recorded(context: Context, registered: dict) -> None:  # type: ignore[type-arg]
    artifact: Path = registered["artifact"]  # type: ignore[assignment]
    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    with pytest.raises(IntegrityMismatch) as caught:
        evaluate(context, "credit-risk@1", dataset="holdout@1", label="default")
    assert "was changed or replaced after registration, so Charter will not load it" in str(caught.value)
    assert caught.value.code == "integrity.mismatch"
    [entry] = list_entries(context.engine, EntryFilter(action="model.integrity_failed"))
    assert entry.data["ref"] == "credit-risk@1" and entry.data["found_sha256"] != entry.data["expected_sha256"]
    assert list_evaluations(context, "credit-risk@1") == []


def test_changed_data_is_refused(context: Context, registered: dict) -> None:  # type: ignore[type-arg]
    data: Path = registered["data"]  # type: ignore[assignment]
    data.write_text(data.read_text().replace("\n1", "\n0", 5))
    with pytest.raises(IntegrityMismatch, match=r"holdout@1: .* register the new content as a new version"):
        evaluate(context, "credit-risk@1", dataset="holdout@1", label="default")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"label": "outcome"}, "--label 'outcome': holdout@1 has no such column (columns: income, age, sex,"),
        ({"label": "default", "slices": ["region"]}, "--slice 'region': holdout@1 has no such column"),
        ({"label": "default", "positive": "yes"}, "--positive 'yes': the model predicts numbers, not 'yes'"),
    ],
)
def test_bad_options_are_clear_errors(
    context: Context,
    registered: dict,
    options: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput) as caught:
        evaluate(context, "credit-risk@1", dataset="holdout@1", **options)
    assert str(caught.value).startswith(message)
    assert audit.ledger_size(context) == head


def test_results_logged_by_a_pipeline(context: Context, registered: dict) -> None:  # type: ignore[type-arg]
    found = record_evaluation(context, "credit-risk@1", dataset="holdout@1", metrics={"roc_auc": 0.81}, rows=600)
    assert (found.source, found.dataset, found.metrics) == ("sdk", "holdout@1", {"roc_auc": 0.81})
    for bad, message in (({"roc_auc": float("nan")}, "metric 'roc_auc' is nan"), ({}, "no metrics given")):
        with pytest.raises(InvalidInput, match=message):
            record_evaluation(context, "credit-risk@1", dataset="holdout", metrics=bad)
    with pytest.raises(InvalidInput, match=r"evaluation source 'excel' is not one of"):
        record_evaluation(context, "credit-risk@1", dataset="holdout", metrics={"a": 1.0}, source="excel")
