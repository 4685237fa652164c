"""Alertmanager's webhook into the server (issue 7): Prometheus alerts about the serving stack open, join and
resolve Charter incidents through ``POST /api/v1/alerts/alertmanager``.

The last test runs Debian's Alertmanager against a real uvicorn server: Alertmanager itself posts, with
the bearer token its configuration names, what a firing and then a resolved alert look like.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.server import create_app
from charter.services import incidents
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.tokens import create_token
from tests.browser.conftest import LiveServer
from tests.integrations.test_notify_alertmanager import running_alertmanager
from tests.server.conftest import auth

ROUTE = "/api/v1/alerts/alertmanager"
ALERT = {
    "status": "firing",
    "labels": {"alertname": "ModelServerHighLatency", "job": "serving", "severity": "critical", "model": "credit-risk"},
    "annotations": {"summary": "p99 above 800 ms", "runbook_url": "https://runbooks.example/latency"},
    "startsAt": "2026-01-01T00:00:00.123456789Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus/graph",
    "fingerprint": "abc",
}
PAYLOAD = {
    "version": "4", "status": "firing", "receiver": "charter", "groupKey": "{}:{}", "alerts": [ALERT],
    "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
}  # fmt: skip


def test_firing_opens_then_joins_and_resolved_resolves(server: dict[str, Any]) -> None:
    client, token = server["client"], auth(server["tokens"]["developer"])
    opened = client.post(ROUTE, json=PAYLOAD, headers=token)
    assert opened.status_code == 200, opened.text
    [incident] = opened.json()["items"]
    assert (incident["ref"], incident["model"], incident["severity"], incident["status"]) == (
        "INC-1", "credit-risk", "critical", "triggered",
    )  # fmt: skip
    assert incident["title"] == "ModelServerHighLatency: p99 above 800 ms"
    assert incident["runbook"] == "https://runbooks.example/latency"
    assert incident["details"]["labels"] == ALERT["labels"]

    again = client.post(ROUTE, json=PAYLOAD, headers=token).json()["items"]
    assert [(i["ref"], i["alerts"]) for i in again] == [("INC-1", 2)]

    resolved = {**PAYLOAD, "status": "resolved",
                "alerts": [{**ALERT, "status": "resolved", "endsAt": "2026-01-01T00:10:00Z"}]}  # fmt: skip
    [closed] = client.post(ROUTE, json=resolved, headers=token).json()["items"]
    assert (closed["ref"], closed["status"]) == ("INC-1", "resolved")

    # Every step is on the ledger as the token's principal.
    timeline = client.get("/api/v1/incidents/INC-1", headers=token).json()["timeline"]
    assert [step["actor"] for step in timeline] == ["svc:developer"] * len(timeline)
    assert timeline[0]["action"] == "incident.triggered"
    assert timeline[-1]["action"] == "incident.resolved"


def test_a_resolved_alert_without_an_open_incident_changes_nothing(server: dict[str, Any]) -> None:
    resolved = {**PAYLOAD, "status": "resolved", "alerts": [{**ALERT, "status": "resolved"}]}
    answer = server["client"].post(ROUTE, json=resolved, headers=auth(server["tokens"]["admin"]))
    assert answer.status_code == 200 and answer.json() == {"items": []}
    assert server["client"].get("/api/v1/incidents", headers=auth(server["tokens"]["admin"])).json()["items"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"version": "3", "alerts": []}, "field 'version' must be '4'"),
        ({**PAYLOAD, "alerts": [{**ALERT, "startsAt": "yesterday"}]}, "alerts[0].startsAt must be an RFC 3339"),
        ({**PAYLOAD, "alerts": [ALERT, {**ALERT, "labels": "x"}]}, "alerts[1].labels"),
    ],
)
def test_a_malformed_notification_is_refused_whole(server: dict[str, Any], payload: Any, message: str) -> None:
    """The second alert is bad: the first one must not have opened an incident either."""
    token = auth(server["tokens"]["developer"])
    answer = server["client"].post(ROUTE, json=payload, headers=token)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "input.invalid" and message in answer.json()["message"]
    assert server["client"].get("/api/v1/incidents", headers=token).json()["items"] == []


def test_an_unknown_escalation_policy_is_refused_before_anything_opens(server: dict[str, Any]) -> None:
    token = auth(server["tokens"]["developer"])
    answer = server["client"].post(ROUTE, json=PAYLOAD, headers=token, params={"escalation": "nobody"})
    assert answer.status_code == 404 and "no escalation policy 'nobody'" in answer.json()["message"]
    assert server["client"].get("/api/v1/incidents", headers=token).json()["items"] == []


def test_a_body_that_is_not_an_object_is_a_422(server: dict[str, Any]) -> None:
    answer = server["client"].post(ROUTE, json=[PAYLOAD], headers=auth(server["tokens"]["developer"]))
    assert answer.status_code == 422


def test_a_viewer_token_cannot_open_incidents(server: dict[str, Any]) -> None:
    answer = server["client"].post(ROUTE, json=PAYLOAD, headers=auth(server["tokens"]["viewer"]))
    assert answer.status_code == 403


RECEIVER = """\
route:
  receiver: charter
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: charter
    webhook_configs:
      - url: {url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {token_file}
"""


def _post_alert(alertmanager: str, *, ends_at: datetime | None = None) -> None:
    alert: dict[str, Any] = {
        "labels": {"alertname": "ModelServerDown", "job": "serving", "severity": "page", "model": "credit-risk"},
        "annotations": {"summary": "no scrape for 2 minutes"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(
        alertmanager + "/api/v2/alerts", data=json.dumps([alert]).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def _wait_for(settings: Settings, status: str) -> incidents.Incident:
    deadline = time.monotonic() + 20
    while True:
        with open_context(settings) as context:
            found = incidents.list_incidents(context)
        if found and found[0].status == status:
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no incident became {status!r} within 20 s; incidents: {[i.to_dict() for i in found]}")
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_real_alertmanager_opens_and_resolves_an_incident(settings: Settings, tmp_path: Path) -> None:
    clock = FixedClock()
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        _, secret = create_token(context, "svc:alertmanager", roles=("developer",), name="alertmanager")
    token_file = tmp_path / "charter-token"
    token_file.write_text(secret)
    with LiveServer(create_app(settings)) as charter:
        config = RECEIVER.format(url=charter.url, token_file=token_file)
        (tmp_path / "am").mkdir()
        with running_alertmanager(config, tmp_path / "am") as alertmanager:
            _post_alert(alertmanager)
            opened = _wait_for(settings, "triggered")
            assert (opened.model, opened.severity) == ("credit-risk", "critical")
            assert opened.title == "ModelServerDown: no scrape for 2 minutes"
            assert opened.details["labels"]["alertname"] == "ModelServerDown"

            _post_alert(alertmanager, ends_at=datetime.now(UTC))
            closed = _wait_for(settings, "resolved")
            assert closed.ref == opened.ref
    with open_context(settings) as context:
        actors = {step["actor"] for step in incidents.timeline(context, opened.ref)}
    assert actors == {"svc:alertmanager"}
