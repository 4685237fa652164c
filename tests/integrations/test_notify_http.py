"""Webhook, Slack and PagerDuty notifiers against a real HTTP server on 127.0.0.1, and deliver()'s retries."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from charter.clock import FixedClock
from charter.integrations.notify import (
    SCHEMA,
    Notification,
    Target,
    WebhookNotifier,
    deliver,
    notifier_for,
    target_from_dict,
    verify_signature,
)
from charter.version import version

SENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SENT_AT = int(SENT.timestamp())
SECRET = "s3cret-for-tests"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What a real HTTP server on 127.0.0.1 was sent, and the answers it gives (default 200)."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    delay: float = 0.0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, *replies: int | tuple[int, dict[str, str], bytes]) -> None:
        for reply in replies:
            self.replies.append((reply, {}, b"") if isinstance(reply, int) else reply)

    def wait_for(self, found: Callable[[list[Request]], bool], timeout: float = 15.0) -> list[Request]:
        with self.changed:
            if not self.changed.wait_for(lambda: found(self.requests), timeout):
                pytest.fail(f"the receiver did not get the expected requests in {timeout} s: {self.requests}")
            return list(self.requests)


def start_receiver() -> tuple[Receiver, Callable[[], None]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(receiver.delay)
            with receiver.changed:
                receiver.requests.append(Request("POST", self.path, dict(self.headers.items()), body))
                status, headers, reply = receiver.replies.pop(0) if receiver.replies else (200, {}, b"ok")
                receiver.changed.notify_all()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return receiver, stop


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started, stop = start_receiver()
    yield started
    stop()


def notification(**changes: Any) -> Notification:
    base = Notification(
        event="incident.triggered",
        incident_id="INC-7",
        title="Data drift on credit-risk",
        severity="high",
        status="triggered",
        model="credit-risk",
        monitor="income-drift",
        summary="PSI of income is 0.41 (critical above 0.25) over the last 10,000 decisions.",
        occurred_at=datetime(2026, 3, 1, 11, 58, 30, tzinfo=UTC),
        dedup_key="credit-risk/income-drift",
        url="https://charter.example/incidents/INC-7",
        labels={"team": "risk"},
        escalation_level=0,
    )
    return dataclasses.replace(base, **changes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# webhook --------------------------------------------------------------------------------------------------------


def test_the_webhook_posts_the_notification_signed(receiver: Receiver) -> None:
    config = {"kind": "webhook", "name": "ops", "url": receiver.url + "/hooks/charter", "secret": SECRET}
    target = target_from_dict({**config, "headers": {"X-Team": "risk"}}, "targets.yaml target 'ops'")
    assert deliver(notifier_for(target, clock=FixedClock(SENT)), notification(), sleep=pytest.fail).ok
    (request,) = receiver.requests
    assert request.path == "/hooks/charter"
    assert request.json() == {
        "schema": SCHEMA,
        "charter_version": version(),
        "sent_at": SENT_AT,
        "id": notification().notification_id,
        "event": "incident.triggered",
        "incident_id": "INC-7",
        "title": "Data drift on credit-risk",
        "severity": "high",
        "status": "triggered",
        "model": "credit-risk",
        "monitor": "income-drift",
        "summary": "PSI of income is 0.41 (critical above 0.25) over the last 10,000 decisions.",
        "occurred_at": "2026-03-01T11:58:30.000000Z",
        "dedup_key": "credit-risk/income-drift",
        "url": "https://charter.example/incidents/INC-7",
        "runbook_url": "",
        "labels": {"team": "risk"},
        "escalation_level": 0,
    }
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Charter-Event"] == "incident.triggered"
    assert headers["X-Charter-Timestamp"] == str(SENT_AT)
    assert headers["X-Team"] == "risk"
    assert headers["User-Agent"] == f"charter/{version()}"
    signature = headers["X-Charter-Signature"]
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(request.body, signature, SECRET, headers["X-Charter-Timestamp"], now=SENT_AT + 10)
    assert verify_signature(request.body, signature, SECRET)


def test_a_tampered_or_replayed_webhook_does_not_verify(receiver: Receiver) -> None:
    target = Target(kind="webhook", name="ops", url=receiver.url, secret=SECRET)
    WebhookNotifier(target, clock=FixedClock(SENT)).send(notification())
    (request,) = receiver.requests
    body, signature, stamp = request.body, request.headers["X-Charter-Signature"], str(SENT_AT)
    assert verify_signature(body, signature, SECRET, stamp, now=SENT_AT)
    tampered = body.replace(b'"severity":"high"', b'"severity":"low"')
    assert tampered != body
    assert not verify_signature(tampered, signature, SECRET, stamp, now=SENT_AT)
    assert not verify_signature(body, signature, "another-secret", stamp, now=SENT_AT)
    assert not verify_signature(body, "sha256=" + "0" * 64, SECRET, stamp, now=SENT_AT)
    assert not verify_signature(body, signature, SECRET, stamp, tolerance=300, now=SENT_AT + 301)
    assert verify_signature(body, signature, SECRET, stamp, tolerance=300, now=SENT_AT + 299)
    # A replay with a fresh timestamp header: the signed body still says when it was sent.
    assert not verify_signature(body, signature, SECRET, str(SENT_AT + 3600), now=SENT_AT + 3600)
    assert not verify_signature(body, signature, SECRET, "not-a-number", now=SENT_AT)


def test_a_webhook_without_a_secret_is_not_signed(receiver: Receiver) -> None:
    WebhookNotifier(Target(kind="webhook", name="open", url=receiver.url)).send(notification())
    (request,) = receiver.requests
    assert "X-Charter-Signature" not in request.headers
    assert request.json()["schema"] == "charter.notification.v1"


# Slack ----------------------------------------------------------------------------------------------------------


def test_the_slack_payload_has_text_and_blocks(receiver: Receiver) -> None:
    target = target_from_dict({"kind": "slack", "url": receiver.url + "/services/T0/B0/XXXX"}, "slack")
    sent = notification(summary="drift <b> & co", escalation_level=2, runbook_url="https://runbooks/drift")
    assert deliver(notifier_for(target), sent, sleep=pytest.fail).ok
    (request,) = receiver.requests
    assert request.path == "/services/T0/B0/XXXX"
    payload = request.json()
    assert payload["text"] == "[HIGH] Data drift on credit-risk (credit-risk / income-drift): triggered"
    header, facts, summary, links, context = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "[HIGH] Data drift on credit-risk"}}
    assert facts == {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": "*Severity*\n:large_orange_circle: HIGH"},
            {"type": "mrkdwn", "text": "*Status*\ntriggered"},
            {"type": "mrkdwn", "text": "*Model*\ncredit-risk"},
            {"type": "mrkdwn", "text": "*Monitor*\nincome-drift"},
            {"type": "mrkdwn", "text": "*Escalation level*\n2"},
        ],
    }
    assert summary == {"type": "section", "text": {"type": "mrkdwn", "text": "drift &lt;b&gt; &amp; co"}}
    assert links["text"]["text"] == (
        "<https://charter.example/incidents/INC-7|Open incident INC-7> · <https://runbooks/drift|Runbook>"
    )
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == "incident.triggered · incident INC-7 · 2026-03-01T11:58:30.000000Z"


def test_a_slack_error_names_the_host_but_not_the_secret_path(receiver: Receiver) -> None:
    receiver.answer((404, {}, b"no_service"))
    target = Target(kind="slack", name="chat", url=receiver.url + "/services/T0/B0/SECRETTOKEN")
    delivery = deliver(notifier_for(target), notification(), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 404
    assert delivery.error == f"HTTP 404 from {receiver.url}: no_service"
    assert "SECRETTOKEN" not in json.dumps(delivery.to_dict())


# PagerDuty ------------------------------------------------------------------------------------------------------


def test_pagerduty_gets_an_events_v2_trigger(receiver: Receiver) -> None:
    receiver.answer((202, {"Content-Type": "application/json"}, b'{"status":"success","dedup_key":"x"}'))
    target = target_from_dict(
        {"kind": "pagerduty", "routing_key": "R0UT1NGKEY", "url": receiver.url + "/v2/enqueue"}, "pd"
    )
    sent = notification(severity="critical", runbook_url="https://runbooks/drift")
    assert deliver(notifier_for(target), sent, sleep=pytest.fail).ok
    (request,) = receiver.requests
    assert request.path == "/v2/enqueue"
    assert request.json() == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "trigger",
        "dedup_key": "credit-risk/income-drift",
        "payload": {
            "summary": "[CRITICAL] Data drift on credit-risk",
            "source": "credit-risk",
            "severity": "critical",
            "timestamp": "2026-03-01T11:58:30.000000Z",
            "component": "income-drift",
            "group": "credit-risk",
            "class": "incident.triggered",
            "custom_details": {
                "incident_id": "INC-7",
                "event": "incident.triggered",
                "status": "triggered",
                "severity": "critical",
                "model": "credit-risk",
                "monitor": "income-drift",
                "summary": sent.summary,
                "escalation_level": 0,
                "labels": {"team": "risk"},
            },
        },
        "links": [
            {"href": "https://charter.example/incidents/INC-7", "text": "Charter incident INC-7"},
            {"href": "https://runbooks/drift", "text": "Runbook"},
        ],
        "client": f"Charter {version()}",
        "client_url": "https://charter.example/incidents/INC-7",
    }


@pytest.mark.parametrize(
    ("event", "status", "action"),
    [
        ("incident.acknowledged", "acknowledged", "acknowledge"),
        ("incident.resolved", "resolved", "resolve"),
        ("incident.mitigated", "mitigated", "acknowledge"),
        ("remediation.executed", "resolved", "resolve"),
    ],
)
def test_pagerduty_acknowledge_and_resolve_carry_only_the_key(
    receiver: Receiver, event: str, status: str, action: str
) -> None:
    target = Target(kind="pagerduty", name="pd", url=receiver.url, routing_key="R0UT1NGKEY")
    notifier_for(target).send(notification(event=event, status=status))
    (request,) = receiver.requests
    assert request.json() == {
        "routing_key": "R0UT1NGKEY",
        "event_action": action,
        "dedup_key": "credit-risk/income-drift",
    }


@pytest.mark.parametrize(("severity", "expected"), [("low", "info"), ("medium", "warning"), ("high", "error")])
def test_pagerduty_severities(receiver: Receiver, severity: str, expected: str) -> None:
    target = Target(kind="pagerduty", name="pd", url=receiver.url, routing_key="k")
    notifier_for(target).send(notification(severity=severity))
    assert receiver.requests[0].json()["payload"]["severity"] == expected
