"""Charter → a real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 → Charter's inbound parser.

Alertmanager routes every alert to a webhook receiver run by the test, so the same run checks the
API v2 alerts Charter posts and the webhook payloads that parse_alertmanager_webhook reads.
Under CI=true a missing binary fails the tests; elsewhere they are skipped
(scripts/test-services.sh installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from charter.integrations.notify import deliver, notifier_for, parse_alertmanager_webhook, target_from_dict
from charter.integrations.notify.receivers import ALERT_TTL
from tests.conftest import IN_CI
from tests.integrations.test_notify_http import Receiver, Request, free_port, notification, start_receiver

BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: charter
  group_by: [incident]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: charter
    webhook_configs:
      - url: {url}/alertmanager
        send_resolved: true
"""


def require_alertmanager() -> str:
    found = BINARY if Path(BINARY).exists() else shutil.which("prometheus-alertmanager")
    if found is not None:
        return found
    message = f"{BINARY} is missing (apt-get install prometheus-alertmanager; scripts/test-services.sh does)"
    if IN_CI:
        pytest.fail(f"Alertmanager is required under CI=true: {message}")
    pytest.skip(message)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def webhooks() -> Iterator[Receiver]:
    receiver, stop = start_receiver()
    yield receiver
    stop()


@contextmanager
def running_alertmanager(config: str, home: Path) -> Iterator[str]:
    """Debian's Alertmanager with ``config`` on a free 127.0.0.1 port, ready; yields its URL."""
    binary = require_alertmanager()
    (home / "alertmanager.yml").write_text(config)
    url = f"http://127.0.0.1:{free_port()}"
    log = (home / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={home / 'alertmanager.yml'}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Alertmanager did not become ready at {url}:\n{(home / 'alertmanager.log').read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def alertmanager(webhooks: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_alertmanager(CONFIG.format(url=webhooks.url), tmp_path_factory.mktemp("alertmanager")) as url:
        yield url


def alerts_for(url: str, incident: str) -> list[dict[str, Any]]:
    return [alert for alert in get_json(url + "/api/v2/alerts") if alert["labels"].get("incident") == incident]


def webhook_alerts(requests: list[Request], incident: str, status: str) -> list[dict[str, Any]]:
    return [
        alert
        for request in requests
        if request.path == "/alertmanager"
        for alert in request.json()["alerts"]
        if alert["labels"].get("incident") == incident and alert["status"] == status
    ]


def test_an_incident_fires_and_resolves_in_alertmanager(alertmanager: str, webhooks: Receiver) -> None:
    target = target_from_dict({"kind": "alertmanager", "name": "am", "url": alertmanager + "/"}, "am")
    triggered = notification(
        incident_id="INC-AM-1",
        occurred_at=datetime.now(UTC),
        labels={"team": "risk", "cost-centre": "42"},
        runbook_url="https://runbooks.example/drift",
    )
    delivery = deliver(notifier_for(target), triggered, attempts=1)
    assert delivery.ok, delivery.error

    (alert,) = alerts_for(alertmanager, "INC-AM-1")
    assert alert["labels"] == {
        "alertname": "CharterIncident",
        "severity": "high",
        "model": "credit-risk",
        "monitor": "income-drift",
        "incident": "INC-AM-1",
        "team": "risk",
        "cost_centre": "42",
    }
    assert alert["annotations"] == {
        "summary": "Data drift on credit-risk",
        "description": triggered.summary,
        "status": "triggered",
        "event": "incident.triggered",
        "escalation_level": "0",
        "dedup_key": "credit-risk/income-drift",
        "url": "https://charter.example/incidents/INC-7",
        "runbook_url": "https://runbooks.example/drift",
    }
    assert alert["status"]["state"] == "active"
    assert alert["generatorURL"] == "https://charter.example/incidents/INC-7"
    starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
    assert abs((starts - triggered.occurred_at).total_seconds()) < 0.001
    # Active until Charter resolves it, not for Alertmanager's resolve_timeout (5 minutes) only.
    ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
    assert abs((ends - triggered.occurred_at - ALERT_TTL).total_seconds()) < 0.001

    # Alertmanager passes it on to its receiver: Charter's inbound parser reads that payload.
    requests = webhooks.wait_for(lambda seen: bool(webhook_alerts(seen, "INC-AM-1", "firing")))
    firing_payload = next(r.json() for r in requests if webhook_alerts([r], "INC-AM-1", "firing"))
    (firing,) = parse_alertmanager_webhook(firing_payload)
    assert firing.status == "firing" and firing.name == "CharterIncident" and firing.severity == "high"
    assert firing.labels == alert["labels"] and firing.ends_at is None
    assert firing.fingerprint == alert["fingerprint"] and firing.receiver == "charter"

    resolved_at = datetime.now(UTC)
    resolved = notification(
        incident_id="INC-AM-1",
        event="incident.resolved",
        status="resolved",
        occurred_at=resolved_at,
        labels={"team": "risk", "cost-centre": "42"},
    )
    assert deliver(notifier_for(target), resolved, attempts=1).ok
    assert alerts_for(alertmanager, "INC-AM-1") == []  # Alertmanager lists only alerts that have not ended

    requests = webhooks.wait_for(lambda seen: bool(webhook_alerts(seen, "INC-AM-1", "resolved")))
    payload = next(r.json() for r in requests if webhook_alerts([r], "INC-AM-1", "resolved"))
    (ended,) = parse_alertmanager_webhook(payload)
    assert ended.status == "resolved" and ended.dedup_key == firing.dedup_key
    assert ended.starts_at == firing.starts_at  # the same alert, merged: it started when it was triggered
    assert ended.ends_at is not None and abs((ended.ends_at - resolved_at).total_seconds()) < 0.001
    assert ended.ends_at <= datetime.now(UTC)


def test_alertmanager_acknowledgements_update_the_same_alert(alertmanager: str) -> None:
    target = target_from_dict({"kind": "alertmanager", "url": alertmanager}, "am")
    first = datetime.now(UTC)
    assert deliver(notifier_for(target), notification(incident_id="INC-AM-2", occurred_at=first), attempts=1).ok
    acknowledged = notification(
        incident_id="INC-AM-2", event="incident.acknowledged", status="acknowledged", occurred_at=datetime.now(UTC)
    )
    assert deliver(notifier_for(target), acknowledged, attempts=1).ok
    (alert,) = alerts_for(alertmanager, "INC-AM-2")
    assert alert["annotations"]["status"] == "acknowledged"
    assert abs((datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")) - first).total_seconds()) < 0.001


def test_a_wrong_alertmanager_path_is_a_clear_error_that_is_not_retried(alertmanager: str) -> None:
    target = target_from_dict({"kind": "alertmanager", "url": alertmanager + "/nothing-here"}, "am")
    delivery = deliver(notifier_for(target), notification(occurred_at=datetime.now(UTC)), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 404
    assert delivery.error is not None and delivery.error.startswith(f"HTTP 404 from {alertmanager}")
