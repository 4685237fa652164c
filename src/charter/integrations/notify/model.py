"""What is sent (:class:`Notification`), where to (:class:`Target`), and how a send fails (:class:`DeliveryError`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, get_args
from urllib.parse import urlsplit

from charter.clock import ensure_utc, format_timestamp
from charter.errors import InvalidInput

Event = Literal[
    "incident.triggered",
    "incident.acknowledged",
    "incident.escalated",
    "incident.mitigated",
    "incident.resolved",
    "remediation.requested",
    "remediation.executed",
]
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["triggered", "acknowledged", "mitigated", "resolved"]
Kind = Literal["webhook", "slack", "alertmanager", "pagerduty", "email"]

EVENTS: tuple[Event, ...] = get_args(Event)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
STATUSES: tuple[Status, ...] = get_args(Status)
KINDS: tuple[Kind, ...] = get_args(Kind)

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Notification:
    """One thing that happened to an incident, as every receiver is told about it."""

    event: Event
    incident_id: str
    title: str
    severity: Severity
    status: Status
    model: str
    monitor: str
    summary: str
    occurred_at: datetime
    dedup_key: str
    url: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    escalation_level: int = 0
    runbook_url: str = ""

    def __post_init__(self) -> None:
        _one_of("notification event", self.event, EVENTS)
        _one_of("notification severity", self.severity, SEVERITIES)
        _one_of("notification status", self.status, STATUSES)
        if not self.incident_id or not self.dedup_key:
            raise InvalidInput("a notification needs an incident_id and a dedup_key")
        if self.occurred_at.tzinfo is None:
            raise InvalidInput(
                f"notification occurred_at {self.occurred_at.isoformat()} has no timezone; give it in UTC"
            )
        if isinstance(self.escalation_level, bool) or not isinstance(self.escalation_level, int):
            raise InvalidInput(f"notification escalation_level must be an integer, not {self.escalation_level!r}")
        if self.escalation_level < 0:
            raise InvalidInput(f"notification escalation_level must be 0 or more, not {self.escalation_level}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.labels.items()):
            raise InvalidInput("notification labels must map strings to strings")
        object.__setattr__(self, "occurred_at", ensure_utc(self.occurred_at))
        object.__setattr__(self, "labels", dict(self.labels))

    @property
    def resolved(self) -> bool:
        return self.status == "resolved" or self.event == "incident.resolved"

    @property
    def notification_id(self) -> str:
        """Stable across retries of the same notification, so receivers can drop duplicates."""
        key = f"{self.incident_id}\n{self.event}\n{self.escalation_level}\n{format_timestamp(self.occurred_at)}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.notification_id,
            "event": self.event,
            "incident_id": self.incident_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "model": self.model,
            "monitor": self.monitor,
            "summary": self.summary,
            "occurred_at": format_timestamp(self.occurred_at),
            "dedup_key": self.dedup_key,
            "url": self.url,
            "runbook_url": self.runbook_url,
            "labels": dict(sorted(self.labels.items())),
            "escalation_level": self.escalation_level,
        }


@dataclass(frozen=True)
class Target:
    """Where notifications go. Secrets stay out of ``repr`` so they never reach a log line."""

    kind: Kind
    name: str
    url: str = ""
    secret: str = field(default="", repr=False)
    routing_key: str = field(default="", repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    smtp_host: str = ""
    smtp_port: int = 25
    email_from: str = ""
    email_to: tuple[str, ...] = ()
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)


class DeliveryError(Exception):
    """A receiver did not take a notification. ``retryable`` says whether trying again may help.

    Not a :class:`charter.errors.CharterError`: it is not a user's mistake and never reaches a
    user as such; :func:`charter.integrations.notify.deliver` turns it into a failed Delivery.
    """

    def __init__(
        self, message: str, *, retryable: bool, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class Notifier(Protocol):
    """Sends one notification to one target; raises :class:`DeliveryError` when the receiver did not take it."""

    def send(self, notification: Notification) -> None: ...


def _one_of(what: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{what} {value!r} is not one of {', '.join(allowed)}")


# --- targets from YAML -------------------------------------------------------------------------

_COMMON = ("kind", "name", "timeout")
_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": (*_COMMON, "url", "secret", "headers"),
    "slack": (*_COMMON, "url", "headers"),
    "alertmanager": (*_COMMON, "url", "headers"),
    "pagerduty": (*_COMMON, "url", "routing_key", "headers"),
    "email": (*_COMMON, "host", "port", "from", "to", "starttls", "username", "password"),
}


def target_from_dict(data: Mapping[str, object], where: str) -> Target:
    """A :class:`Target` from a plain mapping as read from YAML; errors name ``where`` and the field.

    ``{kind: webhook, name: ops, url: https://..., secret: ...}``; ``name`` defaults to the kind.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: a target must be a mapping with a kind, not {_type(data)}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"{where}: field 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    known = _FIELDS[str(kind)]
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise InvalidInput(f"{where}: unknown field {unknown[0]!r} for {_a(kind)} target (known: {', '.join(known)})")
    name = _string(data, "name", where, default=str(kind))
    timeout = data.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise InvalidInput(f"{where}: field 'timeout' must be a number of seconds above 0 and at most 300")
    if kind == "email":
        return _email_target(data, where, name, float(timeout))
    default_url = PAGERDUTY_URL if kind == "pagerduty" else None
    url = _url(data, where, default=default_url)
    headers = data.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidInput(f"{where}: field 'headers' must map header names to strings")
    routing_key = _string(data, "routing_key", where, default=None if kind == "pagerduty" else "")
    return Target(
        kind=kind,
        name=name,
        url=url,
        secret=_string(data, "secret", where, default=""),
        routing_key=routing_key,
        headers=dict(headers),
        timeout=float(timeout),
    )


def _email_target(data: Mapping[str, object], where: str, name: str, timeout: float) -> Target:
    starttls = data.get("starttls", False)
    if not isinstance(starttls, bool):
        raise InvalidInput(f"{where}: field 'starttls' must be true or false, not {starttls!r}")
    port = data.get("port", 587 if starttls else 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInput(f"{where}: field 'port' must be a port number (1-65535), not {port!r}")
    sender = _string(data, "from", where, default=None)
    if "@" not in sender:
        raise InvalidInput(f"{where}: field 'from' must be an email address, not {sender!r}")
    to = data.get("to")
    recipients = [to] if isinstance(to, str) else to
    if not isinstance(recipients, list) or not recipients:
        raise InvalidInput(f"{where}: field 'to' must be an email address or a non-empty list of them")
    for address in recipients:
        if not isinstance(address, str) or "@" not in address:
            raise InvalidInput(f"{where}: field 'to' has {address!r}, which is not an email address")
    username = _string(data, "username", where, default="")
    password = _string(data, "password", where, default="")
    if bool(username) != bool(password):
        raise InvalidInput(f"{where}: fields 'username' and 'password' go together; give both or neither")
    return Target(
        kind="email",
        name=name,
        timeout=timeout,
        smtp_host=_string(data, "host", where, default=None),
        smtp_port=port,
        email_from=sender,
        email_to=tuple(recipients),
        starttls=starttls,
        username=username,
        password=password,
    )


def _string(data: Mapping[str, object], key: str, where: str, *, default: str | None) -> str:
    value = data.get(key)
    if value is None:
        if default is None:
            raise InvalidInput(f"{where}: field {key!r} is required for {_a(data.get('kind'))} target")
        return default
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: field {key!r} must be a non-empty string, not {_type(value)}")
    return value


def _url(data: Mapping[str, object], where: str, *, default: str | None) -> str:
    url = _string(data, "url", where, default=default)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{where}: field 'url' must be an http:// or https:// URL with a host")
    return url


def _a(kind: object) -> str:
    return f"an {kind}" if str(kind)[:1] in ("a", "e", "i", "o", "u") else f"a {kind}"


def _type(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value) if len(value) < 40 else "a string"
    return type(value).__name__
