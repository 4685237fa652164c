"""REST API: monitors run on demand, incidents handled, and remediation under approval."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import charter
from charter.clock import format_timestamp
from charter.services import incidents
from charter.services.context import open_context
from charter.services.monitors import define_monitor, monitor_from_spec
from tests.server.conftest import auth

OPEN_GATE = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: open-gate}
spec:
  appliesTo: {stage: [prod]}
  rules:
    - name: evaluated
      expr: "true"
"""


def call(server: dict[str, Any], role: str, method: str, path: str, **options: Any) -> httpx.Response:
    headers = {**auth(server["tokens"][role]), **options.pop("headers", {})}
    return server["client"].request(method, f"/api/v1{path}", headers=headers, **options)


@pytest.fixture
def served(server: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """credit-risk@1 then @2 promoted to prod through an open gate, and a monitor on each of prod and @1."""
    call(server, "developer", "POST", "/models",
         json={"name": "credit-risk", "task": "binary_classification", "risk_tier": "high"})  # fmt: skip
    call(server, "admin", "POST", "/policies", content=OPEN_GATE, headers={"Content-Type": "application/yaml"})
    for number in (1, 2):
        (tmp_path / f"m{number}").write_bytes(f"weights {number}".encode())
        call(
            server, "developer", "POST", "/models/credit-risk/versions", json={"artifact": str(tmp_path / f"m{number}")}
        )
        moved = call(server, "developer", "POST", "/promotions", json={"ref": f"credit-risk@{number}", "alias": "prod"})
        assert moved.json()["status"] == "promoted", moved.text
    with open_context(server["settings"], clock=server["clock"]) as context:
        for name, spec in (
            ("credit-risk-drift", {"target": "prod", "kind": "data_drift", "warn": 0.3, "critical": 0.5}),
            ("credit-risk-volume", {"target": "@1", "kind": "volume", "warn": 500}),
        ):
            define_monitor(
                context, monitor_from_spec(name, {"model": "credit-risk", "window": {"every": "1h"}, **spec})
            )
    return server


def test_a_monitor_runs_on_demand_and_its_breach_becomes_an_incident(served: dict[str, Any]) -> None:
    clock = served["clock"]
    with charter.connect(served["settings"].home, database_url=served["settings"].database_url, clock=clock) as cx:
        cx.log_decisions("credit-risk@1", np.ones((120, 2)), [1] * 120)
        assert cx.flush(timeout=30)
    listed = call(served, "viewer", "GET", "/monitors", params={"model": "credit-risk"}).json()["items"]
    assert [m["name"] for m in listed] == ["credit-risk-drift", "credit-risk-volume"]
    assert call(served, "viewer", "GET", "/monitors/credit-risk-volume").json()["spec"]["kind"] == "volume"
    at = format_timestamp(clock.now() + timedelta(hours=1))
    run = call(served, "developer", "POST", "/monitors/credit-risk-volume/runs", json={"at": at})
    assert run.status_code == 200, run.text
    result = run.json()
    assert (result["status"], result["rows"], result["value"], result["incident"]) == ("warning", 120, 120.0, "INC-1")
    again = call(served, "developer", "POST", "/monitors/credit-risk-volume/runs", json={"at": at}).json()
    assert again["skipped"] is True  # a window is computed once
    points = call(served, "viewer", "GET", "/monitors/credit-risk-volume/series",
                  params={"metric": "volume.decisions"}).json()["items"]  # fmt: skip
    assert [(p["value"], p["status"]) for p in points] == [(120.0, "warning")]
    assert call(served, "viewer", "POST", "/monitors/credit-risk-volume/runs", json={}).status_code == 403
    assert call(served, "viewer", "GET", "/monitors/nothing").status_code == 404

    incident = call(served, "viewer", "GET", "/incidents/INC-1").json()
    assert (incident["monitor"], incident["status"], incident["severity"]) == ("credit-risk-volume", "triggered", "low")
    assert incident["timeline"][0]["action"] == "incident.triggered"
    acked = call(served, "approver", "POST", "/incidents/INC-1/ack", json={"note": "looking"})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    twice = call(served, "approver", "POST", "/incidents/INC-1/ack", json={})
    assert twice.status_code == 409 and twice.json()["message"] == (
        "INC-1 is acknowledged; it can be acknowledged only when triggered"
    )
    assigned = call(served, "developer", "POST", "/incidents/1/assign", json={"principal": "user:alice"})
    assert assigned.json()["assignee"] == "user:alice"
    no_note = call(served, "developer", "POST", "/incidents/INC-1/resolve", json={"note": ""})
    assert no_note.status_code == 422
    resolved = call(served, "risk-officer", "POST", "/incidents/INC-1/resolve", json={"note": "traffic is back"})
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"] is not None
    steps = call(served, "viewer", "GET", f"/incidents/{incident['id']}").json()["timeline"]
    actors = {s["action"]: s["actor"] for s in steps}
    assert (actors["incident.acknowledged"], actors["incident.assigned"], actors["incident.resolved"]) == (
        "svc:approver", "svc:developer", "svc:risk-officer",
    )  # fmt: skip
    assert [i["ref"] for i in call(served, "viewer", "GET", "/incidents", params={"open": True}).json()["items"]] == []
    assert call(served, "viewer", "POST", "/incidents/INC-1/ack", json={}).status_code == 403
    draft = call(served, "viewer", "GET", "/incidents/INC-1/postmortem").json()
    assert (draft["incident"], draft["format"]) == ("INC-1", "markdown")
    assert draft["text"].startswith("# Postmortem INC-1: volume on credit-risk")
    assert "incident.resolved" in draft["text"] and "svc:risk-officer" in draft["text"]
    page = call(served, "viewer", "GET", "/incidents/INC-1/postmortem", params={"format": "html"}).json()["text"]
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page  # the volume series, drawn inline
    assert call(served, "viewer", "GET", "/incidents/INC-1/postmortem", params={"format": "pdf"}).status_code == 422
    assert call(served, "viewer", "GET", "/incidents/INC-9/postmortem").status_code == 404


def test_a_rollback_is_requested_approved_and_carried_out(served: dict[str, Any]) -> None:
    with open_context(served["settings"], clock=served["clock"]) as context:
        watched = monitor_from_spec("credit-risk-drift", {
            "model": "credit-risk", "target": "prod", "kind": "data_drift", "window": {"every": "1h"}, "warn": 0.3,
            "critical": 0.5,
        })  # fmt: skip
        opened = incidents.raise_alert(
            context, model="credit-risk", dedup_key="monitor:credit-risk-drift", title="drift on credit-risk:prod",
            severity="high", details={"status": "critical", "value": 0.61}, monitor=watched,
        )  # fmt: skip
    ref = opened.ref
    listed = call(served, "viewer", "GET", "/incidents", params={"status": "triggered"}).json()["items"]
    assert [i["ref"] for i in listed] == [ref]
    retrain = call(served, "developer", "POST", f"/incidents/{ref}/retrain", json={"justification": "drift"})
    assert retrain.status_code == 400 and "declares no retraining" in retrain.json()["message"]
    asked = call(served, "developer", "POST", f"/incidents/{ref}/rollback", json={"justification": "v2 drifts"})
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert (body["action"], body["status"], body["request"]["payload"]["to_version"]) == (
        "rollback", "pending_approval", 1,
    )  # fmt: skip
    request_id = body["request"]["id"]
    approved = call(served, "approver", "POST", f"/change-requests/{request_id}/approve", json={"justification": "ok"})
    assert approved.json()["state"] == "approved"
    done = call(served, "developer", "POST", f"/incidents/{ref}/rollback", json={"justification": "approved"}).json()
    assert (done["status"], done["result"]["to_version"], done["request"]["state"]) == ("executed", 1, "executed")
    assert call(served, "viewer", "GET", "/models/credit-risk/aliases/prod").json()["version"] == 1
    assert call(served, "viewer", "GET", f"/incidents/{ref}").json()["status"] == "mitigated"
    quiet = call(
        served, "developer", "POST", f"/incidents/{ref}/suppress", json={"seconds": 3600, "justification": "x"}
    )
    assert quiet.status_code == 200 and quiet.json()["status"] == "pending_approval"
    too_long = call(served, "developer", "POST", f"/incidents/{ref}/suppress",
                    json={"seconds": 8 * 86400, "justification": "x"})  # fmt: skip
    assert too_long.status_code == 422
    assert call(served, "viewer", "GET", "/incidents/INC-99").json()["message"] == (
        "no incident 'INC-99' (`charter incidents list` shows them)"
    )
    assert call(served, "viewer", "GET", "/incidents/INC-x").status_code == 422
