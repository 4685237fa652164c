"""Notifications, targets from YAML mappings, the notifier registry, deliver()'s rules, and the docs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import charter.integrations.notify as notify
from charter.clock import FixedClock
from charter.errors import InvalidInput
from charter.integrations.notify import (
    EVENTS,
    KINDS,
    NOTIFIERS,
    PAGERDUTY_URL,
    AlertmanagerNotifier,
    DeliveryError,
    EmailNotifier,
    Notification,
    PagerDutyNotifier,
    SlackNotifier,
    Target,
    WebhookNotifier,
    alertmanager_alerts,
    backoff_delay,
    deliver,
    notifier_for,
    target_from_dict,
)
from tests.integrations.test_notify_http import notification

ROOT = Path(__file__).resolve().parents[2]
WHERE = "targets.yaml target 'ops'"


def invalid(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    assert info.value.code == "input.invalid"
    return info.value.message


# notifications --------------------------------------------------------------------------------------------------


def test_a_notification_is_kept_in_utc_and_serialises() -> None:
    paris = timezone(timedelta(hours=1))
    sent = notification(occurred_at=datetime(2026, 3, 1, 12, 58, 30, tzinfo=paris))
    assert sent.occurred_at == datetime(2026, 3, 1, 11, 58, 30, tzinfo=UTC) and sent.occurred_at.tzinfo is UTC
    data = sent.to_dict()
    assert data["occurred_at"] == "2026-03-01T11:58:30.000000Z"
    assert list(data) == [
        "id",
        "event",
        "incident_id",
        "title",
        "severity",
        "status",
        "model",
        "monitor",
        "summary",
        "occurred_at",
        "dedup_key",
        "url",
        "runbook_url",
        "labels",
        "escalation_level",
    ]


def test_the_notification_id_is_stable_and_tells_events_apart() -> None:
    assert notification().notification_id == notification().notification_id
    assert len(notification().notification_id) == 32
    ids = {notification(event=event).notification_id for event in EVENTS}
    assert len(ids) == len(EVENTS)
    assert notification(escalation_level=1).notification_id != notification(escalation_level=2).notification_id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event": "incident.exploded"}, "notification event 'incident.exploded' is not one of incident.triggered, "),
        ({"severity": "severe"}, "notification severity 'severe' is not one of low, medium, high, critical"),
        ({"status": "open"}, "notification status 'open' is not one of triggered, acknowledged, mitigated, resolved"),
        ({"occurred_at": datetime(2026, 1, 1)}, "notification occurred_at 2026-01-01T00:00:00 has no timezone"),
        ({"escalation_level": -1}, "notification escalation_level must be 0 or more, not -1"),
        ({"escalation_level": True}, "notification escalation_level must be an integer, not True"),
        ({"dedup_key": ""}, "a notification needs an incident_id and a dedup_key"),
        ({"labels": {"team": 3}}, "notification labels must map strings to strings"),
    ],
)
def test_a_bad_notification_is_refused(changes: dict[str, Any], message: str) -> None:
    assert invalid(notification, **changes).startswith(message)


def test_resolved_follows_the_status_or_the_event() -> None:
    assert not notification().resolved
    assert notification(status="resolved", event="remediation.executed").resolved
    assert notification(event="incident.resolved", status="resolved").resolved
    (alert,) = alertmanager_alerts(notification(event="incident.resolved", status="resolved"))
    assert alert["endsAt"] == alert["startsAt"] == "2026-03-01T11:58:30.000000Z"
    (alert,) = alertmanager_alerts(notification())
    assert alert["endsAt"] == "2026-03-08T11:58:30.000000Z"  # ALERT_TTL (7 days) on: not resolve_timeout


# targets --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"kind": "webhook", "name": "ops", "url": "https://hooks.example/charter", "secret": "k"},
            Target(kind="webhook", name="ops", url="https://hooks.example/charter", secret="k"),
        ),
        (
            {"kind": "slack", "url": "https://hooks.slack.com/services/T/B/X", "timeout": 3},
            Target(kind="slack", name="slack", url="https://hooks.slack.com/services/T/B/X", timeout=3.0),
        ),
        (
            {
                "kind": "alertmanager",
                "name": "am",
                "url": "http://alertmanager:9093",
                "headers": {"Authorization": "x"},
            },
            Target(kind="alertmanager", name="am", url="http://alertmanager:9093", headers={"Authorization": "x"}),
        ),
        (
            {"kind": "pagerduty", "name": "pd", "routing_key": "R0UT1NG"},
            Target(kind="pagerduty", name="pd", url=PAGERDUTY_URL, routing_key="R0UT1NG"),
        ),
        (
            {"kind": "email", "host": "smtp.example", "from": "charter@example.org", "to": ["a@example.org"]},
            Target(
                kind="email",
                name="email",
                smtp_host="smtp.example",
                smtp_port=25,
                email_from="charter@example.org",
                email_to=("a@example.org",),
            ),
        ),
        (
            {
                "kind": "email",
                "host": "smtp.example",
                "from": "charter@example.org",
                "to": "a@example.org",
                "starttls": True,
                "username": "u",
                "password": "p",
            },
            Target(
                kind="email",
                name="email",
                smtp_host="smtp.example",
                smtp_port=587,
                email_from="charter@example.org",
                email_to=("a@example.org",),
                starttls=True,
                username="u",
                password="p",
            ),
        ),
    ],
    ids=["webhook", "slack", "alertmanager", "pagerduty", "email", "email-starttls"],
)
def test_targets_from_mappings(data: dict[str, object], expected: Target) -> None:
    assert target_from_dict(data, WHERE) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["webhook"], "a target must be a mapping with a kind, not list"),
        ({"url": "https://x"}, "field 'kind' must be one of webhook, slack, alertmanager, pagerduty, email, not None"),
        (
            {"kind": "teams", "url": "https://x"},
            "field 'kind' must be one of webhook, slack, alertmanager, pagerduty, ",
        ),
        ({"kind": "webhook"}, "field 'url' is required for a webhook target"),
        ({"kind": "webhook", "url": "hooks.example/x"}, "field 'url' must be an http:// or https:// URL with a host"),
        ({"kind": "webhook", "url": "ftp://hooks.example/x"}, "field 'url' must be an http:// or https:// URL"),
        ({"kind": "webhook", "url": "https://x", "secret": ""}, "field 'secret' must be a non-empty string, not \"\""),
        ({"kind": "webhook", "url": "https://x", "secret": 42}, "field 'secret' must be a non-empty string, not int"),
        ({"kind": "webhook", "url": "https://x", "routing_key": "k"}, "unknown field 'routing_key' for a webhook "),
        ({"kind": "slack", "url": "https://x", "secret": "s"}, "unknown field 'secret' for a slack target (known: "),
        (
            {"kind": "slack", "url": "https://x", "headers": {"A": 1}},
            "field 'headers' must map header names to strings",
        ),
        ({"kind": "slack", "url": "https://x", "timeout": 0}, "field 'timeout' must be a number of seconds above 0"),
        ({"kind": "slack", "url": "https://x", "timeout": "5"}, "field 'timeout' must be a number of seconds above 0"),
        ({"kind": "pagerduty"}, "field 'routing_key' is required for a pagerduty target"),
        ({"kind": "email", "from": "c@x.org", "to": ["a@x.org"]}, "field 'host' is required for an email target"),
        ({"kind": "email", "host": "h", "to": ["a@x.org"]}, "field 'from' is required for an email target"),
        ({"kind": "email", "host": "h", "from": "charter", "to": ["a@x.org"]}, "field 'from' must be an email address"),
        ({"kind": "email", "host": "h", "from": "c@x.org"}, "field 'to' must be an email address or a non-empty list"),
        ({"kind": "email", "host": "h", "from": "c@x.org", "to": []}, "field 'to' must be an email address or a "),
        ({"kind": "email", "host": "h", "from": "c@x.org", "to": ["a@x.org", 7]}, "field 'to' has 7, which is not "),
        ({"kind": "email", "host": "h", "from": "c@x.org", "to": "a@x.org", "port": 0}, "field 'port' must be a port "),
        ({"kind": "email", "host": "h", "from": "c@x.org", "to": "a@x.org", "starttls": "yes"}, "field 'starttls' "),
        (
            {"kind": "email", "host": "h", "from": "c@x.org", "to": "a@x.org", "username": "u"},
            "fields 'username' and 'password' go together; give both or neither",
        ),
        ({"kind": "email", "host": "h", "from": "c@x.org", "to": "a@x.org", "url": "https://x"}, "unknown field 'url'"),
    ],
)
def test_bad_targets_name_the_place_and_the_field(data: Any, message: str) -> None:
    error = invalid(target_from_dict, data, WHERE)
    assert error.startswith(f"{WHERE}: {message}")


def test_a_target_error_names_every_known_field() -> None:
    error = invalid(target_from_dict, {"kind": "webhook", "url": "https://x", "sekret": "k"}, WHERE)
    assert (
        error
        == f"{WHERE}: unknown field 'sekret' for a webhook target (known: kind, name, timeout, url, secret, headers)"
    )


def test_an_error_about_the_url_does_not_repeat_it() -> None:
    error = invalid(target_from_dict, {"kind": "slack", "url": "hooks.slack.com/services/T/B/SECRETTOKEN"}, WHERE)
    assert "SECRETTOKEN" not in error


def test_secrets_stay_out_of_repr() -> None:
    text = repr(
        Target(
            kind="webhook",
            name="ops",
            url="https://x",
            secret="S1",
            routing_key="S2",
            password="S3",
            headers={"A": "S4"},
        )
    )
    assert "ops" in text and not any(secret in text for secret in ("S1", "S2", "S3", "S4"))


# registry -------------------------------------------------------------------------------------------------------


EXPECTED = {
    "webhook": WebhookNotifier,
    "slack": SlackNotifier,
    "alertmanager": AlertmanagerNotifier,
    "pagerduty": PagerDutyNotifier,
    "email": EmailNotifier,
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_its_notifier(kind: str) -> None:
    assert set(NOTIFIERS) == set(KINDS) == set(EXPECTED)
    notifier = notifier_for(Target(kind=kind, name="t", url="https://x"))  # type: ignore[arg-type]
    assert type(notifier) is EXPECTED[kind]
    assert notifier.target.name == "t"  # type: ignore[attr-defined]


def test_a_kind_missing_from_the_registry_is_a_clear_error() -> None:
    error = invalid(notifier_for, Target(kind="slack", name="chat", url="https://x"), registry={})
    assert error == "target 'chat': no notifier for kind 'slack' (known: )"


def test_the_webhook_notifier_uses_the_clock_it_is_given() -> None:
    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    notifier = notifier_for(Target(kind="webhook", name="t", url="https://x"), clock=clock)
    assert isinstance(notifier, WebhookNotifier) and notifier._clock is clock


# deliver --------------------------------------------------------------------------------------------------------


class Scripted:
    """A notifier (not an HTTP mock: deliver() only sees the Notifier protocol) that fails as told."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.sent = 0

    def send(self, notification: Notification) -> None:
        self.sent += 1
        if self.failures:
            raise self.failures.pop(0)


