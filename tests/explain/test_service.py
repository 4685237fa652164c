"""Explanations in the governance loop (SQLite and PostgreSQL): stored at evaluation, read by gates,
explained per decision from the lake and the verified artifact, compared by attribution-drift monitors."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import IntegrityMismatch, InvalidInput, NotFound
from charter.integrations.frameworks import load_model
from charter.ledger.chain import EntryFilter, list_entries
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.evaluation import evaluate, list_evaluations
from charter.services.explanations import explain_decision, global_importance, reference_importance
from charter.services.gates import gate_context, run_gate
from charter.services.home import init_home
from charter.services.monitoring import run_monitor
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.registry import ModelSpec, register_model, register_version, resolve_version
from tests.explain.conftest import FEATURES, Models, logit, table_of

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def registered(context: Context, models: Models, holdout: pd.DataFrame, tmp_path: Path) -> Path:
    """credit-risk@1 (gradient boosting, a copy of its pickle) and holdout@1 (age and sex classified protected)."""
    artifact = shutil.copy(models["gbm_file"], tmp_path / "credit.pkl")
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    register_dataset(context, DatasetSpec(name="holdout", legal_basis="contract"))
    add_dataset_version(context, "holdout", tmp_path / "holdout.csv")
    register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
    register_version(context, "credit-risk", digest_path(Path(artifact)), framework="sklearn")
    return Path(artifact)


def test_evaluation_stores_the_versions_importance_and_gates_read_it(
    context: Context, registered: Path, models: Models, holdout: pd.DataFrame
) -> None:
    import shap

    steps: list[str] = []
    result = evaluate(context, "credit-risk@1", dataset="holdout@1", label="default", progress=steps.append)
    found = result.explanations
    assert found is not None and "explaining" in steps
    assert (found["method"], found["algorithm"], found["output"], found["rows"]) == ("shap", "tree", "log_odds", 200)
    # The peer: shap called directly on the same rows gives the same mean |SHAP| per feature.
    direct = np.abs(shap.TreeExplainer(models["gbm"]).shap_values(holdout[FEATURES].to_numpy())).mean(axis=0)
    assert [found["importance"][f] for f in FEATURES] == pytest.approx(direct.tolist(), rel=1e-9)
    assert sum(found["shares"].values()) == pytest.approx(1.0)
    assert found["top_features"][:2] == ["income", "debt"]
    assert found["protected_features"] == ["age"]  # sex is protected but not a feature; no feature is its proxy
    assert found["protected_rank"] == found["top_features"].index("age") + 1
    assert found["protected_share"] == pytest.approx(found["shares"]["age"])
    assert found["additivity_error"] < 1e-9
    [entry] = list_entries(context.engine, EntryFilter(action="model.evaluated"))
    assert entry.data["explanations"] == {k: found[k] for k in ("method", "top_features", "protected_share")}
    evidence = gate_context(context, resolve_version(context, "credit-risk@1"), "prod")["explanations"]
    assert evidence == {
        "available": True, "method": "shap", "top_features": found["top_features"],
        "protected_share": found["protected_share"], "importance": found["shares"], "protected_features": ["age"],
        "protected_rank": found["protected_rank"],
    }  # fmt: skip
    assert reference_importance(context, resolve_version(context, "credit-risk@1")) == found["importance"]
    gate = run_gate(context, "credit-risk@1", "prod", packs=["eu-ai-act-high-risk"], stored=False)
    verdicts = {v.rule: v.verdict for v in gate.decision.verdicts}
    assert verdicts["explainability"] == "pass"
    assert verdicts["protected-drivers"] == ("fail" if found["protected_rank"] <= 3 else "pass")


def test_evaluation_skips_explanations_when_asked_or_when_shap_is_missing(
    context: Context, registered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped = evaluate(context, "credit-risk@1", dataset="holdout@1", label="default", explain=False)
    assert skipped.explanations is None and not [n for n in skipped.notes if n.startswith("explanations")]
    evidence = gate_context(context, resolve_version(context, "credit-risk@1"), "prod")["explanations"]
    assert evidence["available"] is False and evidence["protected_rank"] is None
    monkeypatch.setitem(sys.modules, "shap", None)  # as if the explain extra were not installed
    result = evaluate(context, "credit-risk@1", dataset="holdout@1", label="default")
    assert result.explanations is None and result.metrics == skipped.metrics
    assert "explanations: not computed: explanations need the Python package 'shap', which is not installed; " \
           "install it with pip install 'charter[explain]'" in result.notes  # fmt: skip
    assert reference_importance(context, resolve_version(context, "credit-risk@1")) is None
    assert len(list_evaluations(context, "credit-risk@1")) == 2


def test_a_proxy_of_a_protected_attribute_counts_as_protected(models: Models, holdout: pd.DataFrame) -> None:
    frame = holdout.copy()
    frame["sex"] = np.where(frame["tenure"] + np.random.default_rng(5).normal(0, 0.3, len(frame)) > 0, "F", "M")
    adapter = load_model(models["gbm_file"])
    found = global_importance(adapter, table_of(frame), FEATURES, classifier=True, protected=["sex", "age"])
    assert set(found["proxies"]) == {"tenure"} and found["proxies"]["tenure"]["attribute"] == "sex"
    assert found["protected_features"] == ["age", "tenure"]
    assert found["protected_share"] == pytest.approx(found["shares"]["age"] + found["shares"]["tenure"])
    unclassified = global_importance(adapter, table_of(frame), FEATURES, classifier=True, classified=False)
    assert unclassified["protected_share"] is None and unclassified["protected_rank"] is None


def log_decisions(
    settings: Settings, clock: FixedClock, model: Any, rows: pd.DataFrame, ref: str = "credit-risk@1", **options: Any
) -> list[str]:
    cx = charter.connect(settings.home, database_url=settings.database_url, clock=clock)
    try:
        governed = cx.wrap(model, ref, **options)
        governed.predict_proba(rows[FEATURES])
        ids = list(governed.last_decision_ids)
        assert cx.flush(timeout=60)
    finally:
        cx.close()
    return ids


def test_a_logged_decision_is_explained_with_the_verified_artifact(
    context: Context, registered: Path, models: Models, holdout: pd.DataFrame, clock: FixedClock
) -> None:
    evaluate(context, "credit-risk@1", dataset="holdout@1", label="default", explain=False)
    ids = log_decisions(context.settings, clock, models["gbm"], holdout[:5])
    found = explain_decision(context, ids[2])
    probability = models["gbm"].predict_proba(holdout[FEATURES][2:3])[0, 1]
    assert (found.ref, found.method, found.algorithm) == ("credit-risk@1", "shap", "tree")
    assert found.output_space == "log_odds"
    assert found.model_output == pytest.approx(logit(np.array([probability]))[0], abs=1e-9)
    assert found.explained_output == pytest.approx(found.model_output, abs=1e-9) and found.additive
    assert found.logged["score"] == pytest.approx(probability) and found.background == "holdout@1"
    magnitudes = [abs(c.contribution) for c in found.contributions]
    assert magnitudes == sorted(magnitudes, reverse=True) and {c.feature for c in found.contributions} == set(FEATURES)
    assert {c.feature: c.value for c in found.contributions} == pytest.approx(holdout[FEATURES].iloc[2].to_dict())
    lime = explain_decision(context, ids[2], model="credit-risk", method="lime")
    assert lime.method == "lime" and not lime.additive and lime.fit is not None
    assert lime.model_output == pytest.approx(probability)


def test_explaining_refuses_unknown_decisions_and_changed_artifacts(
    context: Context, registered: Path, models: Models, holdout: pd.DataFrame, clock: FixedClock
) -> None:
    ghost = "01890000-0000-7000-8000-000000000000"
    with pytest.raises(NotFound) as caught:
        explain_decision(context, ghost)
    assert str(caught.value) == (
        f"no decision {ghost!r} in the decision lake (searched: no model has logged decisions yet)"
    )
    [decision] = log_decisions(context.settings, clock, models["gbm"], holdout[:1])
    with pytest.raises(NotFound, match=rf"^no decision '{ghost}' in the decision lake \(searched: credit-risk\)$"):
        explain_decision(context, ghost)
    with pytest.raises(NotFound, match=r"model 'fraud' has no decisions in the lake"):
        explain_decision(context, decision, model="fraud")
    with pytest.raises(InvalidInput, match=r"'DECISION-1' is not a decision id"):
        explain_decision(context, "DECISION-1")
    registered.write_bytes(registered.read_bytes() + b"\0")  # the weights changed after registration
    with pytest.raises(IntegrityMismatch, match=r"credit-risk@1: the artifact .* Charter will not load it"):
        explain_decision(context, decision)
    [entry] = list_entries(context.engine, EntryFilter(action="model.integrity_failed"))
    assert entry.data["ref"] == "credit-risk@1"
    registered.unlink()
    with pytest.raises(InvalidInput, match=r"credit-risk@1: the artifact .*credit.pkl does not exist"):
        explain_decision(context, decision)


def test_attribution_drift_breaches_when_the_drivers_shift_not_when_they_hold(
    context: Context, registered: Path, models: Models, train: pd.DataFrame, holdout: pd.DataFrame, clock: FixedClock
) -> None:
    """Logistic regression: a feature's SHAP value is coef * (x - background mean), so the shift is plain to see."""
    register_version(context, "credit-risk", digest_path(models["logistic_file"]), framework="sklearn")
    evaluate(context, "credit-risk@2", dataset="holdout@1", label="default")  # the reference profile
    spec = {"model": "credit-risk", "target": "@2", "kind": "attribution_drift", "window": {"last": 60},
            "warn": 0.15, "critical": 0.3}  # fmt: skip
    monitor = monitor_from_spec("credit-risk-attribution", spec)
    assert monitor.metric == "attribution.shift"
    define_monitor(context, monitor)
    # Background rows for the linear explainer come from the version's evaluation data (the client reads them).
    log_decisions(context.settings, clock, models["logistic"], train[:60], "credit-risk@2", explain_rate=1.0)
    clock.advance(timedelta(minutes=1))  # a window ends before its run: the decisions are in it
    stable = run_monitor(context, monitor.name)
    assert stable.status == "ok" and stable.rows == 60 and stable.value is not None and stable.value < 0.1
    assert stable.incident is None
    shifted = train[60:120].copy()
    shifted[["income", "debt"]] = 0.0  # the main drivers stuck at their mean: tenure decides now
    shifted["tenure"] *= 4
    log_decisions(context.settings, clock, models["logistic"], shifted, "credit-risk@2", explain_rate=1.0)
    clock.advance(timedelta(minutes=1))
    moved = run_monitor(context, monitor.name)
    assert moved.status == "critical" and moved.value is not None and moved.value > 0.5
    assert moved.incident is not None
