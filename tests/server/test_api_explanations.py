"""A decision explained over HTTP and from the dashboard's Explain button: the same service, the same numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import charter
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.evaluation import evaluate
from charter.services.explanations import explain_decision
from charter.services.registry import ModelSpec, register_model, register_version
from tests.explain.conftest import FEATURES, applicants, pickled
from tests.server.conftest import auth

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def explained(server: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """credit-risk@1 (gradient boosting) evaluated on holdout@1, with three decisions logged."""
    from sklearn.ensemble import GradientBoostingClassifier

    train, holdout = applicants(1), applicants(2, rows=120)
    model = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(
        train[FEATURES], train["default"]
    )
    artifact = pickled(model, tmp_path / "credit.pkl")
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    settings = server["settings"]
    with open_context(settings, clock=server["clock"]) as context:
        register_dataset(context, DatasetSpec(name="holdout", legal_basis="contract"))
        add_dataset_version(context, "holdout", tmp_path / "holdout.csv")
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        register_version(context, "credit-risk", digest_path(artifact), framework="sklearn")
        evaluate(context, "credit-risk@1", dataset="holdout@1", label="default")
    with charter.connect(settings.home, database_url=settings.database_url, clock=server["clock"]) as cx:
        governed = cx.wrap(model, "credit-risk@1")
        governed.predict_proba(holdout[FEATURES][:3])
        ids = list(governed.last_decision_ids)
    return {**server, "ids": ids, "artifact": artifact}


def test_the_api_returns_what_the_service_computes_and_refuses_what_it_refuses(explained: dict[str, Any]) -> None:
    client, decision = explained["client"], explained["ids"][0]
    answer = client.get(f"/api/v1/decisions/{decision}/explanation", headers=auth(explained["tokens"]["viewer"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    with open_context(explained["settings"]) as context:
        expected = explain_decision(context, decision).to_dict()
    assert body == expected
    assert body["additive"] is True and body["output_space"] == "log_odds" and body["ref"] == "credit-risk@1"
    lime = client.get(f"/api/v1/decisions/{decision}/explanation", params={"method": "lime", "model": "credit-risk"},
                      headers=auth(explained["tokens"]["viewer"]))  # fmt: skip
    assert lime.status_code == 200 and lime.json()["method"] == "lime" and lime.json()["fit"] is not None
    # Refusals: a decision that is not there, a method that does not exist, weights changed since registration.
    headers = auth(explained["tokens"]["developer"])
    ghost = "01890000-0000-7000-8000-000000000000"
    missing = client.get(f"/api/v1/decisions/{ghost}/explanation", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["message"] == f"no decision {ghost!r} in the decision lake (searched: credit-risk)"
    wrong = client.get(f"/api/v1/decisions/{explained['ids'][0]}/explanation", params={"method": "anchors"},
                       headers=headers)  # fmt: skip
    assert wrong.status_code == 422
    artifact: Path = explained["artifact"]
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    changed = client.get(f"/api/v1/decisions/{explained['ids'][0]}/explanation", headers=headers)
    assert changed.status_code == 409 and changed.json()["code"] == "integrity.mismatch"


@pytest.mark.parametrize("backend", ["sqlite"])  # the page renders the service the API test runs on both
def test_the_dashboard_explains_a_decision_from_its_button(explained: dict[str, Any]) -> None:
    client = explained["client"]
    form = client.get("/login")
    csrf = CSRF.search(form.text)
    assert csrf is not None
    signed = client.post("/login", data={"token": explained["tokens"]["viewer"], "next": "/", "csrf_token": csrf[1]},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    page = client.get("/models/credit-risk")
    assert page.status_code == 200
    assert 'data-testid="importance"' in page.text and "What drives credit-risk@1" in page.text
    assert '<meter min="0" max="1" value="' in page.text
    actions = re.findall(r'action="(/models/credit-risk/decisions/[0-9a-f-]+/explanation)"', page.text)
    assert sorted(actions) == sorted(f"/models/credit-risk/decisions/{i}/explanation" for i in explained["ids"])
    shown = client.get(actions[0])
    assert shown.status_code == 200 and 'data-testid="contributions"' in shown.text
    decision = actions[0].split("/")[4]
    with open_context(explained["settings"]) as context:
        found = explain_decision(context, decision)
    for item in found.contributions:
        assert f'<th scope="row">{item.feature}</th>' in shown.text and f"{item.contribution:+.4g}" in shown.text
    assert "holds (difference" in shown.text
    lime = client.get(actions[0], params={"method": "lime"})
    assert lime.status_code == 200 and "Surrogate fit" in lime.text
    unknown = client.get("/models/credit-risk/decisions/01890000-0000-7000-8000-000000000000/explanation")
    assert unknown.status_code == 404 and "no decision" in unknown.text
