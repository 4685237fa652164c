"""Payloads and notifiers for Slack, Alertmanager (API v2) and PagerDuty (Events API v2)."""

from __future__ import annotations

import re
from datetime import timedelta

from charter.clock import format_timestamp
from charter.integrations.notify.model import Notification, Target
from charter.integrations.notify.webhook import dumps, post_json
from charter.version import version

ALERTNAME = "CharterIncident"

_HEADER_LIMIT = 150  # Slack: a header block's plain text
_TEXT_LIMIT = 3000  # Slack: a section's text
_PD_SUMMARY_LIMIT = 1024  # PagerDuty: payload.summary

_PAGERDUTY_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
_SEVERITY_EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:"}
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Slack -------------------------------------------------------------------------------------


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notification: Notification) -> dict[str, object]:
    """An incoming-webhook message: ``text`` (the fallback for notifications) and Block Kit ``blocks``."""
    n = notification
    severity = n.severity.upper()
    what = n.event.split(".", 1)[1]
    text = f"[{severity}] {n.title} ({n.model} / {n.monitor}): {what}"
    fields = [
        ("Severity", f"{_SEVERITY_EMOJI.get(n.severity, ':white_circle:')} {severity}"),
        ("Status", n.status),
        ("Model", n.model),
        ("Monitor", n.monitor),
    ]
    if n.escalation_level:
        fields.append(("Escalation level", str(n.escalation_level)))
    blocks: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"[{severity}] {n.title}", _HEADER_LIMIT)}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value)}"} for name, value in fields],
        },
    ]
    if n.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(n.summary), _TEXT_LIMIT)}})
    links = [f"<{n.url}|Open incident {_mrkdwn(n.incident_id)}>"] if n.url else []
    if n.runbook_url:
        links.append(f"<{n.runbook_url}|Runbook>")
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": " · ".join(links)}})
    context = f"{n.event} · incident {n.incident_id} · {format_timestamp(n.occurred_at)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(context)}]})
    return {"text": _mrkdwn(text), "blocks": blocks}


class SlackNotifier:
    """POSTs a Slack-compatible message to an incoming-webhook URL (Slack, Mattermost, Rocket.Chat ...)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def send(self, notification: Notification) -> None:
        body = dumps(slack_payload(notification))
        post_json(self.target.url, body, headers=self.target.headers, timeout=self.target.timeout)


# --- Alertmanager ------------------------------------------------------------------------------


#: How long a firing incident stays active in Alertmanager without another post from Charter.
ALERT_TTL = timedelta(days=7)


def alertmanager_alerts(notification: Notification) -> list[dict[str, object]]:
    """The body of ``POST /api/v2/alerts``: one alert whose labels identify the incident.

    The labels are the alert's identity in Alertmanager, so they hold only what is stable for the
    incident; what changes (status, event, escalation level) goes into annotations. A resolved
    incident carries ``endsAt`` = the time it was resolved, which is how Alertmanager resolves it.

    A firing alert carries ``endsAt`` = :data:`ALERT_TTL` after the event. Without one,
    Alertmanager would end it after its ``resolve_timeout`` (5 minutes by default), as it expects
    Prometheus's re-sends; Charter posts on every change of the incident instead (trigger,
    acknowledgement, escalation, resolution), so an incident open for hours stays active there
    until Charter resolves it, and one whose resolution never arrives ends after the TTL.
    """
    n = notification
    labels = {_LABEL_NAME.sub("_", key): value for key, value in n.labels.items() if key}
    labels.update(alertname=ALERTNAME, severity=n.severity, model=n.model, monitor=n.monitor, incident=n.incident_id)
    annotations = {
        "summary": n.title,
        "description": n.summary,
        "status": n.status,
        "event": n.event,
        "escalation_level": str(n.escalation_level),
        "dedup_key": n.dedup_key,
    }
    if n.url:
        annotations["url"] = n.url
    if n.runbook_url:
        annotations["runbook_url"] = n.runbook_url
    alert: dict[str, object] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": format_timestamp(n.occurred_at),
    }
    if n.url:
        alert["generatorURL"] = n.url
    alert["endsAt"] = format_timestamp(n.occurred_at if n.resolved else n.occurred_at + ALERT_TTL)
    return [alert]


class AlertmanagerNotifier:
    """POSTs the incident as an alert to Alertmanager's API v2 at ``<url>/api/v2/alerts``."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def send(self, notification: Notification) -> None:
        url = self.target.url.rstrip("/") + "/api/v2/alerts"
        body = dumps(alertmanager_alerts(notification))
        post_json(url, body, headers=self.target.headers, timeout=self.target.timeout)


# --- PagerDuty ---------------------------------------------------------------------------------


def pagerduty_action(notification: Notification) -> str:
    """``trigger``, ``acknowledge`` or ``resolve``: from the event where it says, else from the status."""
    by_event = {
        "incident.triggered": "trigger",
        "incident.escalated": "trigger",
        "incident.acknowledged": "acknowledge",
        "incident.resolved": "resolve",
    }
    by_status = {
        "triggered": "trigger",
        "acknowledged": "acknowledge",
        "mitigated": "acknowledge",
        "resolved": "resolve",
    }
    return by_event.get(notification.event) or by_status[notification.status]


def pagerduty_event(notification: Notification, routing_key: str) -> dict[str, object]:
    """An Events API v2 event; ``payload``, ``links`` and ``client`` go with ``trigger`` only (PagerDuty's rule)."""
    n = notification
    action = pagerduty_action(n)
    event: dict[str, object] = {"routing_key": routing_key, "event_action": action, "dedup_key": n.dedup_key}
    if action != "trigger":
        return event
    event["payload"] = {
        "summary": _cut(f"[{n.severity.upper()}] {n.title}", _PD_SUMMARY_LIMIT),
        "source": n.model,
        "severity": _PAGERDUTY_SEVERITY[n.severity],
        "timestamp": format_timestamp(n.occurred_at),
        "component": n.monitor,
        "group": n.model,
        "class": n.event,
        "custom_details": {
            "incident_id": n.incident_id,
            "event": n.event,
            "status": n.status,
            "severity": n.severity,
            "model": n.model,
            "monitor": n.monitor,
            "summary": n.summary,
            "escalation_level": n.escalation_level,
            "labels": dict(sorted(n.labels.items())),
        },
    }
    links = [{"href": n.url, "text": f"Charter incident {n.incident_id}"}] if n.url else []
    if n.runbook_url:
        links.append({"href": n.runbook_url, "text": "Runbook"})
    event["links"] = links
    event["client"] = f"Charter {version()}"
    if n.url:
        event["client_url"] = n.url
    return event


class PagerDutyNotifier:
    """POSTs an Events API v2 event to the target URL (default: PagerDuty's enqueue endpoint)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def send(self, notification: Notification) -> None:
        body = dumps(pagerduty_event(notification, self.target.routing_key))
        post_json(self.target.url, body, headers=self.target.headers, timeout=self.target.timeout)
