"""REST API: policies from YAML, evaluations, gates, promotion through change requests and approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from charter.ledger.chain import EntryFilter, list_entries
from charter.services.context import open_context
from tests.server.conftest import auth

POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: high-risk-deploy}
spec:
  appliesTo: {riskTier: [high], stage: [prod]}
  rules:
    - name: auc-baseline
      expr: evaluation.metrics.roc_auc >= 0.82
      message: "ROC AUC {{ evaluation.metrics.roc_auc }} is below 0.82"
    - name: approver-approval
      expr: approvals.exists(a, a.role == 'approver' && a.decision == 'approved' && a.principal != requester)
      action: require_approval
"""
YAML = {"Content-Type": "application/yaml"}


def call(server: dict[str, Any], role: str, method: str, path: str, **options: Any) -> httpx.Response:
    headers = {**auth(server["tokens"][role]), **options.pop("headers", {})}
    return server["client"].request(method, f"/api/v1{path}", headers=headers, **options)


def actors(server: dict[str, Any], action: str) -> list[str]:
    with open_context(server["settings"], clock=server["clock"]) as context:
        return [e.actor for e in list_entries(context.engine, EntryFilter(action=action), newest_first=False)]


@pytest.fixture
def registry(server: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """credit-risk with versions 1 (ROC AUC 0.86) and 2 (0.80), both evaluated through the API."""
    call(server, "developer", "POST", "/models",
         json={"name": "credit-risk", "task": "binary_classification", "risk_tier": "high"})  # fmt: skip
    for number, auc in ((1, 0.86), (2, 0.80)):
        weights = tmp_path / f"m{number}.pkl"
        weights.write_bytes(f"weights {number}".encode())
        call(server, "developer", "POST", "/models/credit-risk/versions", json={"artifact": str(weights)})
        recorded = call(server, "developer", "POST", "/evaluations",
                        json={"ref": f"credit-risk@{number}", "dataset": "holdout", "metrics": {"roc_auc": auc},
                              "rows": 500, "source": "sdk"})  # fmt: skip
        assert recorded.status_code == 201, recorded.text
    return server


def test_policies_are_added_as_yaml_versioned_and_removed(server: dict[str, Any]) -> None:
    created = call(server, "risk-officer", "POST", "/policies", content=POLICY, headers=YAML)
    assert created.status_code == 200, created.text
    assert created.json() == {"name": "high-risk-deploy", "action": "create", "version": 1,
                              "origin": "api:svc:risk-officer"}  # fmt: skip
    same = call(server, "admin", "POST", "/policies", content=POLICY, headers={"Content-Type": "text/plain"})
    assert (same.json()["action"], same.json()["version"]) == ("unchanged", 1)
    changed = call(server, "admin", "POST", "/policies", content=POLICY.replace("0.82", "0.83"), headers=YAML)
    assert (changed.json()["action"], changed.json()["version"]) == ("update", 2)
    assert actors(server, "policy.added") == ["svc:risk-officer"] and actors(server, "policy.updated") == ["svc:admin"]
    shown = call(server, "viewer", "GET", "/policies/high-risk-deploy").json()
    assert shown["version"] == 2 and "0.83" in shown["source"]
    assert [r["name"] for r in shown["document"]["rules"]] == ["auc-baseline", "approver-approval"]
    first = call(server, "viewer", "GET", "/policies/high-risk-deploy", params={"version": 1}).json()
    assert (first["version"], first["active"]) == (1, False)
    assert [(p["name"], p["version"]) for p in call(server, "viewer", "GET", "/policies").json()["items"]] == [
        ("high-risk-deploy", 2)
    ]
    assert len(call(server, "viewer", "GET", "/policies", params={"include_inactive": True}).json()["items"]) == 2
    broken = call(server, "risk-officer", "POST", "/policies", content=POLICY.replace("expr:", "exp:", 1), headers=YAML)
    assert broken.status_code == 400 and broken.json()["code"] == "policy.parse_error"
    assert "unknown field 'exp'" in broken.json()["message"]
    control = call(server, "risk-officer", "POST", "/policies", content="rules:\n  \x1f", headers=YAML)
    assert control.status_code == 400 and control.json() == {
        "code": "policy.parse_error", "status": 400,
        "message": "policy api:svc:risk-officer line 2: not valid YAML (the character U+001F is not allowed in YAML)",
    }  # fmt: skip
    refused = call(server, "developer", "POST", "/policies", content=POLICY, headers=YAML)
    assert refused.status_code == 403
    removed = call(server, "risk-officer", "DELETE", "/policies/high-risk-deploy", params={"reason": "replaced"})
    assert removed.status_code == 200 and removed.json()["active"] is False
    assert call(server, "viewer", "GET", "/policies/high-risk-deploy").status_code == 404
    no_reason = call(server, "risk-officer", "DELETE", "/policies/high-risk-deploy")
    assert no_reason.status_code == 422 and no_reason.json()["message"] == "query.reason: Field required"


def test_evaluations_are_recorded_and_listed(registry: dict[str, Any]) -> None:
    found = call(registry, "viewer", "GET", "/evaluations", params={"ref": "credit-risk@1"}).json()["items"]
    assert [(e["ref"], e["metrics"], e["source"], e["created_by"]) for e in found] == [
        ("credit-risk@1", {"roc_auc": 0.86}, "sdk", "svc:developer")
    ]
    one = call(registry, "viewer", "GET", f"/evaluations/{found[0]['id']}").json()
    assert one == found[0]
    bad = call(registry, "developer", "POST", "/evaluations",
               json={"ref": "credit-risk@1", "dataset": "holdout", "metrics": {}})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["message"].startswith("body.metrics: Dictionary should have at least")
    unknown = call(registry, "viewer", "GET", "/evaluations/00000000-0000-7000-8000-000000000000")
    assert unknown.status_code == 404


def test_a_promotion_waits_for_its_approval_then_moves_the_alias(registry: dict[str, Any]) -> None:
    call(registry, "risk-officer", "POST", "/policies", content=POLICY, headers=YAML)
    gate = call(registry, "developer", "POST", "/gates", json={"ref": "credit-risk@1", "stage": "prod"})
    assert gate.status_code == 201, gate.text
    assert (gate.json()["decision"], gate.json()["context"]["evaluation"]["metrics"]) == (
        "pending_approval", {"roc_auc": 0.86},
    )  # fmt: skip
    blocked = call(registry, "developer", "POST", "/gates", json={"ref": "credit-risk@2", "stage": "prod"}).json()
    assert blocked["decision"] == "blocked"
    assert [v["message"] for v in blocked["verdicts"] if v["rule"] == "auc-baseline"] == ["ROC AUC 0.8 is below 0.82"]
    history = call(registry, "viewer", "GET", "/gates", params={"ref": "credit-risk@1"}).json()["items"]
    assert [(g["stage"], g["decision"]) for g in history] == [("prod", "pending_approval")]

    asked = call(registry, "developer", "POST", "/promotions",
                 json={"ref": "credit-risk@1", "alias": "prod", "justification": "first production model"})  # fmt: skip
    assert asked.status_code == 200, asked.text
    promotion = asked.json()
    assert (promotion["status"], promotion["move"]) == ("pending_approval", None)
    request = promotion["change_request"]
    assert (request["requester"], request["required"]["roles"], request["state"]) == (
        "svc:developer", ["approver"], "pending",
    )  # fmt: skip
    waiting = call(registry, "approver", "GET", "/change-requests", params={"awaiting_me": True}).json()["items"]
    assert [r["id"] for r in waiting] == [request["id"]]
    assert call(registry, "risk-officer", "GET", "/change-requests", params={"awaiting_me": True}).json()["items"] == []
    not_theirs = call(registry, "risk-officer", "POST", f"/change-requests/{request['id']}/approve",
                      json={"justification": "looks fine"})  # fmt: skip
    assert not_theirs.status_code == 403 and not_theirs.json()["message"] == (
        f"change request {request['id']} needs 1 approval from approver; svc:risk-officer has risk-officer"
    )
    stale = call(registry, "approver", "POST", f"/change-requests/{request['id']}/approve",
                 json={"justification": "ok", "payload_sha256": "0" * 64})  # fmt: skip
    assert stale.status_code == 409 and "read it again before deciding" in stale.json()["message"]
    decision = {"justification": "gate report checked", "payload_sha256": request["payload_sha256"]}
    approved = call(registry, "approver", "POST", f"/change-requests/{request['id']}/approve", json=decision)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert [(a["principal"], a["role"]) for a in approved.json()["approvals"]] == [("svc:approver", "approver")]

    done = call(registry, "developer", "POST", "/promotions", json={"ref": "credit-risk@1", "alias": "prod"}).json()
    assert (done["status"], done["move"]["to_version"], done["change_request"]["state"]) == ("promoted", 1, "executed")
    assert call(registry, "viewer", "GET", "/models/credit-risk/aliases/prod").json()["ref"] == "credit-risk@1"
    [move] = call(registry, "viewer", "GET", "/models/credit-risk/aliases/prod/history").json()["items"]
    assert (move["actor"], move["from_version"], move["to_version"]) == ("svc:developer", None, 1)
    assert actors(registry, "change.approved") == ["svc:approver"]
    assert actors(registry, "model.alias_moved") == ["svc:developer"]
    assert call(registry, "viewer", "GET", f"/change-requests/{request['id']}").json()["state"] == "executed"
    executed = call(registry, "viewer", "GET", "/change-requests", params={"state": ["executed"]}).json()["items"]
    assert [r["id"] for r in executed] == [request["id"]]


def test_requests_are_rejected_revoked_and_break_glass_reviewed(registry: dict[str, Any]) -> None:
    call(registry, "risk-officer", "POST", "/policies", content=POLICY, headers=YAML)
    promote = {"ref": "credit-risk@1", "alias": "prod", "justification": "ship it"}
    request = call(registry, "developer", "POST", "/promotions", json=promote).json()["change_request"]
    own = call(registry, "approver", "POST", f"/change-requests/{request['id']}/revoke", json={"reason": "not mine"})
    assert own.status_code == 403 and own.json()["message"].startswith("only the requester (svc:developer) or an admin")
    revoked = call(registry, "developer", "POST", f"/change-requests/{request['id']}/revoke", json={"reason": "wait"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    again = call(registry, "developer", "POST", "/promotions", json=promote).json()["change_request"]
    assert again["id"] != request["id"]
    rejected = call(registry, "approver", "POST", f"/change-requests/{again['id']}/reject",
                    json={"justification": "no monitoring yet"})  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    emergency = call(registry, "admin", "POST", "/promotions",
                     json={"ref": "credit-risk@2", "alias": "prod", "break_glass": True,
                           "justification": "INC-4: v1 is serving garbage"})  # fmt: skip
    assert emergency.status_code == 200, emergency.text
    body = emergency.json()
    assert (body["status"], body["break_glass"], body["gate"]["decision"]) == ("promoted", True, "blocked")
    review = body["change_request"]
    assert review["review_due_at"] is not None
    refused = call(registry, "approver", "POST", f"/change-requests/{review['id']}/review", json={"justification": "x"})
    assert refused.status_code == 403
    reviewed = call(registry, "risk-officer", "POST", f"/change-requests/{review['id']}/review",
                    json={"justification": "the incident justified it"})  # fmt: skip
    assert reviewed.status_code == 200 and reviewed.json()["reviewed_by"] == "svc:risk-officer"
    bare = call(registry, "developer", "POST", "/promotions", json={**promote, "ref": "credit-risk@1", "bogus": 1})
    assert bare.status_code == 422


def test_a_gate_weighs_policy_documents_sent_with_it(registry: dict[str, Any]) -> None:
    """What `charter gate --server --policy policies/` sends: the repository's documents, named by their files."""
    call(registry, "risk-officer", "POST", "/policies", content=POLICY, headers=YAML)
    lenient = POLICY.replace(">= 0.82", ">= 0.5").replace("below 0.82", "below 0.5")
    sent = {"ref": "credit-risk@2", "stage": "prod", "policies": [{"file": "policies/deploy.yaml", "text": lenient}]}
    gate = call(registry, "developer", "POST", "/gates", json=sent)
    assert gate.status_code == 201, gate.text
    verdicts = {v["rule"]: (v["verdict"], v["file"]) for v in gate.json()["verdicts"]}
    assert verdicts["auc-baseline"] == ("pass", "policies/deploy.yaml")  # the document replaced the stored policy
    stored = call(registry, "developer", "POST", "/gates", json={"ref": "credit-risk@2", "stage": "prod"}).json()
    assert {v["rule"]: v["verdict"] for v in stored["verdicts"]}["auc-baseline"] == "fail"

    broken = {**sent, "policies": [{"file": "policies/broken.yaml", "text": "kind: Policy\nspec: [\n"}]}
    refused = call(registry, "developer", "POST", "/gates", json=broken)
    assert refused.status_code == 400 and refused.json()["code"] == "policy.parse_error"
    assert refused.json()["message"].startswith("policy policies/broken.yaml line 3: not valid YAML")
    many = {**sent, "policies": [{"file": f"p{i}.yaml", "text": lenient} for i in range(101)]}
    assert call(registry, "developer", "POST", "/gates", json=many).status_code == 422
    nul = {**sent, "policies": [{"file": "p.yaml", "text": "kind: Policy\x00"}]}
    assert call(registry, "developer", "POST", "/gates", json=nul).status_code == 422
    history = call(registry, "viewer", "GET", "/gates", params={"ref": "credit-risk@2"}).json()["items"]
    assert [g["decision"] for g in history] == ["blocked", "pending_approval"]  # refused requests stored nothing


def test_a_policy_change_is_proposed_then_applied_once_approved(server: dict[str, Any]) -> None:
    body = {"policies": [{"file": "policies/high-risk-deploy.yaml", "text": POLICY}], "justification": "new rules"}
    asked = call(server, "developer", "POST", "/policies:propose", json=body)
    assert asked.status_code == 200, asked.text
    request = asked.json()["change_request"]
    assert (asked.json()["status"], request["kind"], request["requester"]) == (
        "pending_approval", "policy_change", "svc:developer",
    )  # fmt: skip
    assert call(server, "viewer", "GET", "/policies").json()["items"] == []
    assert call(server, "viewer", "POST", "/policies:propose", json=body).status_code == 403
    approved = call(server, "risk-officer", "POST", f"/change-requests/{request['id']}/approve",
                    json={"justification": "reviewed", "payload_sha256": request["payload_sha256"]})  # fmt: skip
    assert approved.status_code == 200, approved.text
    applied = call(server, "developer", "POST", "/policies:propose", json={**body, "justification": ""}).json()
    assert (applied["status"], applied["change_request"]["state"]) == ("applied", "executed")
    assert applied["changes"] == [{"name": "high-risk-deploy", "action": "create", "version": 1,
                                   "origin": "policies/high-risk-deploy.yaml"}]  # fmt: skip
    again = call(server, "developer", "POST", "/policies:propose", json=body)
    assert again.status_code == 409 and "already hold exactly these texts" in again.json()["message"]
    assert call(server, "developer", "POST", "/policies:propose", json={"justification": "x"}).status_code == 400
