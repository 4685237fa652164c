"""Escalation policies and notification targets: who hears about an incident, and when.

A notification target is a receiver (webhook, Slack, Alertmanager, PagerDuty, email; see
docs/notifications.md) declared by name. Secrets never enter the store or the ledger: a target
names the environment variable that holds each one (``secret_env``, ``routing_key_env``,
``password_env``), read when a notification is sent.

An escalation policy is an ordered list of levels, each with targets and a delay: level 0 is
notified when the incident opens; level ``n`` when the incident is still unacknowledged
``after`` the previous level. Acknowledging (or mitigating, resolving) stops the escalation and
tells every level reached so far. Deliveries, with their attempts and errors, are recorded on
the incident's timeline (``incident.notified``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from charter.clock import format_duration, format_timestamp, parse_duration
from charter.errors import InvalidInput, NotFound
from charter.ledger import UnitOfWork, unit_of_work
from charter.services.context import Context
from charter.services.references import check_name
from charter.store.schema import escalation_policies, incidents, notification_targets

if TYPE_CHECKING:
    from charter.integrations.notify import Event

#: Configuration keys that name an environment variable holding a secret, and the target field it fills.
SECRET_KEYS = {"secret_env": "secret", "routing_key_env": "routing_key", "password_env": "password"}
_SECRETS = frozenset(SECRET_KEYS.values())
#: Delivery retries inside a notification (each target gets this many attempts).
ATTEMPTS = 3


@dataclass(frozen=True)
class Level:
    targets: tuple[str, ...]
    after: timedelta  # since the previous level (0 for the first)

    def to_dict(self) -> dict[str, Any]:
        return {"targets": list(self.targets), "after": format_duration(self.after) if self.after else "0s"}


def check_target(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The target's configuration as stored, once it is checked as it will be sent (secrets by reference only)."""
    from charter.integrations.notify import target_from_dict

    check_name(name, "notification target", "on-call-webhook")
    given = sorted(_SECRETS & set(config))
    if given:
        raise InvalidInput(
            f"notification target {name}: {given[0]!r} would store a secret; name the environment variable that "
            f"holds it instead ({', '.join(SECRET_KEYS)})"
        )
    target_from_dict(_resolved(name, config, check_env=False), f"notification target {name}")
    return dict(config)


def define_target(context: Context, name: str, config: Mapping[str, Any]) -> str:
    """Create or change a notification target; returns create, update or unchanged."""
    stored = check_target(name, config)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        return store_target(uow, name, stored, format_timestamp(context.clock.now()))


def target_fields(connection: Connection, name: str) -> dict[str, Any] | None:
    row = connection.execute(select(notification_targets.c.config).where(notification_targets.c.name == name)).first()
    return None if row is None else dict(row.config)


def store_target(uow: UnitOfWork, name: str, config: Mapping[str, Any], now: str) -> str:
    stored = check_target(name, config)
    current = target_fields(uow.connection, name)
    if current == stored:
        return "unchanged"
    values = {"kind": str(stored.get("kind")), "config": stored, "created_by": uow.actor, "updated_at": now}
    if current is None:
        uow.execute(notification_targets.insert().values(name=name, **values))
    else:
        uow.execute(update(notification_targets).where(notification_targets.c.name == name).values(values))
    uow.record("notification_target.set", f"notification_target:{name}", stored)
    return "create" if current is None else "update"


def define_policy(context: Context, name: str, levels: Sequence[Mapping[str, Any]]) -> str:
    """Create or change an escalation policy; every target it names must exist."""
    check_name(name, "escalation policy", "on-call")
    stored = [level.to_dict() for level in parse_levels(name, levels)]
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        return store_policy(uow, name, stored, format_timestamp(context.clock.now()))


def policy_fields(connection: Connection, name: str) -> dict[str, Any] | None:
    row = connection.execute(select(escalation_policies.c.levels).where(escalation_policies.c.name == name)).first()
    return None if row is None else {"levels": list(row.levels)}


def store_policy(uow: UnitOfWork, name: str, levels: Sequence[Mapping[str, Any]], now: str) -> str:
    parsed = parse_levels(name, levels)
    known = set(uow.connection.execute(select(notification_targets.c.name)).scalars())
    for level in parsed:
        missing = [t for t in level.targets if t not in known]
        if missing:
            raise InvalidInput(
                f"escalation policy {name}: no notification target {missing[0]!r} "
                f"(targets: {', '.join(sorted(known)) or 'none yet'})"
            )
    stored = [level.to_dict() for level in parsed]
    current = policy_fields(uow.connection, name)
    if current is not None and current["levels"] == stored:
        return "unchanged"
    values = {"levels": stored, "created_by": uow.actor, "updated_at": now}
    if current is None:
        uow.execute(escalation_policies.insert().values(name=name, **values))
    else:
        uow.execute(update(escalation_policies).where(escalation_policies.c.name == name).values(values))
    uow.record("escalation_policy.set", f"escalation_policy:{name}", {"levels": stored})
    return "create" if current is None else "update"


