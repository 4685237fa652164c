"""Alertmanager's webhook (payload version "4") read into :class:`InboundAlert` s with Charter dedup keys.

The incidents service opens or updates one incident per dedup key; a ``resolved`` alert
resolves it. The key is derived from the alert's label set only (as Alertmanager's own
fingerprint is), so the same alert maps to the same incident whichever Alertmanager sent it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from charter.clock import format_timestamp
from charter.errors import InvalidInput
from charter.integrations.notify.model import Severity

AlertStatus = Literal["firing", "resolved"]
WEBHOOK_VERSION = "4"

#: Severity label values seen in Prometheus rule sets, mapped to Charter severities.
SEVERITY_LABELS: dict[str, Severity] = {
    "critical": "critical",
    "page": "critical",
    "high": "high",
    "error": "high",
    "major": "high",
    "medium": "medium",
    "warning": "medium",
    "warn": "medium",
    "minor": "low",
    "low": "low",
    "info": "low",
    "none": "low",
}

# Go writes RFC 3339 with up to nine fraction digits; Python reads six.
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class InboundAlert:
    """One alert from an Alertmanager webhook notification."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str
    generator_url: str
    receiver: str
    group_key: str
    external_url: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def dedup_key(self) -> str:
        """``alertmanager:<32 hex>``: SHA-256 of the sorted label set, stable for the life of the alert."""
        canonical = json.dumps(self.labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "alertmanager:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    @property
    def severity(self) -> Severity:
        """The ``severity`` label as a Charter severity (unknown or missing: medium)."""
        return SEVERITY_LABELS.get(self.labels.get("severity", "").strip().lower(), "medium")

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "name": self.name,
            "severity": self.severity,
            "dedup_key": self.dedup_key,
            "labels": dict(sorted(self.labels.items())),
            "annotations": dict(sorted(self.annotations.items())),
            "starts_at": format_timestamp(self.starts_at),
            "ends_at": None if self.ends_at is None else format_timestamp(self.ends_at),
            "fingerprint": self.fingerprint,
            "generator_url": self.generator_url,
            "receiver": self.receiver,
            "group_key": self.group_key,
            "external_url": self.external_url,
        }


def parse_alertmanager_webhook(
    payload: Mapping[str, object], *, where: str = "alertmanager webhook"
) -> list[InboundAlert]:
    """The alerts of one Alertmanager webhook notification; a malformed payload is an error naming the field."""
    if not isinstance(payload, Mapping):
        raise InvalidInput(f"{where}: the body must be a JSON object, not {type(payload).__name__}")
    version = payload.get("version")
    if version != WEBHOOK_VERSION:
        raise InvalidInput(
            f"{where}: field 'version' must be {WEBHOOK_VERSION!r} (Alertmanager's webhook format), not {version!r}"
        )
    _status(payload.get("status"), where, "status")
    receiver = _optional_string(payload, "receiver", where)
    group_key = _optional_string(payload, "groupKey", where)
    external_url = _optional_string(payload, "externalURL", where)
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput(f"{where}: field 'alerts' must be a list, not {type(alerts).__name__}")
    found = []
    for index, alert in enumerate(alerts):
        at = f"{where}: alerts[{index}]"
        if not isinstance(alert, Mapping):
            raise InvalidInput(f"{at} must be an object, not {type(alert).__name__}")
        labels = _strings(alert.get("labels"), at, "labels", required=True)
        if not labels:
            raise InvalidInput(f"{at}.labels is empty; an alert needs at least its alertname")
        found.append(
            InboundAlert(
                status=_status(alert.get("status"), at, "status", dotted=True),
                labels=labels,
                annotations=_strings(alert.get("annotations"), at, "annotations", required=False),
                starts_at=_time(alert.get("startsAt"), at, "startsAt"),
                ends_at=_time_or_none(alert.get("endsAt"), at),
                fingerprint=_optional_string(alert, "fingerprint", at, dotted=True),
                generator_url=_optional_string(alert, "generatorURL", at, dotted=True),
                receiver=receiver,
                group_key=group_key,
                external_url=external_url,
            )
        )
    return found


def _field(at: str, name: str, dotted: bool) -> str:
    return f"{at}.{name}" if dotted else f"{at}: field {name!r}"


def _status(value: object, at: str, name: str, *, dotted: bool = False) -> AlertStatus:
    if value == "firing":
        return "firing"
    if value == "resolved":
        return "resolved"
    raise InvalidInput(f"{_field(at, name, dotted)} must be 'firing' or 'resolved', not {value!r}")


def _optional_string(data: Mapping[str, object], key: str, at: str, *, dotted: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{_field(at, key, dotted)} must be a string, not {type(value).__name__}")
    return value


def _strings(value: object, at: str, name: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{at}.{name} must be an object of strings, not {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInput(f"{at}.{name}.{key} must be a string, not {type(item).__name__}")
    return dict(value)


def _time(value: object, at: str, name: str) -> datetime:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f"{at}.{name} must be an RFC 3339 time such as 2026-01-01T12:00:00Z, not {value!r}")
    seconds, fraction, offset = match.groups()
    text = f"{seconds}.{(fraction or '0')[:6]:0<6}{'+00:00' if offset == 'Z' else offset}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{at}.{name} is not a valid time: {value!r}") from None


def _time_or_none(value: object, at: str) -> datetime | None:
    """``endsAt``: absent, empty or Go's zero time (``0001-01-01T00:00:00Z``) mean "not ended"."""
    if value is None or value == "":
        return None
    ended = _time(value, at, "endsAt")
    return None if ended.year == 1 else ended
