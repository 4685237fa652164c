"""Model cards on SQLite and PostgreSQL: every section is computed from what the store holds."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import NotFound
from charter.services import access
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, certify, classify, register_dataset
from charter.services.evaluation import evaluate, list_evaluations, record_evaluation
from charter.services.gates import run_gate
from charter.services.home import init_home
from charter.services.incidents import raise_alert
from charter.services.model_cards import render_model_card
from charter.services.registry import ModelSpec, register_model, register_version

FEATURES = ["income", "debt", "age"]

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def applicants(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income, debt = rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    age = rng.integers(18, 80, rows)
    sex = rng.choice(np.array(["F", "M"]), rows)
    default = (rng.uniform(size=rows) < 1 / (1 + np.exp(-(1.5 * income - 1.0 * debt)))).astype(int)
    return pd.DataFrame({"income": income, "debt": debt, "age": age, "sex": sex, "default": default})


@pytest.fixture
def context(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Context]:
    """credit-risk@1 (a logistic regression) trained on train@1, evaluated with SHAP on holdout@1; @2 unexplained."""
    from sklearn.linear_model import LogisticRegression

    init_home(settings, clock=clock)
    train, holdout = applicants(1, 300), applicants(2, 200)
    fitted = LogisticRegression().fit(train[FEATURES].to_numpy(), train["default"])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted))
    (tmp_path / "other.pkl").write_bytes(b"weights 2")
    train.to_csv(tmp_path / "train.csv", index=False)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    with open_context(settings, clock=clock) as opened:
        for name in ("train", "holdout"):
            register_dataset(opened, DatasetSpec(name=name, legal_basis="contract"))
            add_dataset_version(opened, name, tmp_path / f"{name}.csv")
        classify(opened, "train@1", "sex", protected=True)
        classify(opened, "train@1", "age", pii_category="date_of_birth", protected=True)
        classify(opened, "holdout@1", "sex", protected=True)
        access.grant(opened, "user:tester", "risk-officer")
        certify(opened, "train@1", purpose="credit scoring", expires=clock.now() + timedelta(days=30))
        register_model(opened, ModelSpec(
            name="credit-risk", task="binary_classification", risk_tier="high", owner="alice", team="risk",
            description="Scores loan applications", intended_use="EU retail loans", limitations="Not for SMEs",
        ))  # fmt: skip
        schema = {"features": [{"name": f, "type": "number"} for f in FEATURES]}
        register_version(opened, "credit-risk", digest_path(tmp_path / "model.pkl"), framework="sklearn",
                         input_schema=schema, trained_on=("train@1",))  # fmt: skip
        register_version(opened, "credit-risk", digest_path(tmp_path / "other.pkl"), framework="sklearn")
        evaluate(opened, "credit-risk@1", dataset="holdout@1", label="default")
        clock.advance(60)  # a later evaluation without explanations does not hide the earlier one's
        record_evaluation(opened, "credit-risk@1", dataset="pipeline-holdout", metrics={"roc_auc": 0.86123, "n": 5})
        record_evaluation(opened, "credit-risk@2", dataset="holdout", metrics={"roc_auc": 0.7})
        yield opened


def test_the_card_shows_the_stored_facts(context: Context) -> None:
    run_gate(context, "credit-risk@1", "prod")  # no policy applies: blocked
    raise_alert(context, model="credit-risk", dedup_key="k", title="drift on income", severity="high", details={})
    card = render_model_card(context, "credit-risk@1")
    text = card.markdown
    assert card.ref == "credit-risk@1" and card.to_dict() == {"ref": "credit-risk@1", "markdown": text}
    assert text.startswith("# Model card: credit-risk@1\n")
    for row in ("| Risk tier | high |", "| Owner | alice |", "| Intended use | EU retail loans |",
                "| Limitations | Not for SMEs |", "| Framework | sklearn |", "| Status | registered |"):  # fmt: skip
        assert row in text
    [explained, recorded] = sorted(list_evaluations(context, "credit-risk@1"), key=lambda e: e.dataset)
    assert (explained.dataset, recorded.dataset, recorded.explanations) == ("holdout@1", "pipeline-holdout", None)
    # Metrics: exact values at 3 significant digits.
    assert "### On pipeline-holdout" in text and "| roc_auc | 0.861 |" in text and "| n | 5 |" in text
    for name, value in explained.metrics.items():
        assert f"| {name} | {value:.3g} |" in text
    # Fairness per protected attribute, from the stored evaluation.
    assert "Fairness by **sex**:" in text
    for measure, value in explained.fairness["sex"].items():
        if isinstance(value, float):
            assert f"| {measure} | {value:.3g} |" in text
    # Lineage: the training dataset with its role, certification and classified columns.
    assert "| train@1 | training | certified | age (date_of_birth) | age, sex | — |" in text
    # Explanations: the top features in order with their share of importance.
    found = explained.explanations
    assert found is not None and found["method"] == "shap"
    rows = [f"| {i} | {f} | {found['shares'][f] * 100:.3g}% |" for i, f in enumerate(found["top_features"], 1)]
    positions = [text.index(row) for row in rows]
    assert positions == sorted(positions) and found["top_features"][:2] == ["income", "debt"]
    assert "Global feature importance: not computed" not in text
    # The gate and the open incident.
    assert "| prod | blocked | — | (none)/no-applicable-policy |" in text
    assert "| INC-1 | high | triggered | drift on income |" in text


def test_an_unexplained_version_says_not_computed(context: Context) -> None:
    text = render_model_card(context, "credit-risk@2").markdown
    assert "Global feature importance: not computed." in text
    assert "No datasets are linked to this version" in text
    assert "No gate has been evaluated for this version." in text
    assert "| roc_auc | 0.7 |" in text


def test_an_alias_resolves_and_an_unknown_ref_is_named(context: Context) -> None:
    from charter.services.aliases import set_alias

    set_alias(context, "credit-risk@2", "staging")
    card = render_model_card(context, "credit-risk:staging")
    assert card.ref == "credit-risk@2" and "| Aliases | credit-risk:staging |" in card.markdown
    with pytest.raises(NotFound, match=r"^credit-risk has no version 9 \(versions: 1-2\)$"):
        render_model_card(context, "credit-risk@9")
    with pytest.raises(NotFound, match="no model 'fraud'"):
        render_model_card(context, "fraud@1")