def parse_levels(name: str, levels: Any) -> list[Level]:
    if not isinstance(levels, list | tuple) or not levels:
        raise InvalidInput(f"escalation policy {name}: levels must be a non-empty list")
    parsed = []
    for index, level in enumerate(levels):
        where = f"escalation policy {name}: levels[{index}]"
        if not isinstance(level, Mapping) or not set(level) <= {"targets", "after"}:
            raise InvalidInput(f"{where} must be {{targets: [NAME, ...], after: DURATION}}")
        targets = level.get("targets")
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            raise InvalidInput(f"{where}: targets must be a non-empty list of target names")
        after = level.get("after")
        delay = timedelta(0) if index == 0 and after in (None, 0, "0", "0s") else parse_duration(
            after if after is not None else "", f"{where}: after")  # fmt: skip
        parsed.append(Level(tuple(targets), delay))
    return parsed


def policy_levels(connection: Connection, name: str | None) -> list[Level]:
    if not name:
        return []
    row = connection.execute(select(escalation_policies).where(escalation_policies.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"no escalation policy {name!r} (declare it with charter apply, kind: EscalationPolicy)")
    return parse_levels(name, row["levels"])


def first_escalation_at(connection: Connection, policy: str | None, now: datetime) -> str | None:
    levels = policy_levels(connection, policy)
    return format_timestamp(now + levels[1].after) if len(levels) > 1 else None


def notify_level(context: Context, incident: Any, *, level: int, event: Event) -> list[dict[str, Any]]:
    """Notify the targets of ``level`` (for a trigger or an escalation) or of every level so far (otherwise)."""
    from charter.integrations.notify import Notification, deliver, notifier_for, target_from_dict
    from charter.services.incidents import record

    with context.engine.connect() as connection:
        levels = policy_levels(connection, incident.escalation_policy)
        reached = (
            levels[level : level + 1] if event in ("incident.triggered", "incident.escalated") else levels[: level + 1]
        )
        names = list(dict.fromkeys(t for lv in reached for t in lv.targets))
        configs = {
            row.name: row.config
            for row in connection.execute(select(notification_targets).where(notification_targets.c.name.in_(names)))
        }
    notification = Notification(
        event=event, incident_id=incident.ref, title=incident.title, severity=incident.severity,
        status=incident.status, model=incident.model, monitor=incident.monitor or "", summary=_summary(incident),
        occurred_at=context.clock.now(), dedup_key=incident.dedup_key, escalation_level=level,
        labels={"charter_incident": incident.ref},
    )  # fmt: skip
    deliveries = []
    for name in names:
        try:
            target = target_from_dict(_resolved(name, configs[name], check_env=True), f"notification target {name}")
            delivery = deliver(notifier_for(target), notification, attempts=ATTEMPTS, base_delay=0.5).to_dict()
        except InvalidInput as exc:
            delivery = {"target": name, "ok": False, "attempts": 0, "error": exc.message}
        deliveries.append(delivery)
        record(context, incident, "incident.notified", {"event": event, "level": level, "delivery": delivery})
    return deliveries


def escalate_due(context: Context) -> list[Any]:
    """Escalate every unacknowledged incident whose next level is due on the clock; returns them."""
    from charter.services.incidents import _incident, get_incident

    now = context.clock.now()
    stamp = format_timestamp(now)
    escalated = []
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        rows = uow.connection.execute(
            select(incidents).where(incidents.c.status == "triggered", incidents.c.next_escalation_at <= stamp)
        ).mappings().all()  # fmt: skip
        for row in rows:
            found = _incident(uow.connection, dict(row))
            levels = policy_levels(uow.connection, found.escalation_policy)
            level = found.escalation_level + 1
            if level >= len(levels):
                uow.execute(update(incidents).where(incidents.c.id == found.id).values(next_escalation_at=None))
                continue
            following = format_timestamp(now + levels[level + 1].after) if level + 1 < len(levels) else None
            uow.execute(update(incidents).where(incidents.c.id == found.id).values(
                escalation_level=level, next_escalation_at=following, updated_at=stamp))  # fmt: skip
            uow.record("incident.escalated", f"incident:{found.id}", {
                "level": level, "targets": list(levels[level].targets), "unacknowledged_since": found.opened_at,
            })  # fmt: skip
            escalated.append(found.ref)
    found_now = [get_incident(context, ref) for ref in escalated]
    for incident in found_now:
        notify_level(context, incident, level=incident.escalation_level, event="incident.escalated")
    return found_now


def _resolved(name: str, config: Mapping[str, Any], *, check_env: bool) -> dict[str, Any]:
    """The target's configuration with each ``*_env`` replaced by the variable's value (a placeholder when checking)."""
    resolved = {k: v for k, v in config.items() if k not in SECRET_KEYS}
    resolved.setdefault("name", name)
    for key, field_name in SECRET_KEYS.items():
        if key not in config:
            continue
        variable = str(config[key])
        if check_env and variable not in os.environ:
            raise InvalidInput(f"notification target {name}: the environment variable {variable} ({key}) is not set")
        resolved[field_name] = os.environ.get(variable, "unset") if check_env else "placeholder"
    return resolved


def _summary(incident: Any) -> str:
    details = incident.details or {}
    parts = [f"{k}={details[k]}" for k in ("metric", "value", "window_end", "target") if details.get(k) is not None]
    return f"{incident.ref} ({incident.severity}, {incident.alerts} alert(s)): " + ", ".join(parts)