def test_a_notifier_bug_is_recorded_not_raised() -> None:
    notifier = Scripted(KeyError("template"))
    delivery = deliver(notifier, notification(), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1 and notifier.sent == 1
    assert delivery.error == "KeyError: 'template'"
    assert (delivery.kind, delivery.target) == ("custom", "Scripted")


def test_success_on_the_first_attempt_does_not_sleep() -> None:
    delivery = deliver(Scripted(), notification(), sleep=pytest.fail)
    assert delivery.ok and delivery.attempts == 1 and delivery.error is None


def test_one_attempt_means_no_retry() -> None:
    delivery = deliver(Scripted(DeliveryError("HTTP 503", retryable=True, status=503)), notification(), attempts=1)
    assert not delivery.ok and delivery.attempts == 1 and delivery.error == "HTTP 503" and delivery.status_code == 503


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "attempts must be an integer of 1 or more, not 0"),
        ({"attempts": 2.5}, "attempts must be an integer of 1 or more, not 2.5"),
        ({"base_delay": -1}, "base_delay and max_delay must not be negative (got -1, 60.0)"),
    ],
)
def test_bad_retry_options(options: dict[str, Any], message: str) -> None:
    assert invalid(deliver, Scripted(), notification(), **options) == message


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    rng = random.Random(3)
    for retry in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (retry - 1))
        delays = [backoff_delay(retry, base_delay=0.5, max_delay=30.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # the whole range is used, not only its bottom
    assert backoff_delay(1, base_delay=0, max_delay=60, rng=rng) == 0


def test_the_seed_decides_the_sleeps() -> None:
    def sleeps(seed: int) -> list[float]:
        recorded: list[float] = []
        failures = [DeliveryError("busy", retryable=True) for _ in range(4)]
        deliver(Scripted(*failures), notification(), sleep=recorded.append, rng=random.Random(seed))
        return recorded

    assert sleeps(1) == sleeps(1) != sleeps(2)
    assert len(sleeps(1)) == 4


# public surface and docs ----------------------------------------------------------------------------------------


def test_the_package_exports_a_sorted_list() -> None:
    assert notify.__all__ == sorted(notify.__all__, key=lambda name: (not name.isupper(), name))
    for name in notify.__all__:
        assert hasattr(notify, name)


def test_the_docs_describe_every_kind_event_and_header() -> None:
    docs = (ROOT / "docs" / "notifications.md").read_text()
    for kind in KINDS:
        assert f"### `{kind}`" in docs
    for event in EVENTS:
        assert f"`{event}`" in docs
    for word in ("X-Charter-Signature", "X-Charter-Timestamp", "verify_signature", "Retry-After", '"version": "4"'):
        assert word in docs
