"""Alertmanager's webhook payload (version "4") read into InboundAlerts; malformed payloads are clear errors."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from charter.errors import InvalidInput
from charter.integrations.notify import InboundAlert, parse_alertmanager_webhook

# The shape Alertmanager 0.25 posts (the test against the real binary parses what it really sends).
PAYLOAD: dict[str, Any] = json.loads(
    """
{
  "receiver": "charter",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "ModelServerHighLatency", "job": "credit-risk-serving", "instance": "10.0.0.7:8080",
                 "severity": "warning", "model": "credit-risk"},
      "annotations": {"summary": "p99 latency above 500 ms", "runbook_url": "https://runbooks.example/latency"},
      "startsAt": "2026-03-01T11:58:30.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%29&g0.tab=1",
      "fingerprint": "5c2ac6a3e1f6e3b4"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "ModelServerDown", "job": "credit-risk-serving", "severity": "critical"},
      "annotations": {},
      "startsAt": "2026-03-01T13:00:00+02:00",
      "endsAt": "2026-03-01T11:20:00.5Z",
      "generatorURL": "",
      "fingerprint": "9a3b1c2d4e5f6a7b"
    }
  ],
  "groupLabels": {"job": "credit-risk-serving"},
  "commonLabels": {"job": "credit-risk-serving"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{job=\\"credit-risk-serving\\"}",
  "truncatedAlerts": 0
}
"""
)


def test_a_real_payload_becomes_inbound_alerts() -> None:
    latency, down = parse_alertmanager_webhook(PAYLOAD)
    assert latency == InboundAlert(
        status="firing",
        labels=PAYLOAD["alerts"][0]["labels"],
        annotations={"summary": "p99 latency above 500 ms", "runbook_url": "https://runbooks.example/latency"},
        starts_at=datetime(2026, 3, 1, 11, 58, 30, 123456, tzinfo=UTC),
        ends_at=None,
        fingerprint="5c2ac6a3e1f6e3b4",
        generator_url="http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%29&g0.tab=1",
        receiver="charter",
        group_key='{}:{job="credit-risk-serving"}',
        external_url="http://alertmanager:9093",
    )
    assert latency.name == "ModelServerHighLatency" and latency.severity == "medium"
    assert down.status == "resolved" and down.severity == "critical"
    assert down.starts_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert down.ends_at == datetime(2026, 3, 1, 11, 20, 0, 500000, tzinfo=UTC)
    data = down.to_dict()
    assert data["ends_at"] == "2026-03-01T11:20:00.500000Z" and data["dedup_key"] == down.dedup_key
    assert json.loads(json.dumps(latency.to_dict()))["starts_at"] == "2026-03-01T11:58:30.123456Z"


def test_the_dedup_key_depends_on_the_label_set_only() -> None:
    (first, _) = parse_alertmanager_webhook(PAYLOAD)
    later = copy.deepcopy(PAYLOAD)
    alert = later["alerts"][0]
    alert.update(status="resolved", endsAt="2026-03-01T12:30:00Z", fingerprint="other", annotations={})
    alert["labels"] = dict(reversed(list(alert["labels"].items())))
    (again, _) = parse_alertmanager_webhook(later)
    assert again.dedup_key == first.dedup_key
    assert first.dedup_key.startswith("alertmanager:") and len(first.dedup_key) == len("alertmanager:") + 32
    alert["labels"]["instance"] = "10.0.0.8:8080"
    (other, _) = parse_alertmanager_webhook(later)
    assert other.dedup_key != first.dedup_key


@pytest.mark.parametrize(
    ("label", "severity"),
    [("critical", "critical"), ("page", "critical"), ("error", "high"), ("warning", "medium"), ("info", "low"),
     ("WARNING ", "medium"), ("weird", "medium")],
)  # fmt: skip
def test_severity_labels_map_to_charter_severities(label: str, severity: str) -> None:
    payload = copy.deepcopy(PAYLOAD)
    payload["alerts"][0]["labels"]["severity"] = label
    assert parse_alertmanager_webhook(payload)[0].severity == severity


def test_optional_fields_may_be_missing() -> None:
    minimal = {
        "version": "4",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-03-01T12:00:00Z"}],
    }
    (alert,) = parse_alertmanager_webhook(minimal)
    assert alert.annotations == {} and alert.ends_at is None and alert.fingerprint == "" and alert.receiver == ""
    assert alert.severity == "medium"
    assert parse_alertmanager_webhook({"version": "4", "status": "resolved", "alerts": []}) == []


REMOVE = object()


def broken(path: str, value: Any) -> dict[str, Any]:
    """PAYLOAD with the field at ``path`` (dotted; list positions as numbers) set to ``value``, or removed."""
    payload = copy.deepcopy(PAYLOAD)
    *parents, last = path.split(".")
    node: Any = payload
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is REMOVE:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "alertmanager webhook: the body must be a JSON object, not list"),
        (
            broken("version", "3"),
            "alertmanager webhook: field 'version' must be '4' (Alertmanager's webhook format), not '3'",
        ),
        (
            broken("version", REMOVE),
            "alertmanager webhook: field 'version' must be '4' (Alertmanager's webhook format), not None",
        ),
        (
            broken("status", "pending"),
            "alertmanager webhook: field 'status' must be 'firing' or 'resolved', not 'pending'",
        ),
        (broken("alerts", REMOVE), "alertmanager webhook: field 'alerts' must be a list, not NoneType"),
        (broken("alerts", {"a": 1}), "alertmanager webhook: field 'alerts' must be a list, not dict"),
        (broken("receiver", 5), "alertmanager webhook: field 'receiver' must be a string, not int"),
        (broken("alerts.1", "alert"), "alertmanager webhook: alerts[1] must be an object, not str"),
        (
            broken("alerts.0.status", "active"),
            "alertmanager webhook: alerts[0].status must be 'firing' or 'resolved', ",
        ),
        (broken("alerts.0.labels", REMOVE), "alertmanager webhook: alerts[0].labels must be an object of strings, "),
        (
            broken("alerts.0.labels", {}),
            "alertmanager webhook: alerts[0].labels is empty; an alert needs at least its ",
        ),
        (
            broken("alerts.0.labels.severity", 2),
            "alertmanager webhook: alerts[0].labels.severity must be a string, not int",
        ),
        (
            broken("alerts.1.annotations", ["x"]),
            "alertmanager webhook: alerts[1].annotations must be an object of strings",
        ),
        (
            broken("alerts.0.startsAt", REMOVE),
            "alertmanager webhook: alerts[0].startsAt must be an RFC 3339 time such as ",
        ),
        (
            broken("alerts.0.startsAt", "yesterday"),
            "alertmanager webhook: alerts[0].startsAt must be an RFC 3339 time ",
        ),
        (
            broken("alerts.0.startsAt", "2026-13-01T00:00:00Z"),
            "alertmanager webhook: alerts[0].startsAt is not a valid",
        ),
        (
            broken("alerts.1.endsAt", 1767225600),
            "alertmanager webhook: alerts[1].endsAt must be an RFC 3339 time such ",
        ),
        (broken("alerts.1.fingerprint", 7), "alertmanager webhook: alerts[1].fingerprint must be a string, not int"),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_alertmanager_webhook(payload)
    assert info.value.message.startswith(message), info.value.message


def test_the_caller_names_the_source() -> None:
    with pytest.raises(InvalidInput, match=r"^POST /api/v1/alertmanager: field 'version'"):
        parse_alertmanager_webhook({"status": "firing"}, where="POST /api/v1/alertmanager")
