"""Incidents on SQLite and PostgreSQL: dedup, escalation on the clock to a real webhook, remediation under approval."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from charter.clock import FixedClock, format_timestamp
from charter.config import Settings
from charter.errors import Conflict, Forbidden, InvalidInput
from charter.integrations.notify.webhook import verify_signature
from charter.services import access, approvals, audit, incidents, policies, remediation
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.escalation import define_policy, define_target, escalate_due
from charter.services.home import init_home
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.promotion import promote
from charter.services.registry import ModelSpec, get_model, register_model, register_version

ALWAYS = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: open-gate}
spec:
  appliesTo: {stage: [prod]}
  rules:
    - name: evaluated
      expr: "true"
"""


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append({"path": self.path, "body": json.loads(body), "raw": body,
                                       "headers": dict(self.headers)})  # fmt: skip
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def events(self, path: str) -> list[str]:
        return [r["body"]["event"] for r in self.received if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def context(
    settings: Settings, clock: FixedClock, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Context]:
    monkeypatch.setenv("OPS_SECRET", "s3cret")
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        access.grant(opened, "user:tester", "risk-officer")
        access.grant(opened, "local:ann", "approver")
        register_model(opened, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        for number in (1, 2):
            (tmp_path / f"m{number}").write_bytes(f"weights {number}".encode())
            register_version(opened, "credit-risk", digest_path(tmp_path / f"m{number}"))
        (tmp_path / "open-gate.yaml").write_text(ALWAYS)
        policies.add_policies(opened, [tmp_path / "open-gate.yaml"])
        for number in (1, 2):
            assert promote(opened, f"credit-risk@{number}", "prod").status == "promoted"
        define_target(opened, "ops", {"kind": "webhook", "url": receiver.url("/ops"), "secret_env": "OPS_SECRET"})
        define_target(opened, "lead", {"kind": "webhook", "url": receiver.url("/lead")})
        define_policy(opened, "on-call", [{"targets": ["ops"]}, {"targets": ["lead"], "after": "15m"}])
        yield opened


def monitor(context: Context, **spec: Any) -> Any:
    found = monitor_from_spec("credit-risk-drift", {
        "model": "credit-risk", "target": "prod", "kind": "data_drift", "window": {"every": "1h"}, "warn": 0.3,
        "critical": 0.5, "escalation": "on-call", **spec,
    })  # fmt: skip
    define_monitor(context, found)
    return found


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


def test_alerts_deduplicate_and_escalate_on_the_clock(context: Context, clock: FixedClock, receiver: Receiver) -> None:
    watched = monitor(context)
    first = incidents.alert(context, watched, status="warning", value=0.35, window_end="w1", run_id="r1")
    assert (first.ref, first.severity, first.status, first.alerts) == ("INC-1", "low", "triggered", 1)
    assert "drift.share_drifted 0.35 is above 0.3" in first.title and "# " in first.runbook
    assert receiver.events("/ops") == ["incident.triggered"] and receiver.events("/lead") == []
    again = incidents.alert(context, watched, status="critical", value=0.6, window_end="w2", run_id="r2")
    assert (again.ref, again.severity, again.alerts) == ("INC-1", "high", 2)  # joined, and raised
    assert receiver.events("/ops") == ["incident.triggered"]  # joining does not page again
    clock.advance(timedelta(minutes=14))
    assert escalate_due(context) == []
    clock.advance(timedelta(minutes=2))
    [escalated] = escalate_due(context)
    assert (escalated.ref, escalated.escalation_level) == ("INC-1", 1)
    assert receiver.events("/lead") == ["incident.escalated"]
    assert escalate_due(context) == []  # no further level
    incidents.acknowledge(context, "INC-1", note="looking")
    assert (
        receiver.events("/ops")[-1] == "incident.acknowledged"
        and receiver.events("/lead")[-1] == "incident.acknowledged"
    )
    with pytest.raises(Conflict, match=r"INC-1 is acknowledged; it can be acknowledged only when triggered"):
        incidents.acknowledge(context, "INC-1")
    with pytest.raises(InvalidInput, match=r"resolving an incident needs a note"):
        incidents.resolve(context, "1", note=" ")
    incidents.resolve(context, "INC-1", note="upstream feed fixed")
    actions = [step["action"] for step in incidents.timeline(context, "INC-1")]
    assert actions[:3] == ["incident.triggered", "incident.notified", "incident.alerted"]
    assert actions.count("incident.notified") == 6 and actions[-1] == "incident.notified"  # 1 + 1 + 2 + 2
    notified = [
        s["data"]["delivery"] for s in incidents.timeline(context, "INC-1") if s["action"] == "incident.notified"
    ]
    assert all(d["ok"] for d in notified)
    fresh = incidents.alert(context, watched, status="critical", value=0.7, window_end="w3", run_id="r3")
    assert fresh.ref == "INC-2"  # the first is resolved: a new breach opens a new incident
    assert audit.verify_ledger(context).ok


def test_rollback_needs_an_approval_then_moves_the_alias(context: Context, receiver: Receiver) -> None:
    watched = monitor(context)
    found = incidents.alert(context, watched, status="critical", value=0.6, window_end="w", run_id="r")
    asked = remediation.rollback(context, found.ref, justification="drift after the v2 release")
    assert asked.status == "pending_approval" and asked.request.payload["to_version"] == 1
    assert receiver.events("/ops") == ["incident.triggered", "remediation.requested"]
    assert remediation.rollback(context, found.ref, justification="again").request.id == asked.request.id
    assert receiver.events("/ops").count("remediation.requested") == 1  # asked once, told once
    assert get_model(context, "credit-risk").aliases == {"prod": 2}
    approvals.approve(as_actor(context, "local:ann"), asked.request.id, justification="rollback is safe")
    done = remediation.rollback(context, found.ref, justification="")
    assert done.status == "executed" and done.result == {"alias": "prod", "from_version": 2, "to_version": 1}
    assert get_model(context, "credit-risk").aliases == {"prod": 1}
    assert incidents.get_incident(context, found.ref).status == "mitigated"
    actions = [step["action"] for step in incidents.timeline(context, found.ref)]
    assert {"incident.remediation_requested", "change.approved", "change.executed", "incident.remediated",
            "incident.mitigated"} <= set(actions)  # fmt: skip
    assert "remediation.executed" in receiver.events("/ops")


def test_the_safe_zone_rolls_back_at_once(context: Context) -> None:
    watched = monitor(context, options={"auto_rollback": "critical"})
    incidents.alert(context, watched, status="warning", value=0.35, window_end="w1", run_id="r1")
    assert get_model(context, "credit-risk").aliases == {"prod": 2}  # a warning is outside the safe zone
    incidents.resolve(context, "INC-1", note="noise")
    found = incidents.alert(context, watched, status="critical", value=0.9, window_end="w2", run_id="r2")
    assert get_model(context, "credit-risk").aliases == {"prod": 1}
    assert incidents.get_incident(context, found.ref).status == "mitigated"
    [executed] = approvals.list_requests(context, kind="rollback")
    assert (executed.state, executed.requester, executed.break_glass) == ("executed", "charter:safe-zone", True)


def test_a_breach_that_grows_into_the_safe_zone_rolls_back_once(context: Context) -> None:
    watched = monitor(context, options={"auto_rollback": "critical"})
    found = incidents.alert(context, watched, status="warning", value=0.35, window_end="w1", run_id="r1")
    assert get_model(context, "credit-risk").aliases == {"prod": 2}
    grown = incidents.alert(context, watched, status="critical", value=0.7, window_end="w2", run_id="r2")
    assert grown.ref == found.ref and grown.status == "mitigated"
    assert get_model(context, "credit-risk").aliases == {"prod": 1}
    incidents.alert(context, watched, status="critical", value=0.8, window_end="w3", run_id="r3")
    assert get_model(context, "credit-risk").aliases == {"prod": 1}  # once per incident, not version after version
    assert len(approvals.list_requests(context, kind="rollback")) == 1


def test_declaring_a_safe_zone_needs_a_risk_officer_or_an_admin(context: Context) -> None:
    developer = as_actor(context, "local:dev")
    with pytest.raises(Forbidden, match=r"declaring or changing a safe zone \(a monitor's auto_rollback\) needs"):
        monitor(developer, options={"auto_rollback": "critical"})
    monitor(developer, options={})  # a monitor without one is anybody's to declare
    monitor(context, options={"auto_rollback": "critical"})
    monitor(developer, options={"auto_rollback": "critical"}, warn=0.25)  # changing other fields keeps it: allowed
    with pytest.raises(Forbidden, match=r"safe zone"):
        monitor(developer, options={"auto_rollback": "warning"})


def test_retrain_and_suppress(context: Context, tmp_path: Path, clock: FixedClock, receiver: Receiver) -> None:
    import sys

    marker = tmp_path / "retrained"
    command = [
        sys.executable,
        "-c",
        f"import os, pathlib; pathlib.Path({str(marker)!r}).write_text(os.environ['CHARTER_INCIDENT'])",
    ]
    watched = monitor(context, options={"retrain_command": command})
    found = incidents.alert(context, watched, status="critical", value=0.6, window_end="w", run_id="r")
    asked = remediation.retrain(context, found.ref, justification="new data")
    approvals.approve(as_actor(context, "local:ann"), asked.request.id, justification="ok")
    done = remediation.retrain(context, found.ref, justification="")
    assert done.result["exit_code"] == 0 and marker.read_text() == "INC-1"
    with pytest.raises(InvalidInput, match=r"at most 7 days"):
        remediation.suppress(context, found.ref, duration=timedelta(days=8), justification="x")
    asked = remediation.suppress(context, found.ref, duration=timedelta(hours=2), justification="known issue")
    approvals.approve(as_actor(context, "local:ann"), asked.request.id, justification="ok")
    remediation.suppress(context, found.ref, duration=timedelta(hours=2), justification="")
    silenced = incidents.get_incident(context, found.ref)
    until = silenced.details["suppressed_until"]
    assert until == format_timestamp(clock.now() + timedelta(hours=2)) and silenced.next_escalation_at == until
    clock.advance(timedelta(hours=1))  # the second level was due 15 minutes in: suppressed
    assert incidents.escalate_due(context) == [] and receiver.events("/lead") == []
    clock.advance(timedelta(hours=1, minutes=1))  # suppression over, still unacknowledged: escalation goes on
    [escalated] = incidents.escalate_due(context)
    assert (escalated.ref, escalated.escalation_level) == (found.ref, 1)
    assert receiver.events("/lead") == ["incident.escalated"]
    plain = incidents.alert(context, monitor(context, options={}), status="critical", value=0.6, window_end="w2",
                            run_id="r2")  # fmt: skip
    with pytest.raises(InvalidInput, match=r"declares no retraining"):
        remediation.retrain(context, plain.ref, justification="x")


def test_retraining_through_the_pipelines_webhook(context: Context, receiver: Receiver) -> None:
    """options.retrain_webhook: the approved request is posted, signed with the secret the variable holds."""
    hook = {"url": receiver.url("/retrain"), "secret_env": "OPS_SECRET"}
    watched = monitor(context, options={"retrain_webhook": hook})
    found = incidents.alert(context, watched, status="critical", value=0.6, window_end="w", run_id="r")
    asked = remediation.retrain(context, found.ref, justification="drifted after the holiday")
    assert asked.status == "pending_approval" and asked.request.payload["webhook"] == hook
    assert receiver.events("/retrain") == []  # nothing is sent before the approval
    approvals.approve(as_actor(context, "local:ann"), asked.request.id, justification="retrain on May data")
    done = remediation.retrain(context, found.ref, justification="")
    assert done.result == {"webhook": receiver.url("").rstrip("/"), "delivered": True, "status": 200}
    [request] = [r for r in receiver.received if r["path"] == "/retrain"]
    sent, headers = request["body"], request["headers"]
    assert (sent["schema"], headers["X-Charter-Event"]) == ("charter.retrain.v1", "retrain.requested")
    assert verify_signature(request["raw"], headers["X-Charter-Signature"], "s3cret", headers["X-Charter-Timestamp"])
    assert (sent["incident"], sent["model"], sent["change_request"], sent["approved_by"]) == (
        found.ref, "credit-risk", asked.request.id, ["local:ann"],
    )  # fmt: skip
    with pytest.raises(InvalidInput, match=r"retrain_webhook must be a URL or \{url: ..., secret_env: NAME\}"):
        remediation.retrain(context, incidents.alert(
            context, monitor(context, options={"retrain_webhook": {"url": "x", "secret": "s"}}), status="critical",
            value=0.6, window_end="w2", run_id="r2").ref, justification="x")  # fmt: skip


def test_alertmanager_alerts_open_and_resolve_incidents(context: Context) -> None:
    alert = {
        "status": "firing", "labels": {"alertname": "HighLatency", "severity": "critical", "model": "credit-risk"},
        "annotations": {"summary": "p99 above 800 ms"}, "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "abc",
    }  # fmt: skip
    payload = {"version": "4", "status": "firing", "receiver": "charter", "groupKey": "{}:{}", "alerts": [alert],
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am"}  # fmt: skip
    [opened] = incidents.from_alertmanager(context, payload, escalation="on-call")
    assert (opened.ref, opened.model, opened.severity, opened.title) == (
        "INC-1", "credit-risk", "critical", "HighLatency: p99 above 800 ms",
    )  # fmt: skip
    assert incidents.from_alertmanager(context, payload)[0].alerts == 2
    resolved = {**payload, "status": "resolved", "alerts": [{**alert, "status": "resolved",
                                                              "endsAt": "2026-01-01T00:10:00Z"}]}  # fmt: skip
    [closed] = incidents.from_alertmanager(context, resolved)
    assert closed.status == "resolved"
    with pytest.raises(InvalidInput):
        incidents.from_alertmanager(context, {"version": "4"})
