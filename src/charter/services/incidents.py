"""Incidents: breaches become deduplicated incidents with severity, runbook, escalation and a timeline.

:func:`alert` is called for every breach (a monitor run, an inbound Alertmanager alert). While an
incident for the same ``dedup_key`` (one per monitor) is open, alerts join it (``incident.alerted``,
severity raised if the new breach is worse); otherwise a new incident opens
(``incident.triggered``) and its escalation policy's first level is notified at once. An incident
that nobody acknowledges escalates level by level on the injectable clock (:func:`escalate_due`,
run by workers), so escalation is tested without sleeping. Every step — notifications and their
delivery included — is a ledger entry with subject ``incident:<id>``; the timeline is read back
from the ledger, so what the incident page shows is what the audit proves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, func, select, update
from sqlalchemy.engine import Connection

from charter.clock import format_timestamp
from charter.errors import CharterError, Conflict, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.ledger.chain import EntryFilter, list_entries
from charter.services.context import Context
from charter.services.monitors import SEVERITIES, Monitor
from charter.services.records import fields_dict, result_rows, row_fields
from charter.store.schema import incidents, monitors

if TYPE_CHECKING:
    from charter.integrations.notify import Event

STATUSES = ("triggered", "acknowledged", "mitigated", "resolved")
OPEN = ("triggered", "acknowledged", "mitigated")


@dataclass(frozen=True)
class Incident:
    id: str
    number: int
    model: str
    monitor: str | None
    dedup_key: str
    title: str
    severity: str
    status: str
    assignee: str | None
    runbook: str
    escalation_policy: str | None
    escalation_level: int
    next_escalation_at: str | None
    alerts: int
    details: dict[str, Any]
    opened_at: str
    updated_at: str
    resolved_at: str | None

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"

    def to_dict(self) -> dict[str, Any]:
        return {**fields_dict(self), "ref": self.ref}


def alert(
    context: Context, monitor: Monitor, *, status: str, value: float | None, window_end: str, run_id: str
) -> Incident:
    """A monitor breached: join the open incident for it or open one (and notify its first level)."""
    severity = monitor.severity if status == "critical" else "low"
    shown = "n/a" if value is None else f"{value:.4g}"
    limit = monitor.critical if status == "critical" else monitor.warn
    title = (
        f"{monitor.kind.replace('_', ' ')} on {monitor.model}:{monitor.target}: {monitor.metric} {shown} "
        f"is {monitor.direction} {limit}"
    )
    details = {"monitor": monitor.name, "kind": monitor.kind, "metric": monitor.metric, "value": value,
               "status": status, "window_end": window_end, "run": run_id, "target": monitor.target}  # fmt: skip
    return raise_alert(
        context, model=monitor.model, dedup_key=f"monitor:{monitor.name}", title=title, severity=severity,
        details=details, monitor=monitor, escalation=monitor.escalation or None,
    )  # fmt: skip


def raise_alert(
    context: Context,
    *,
    model: str,
    dedup_key: str,
    title: str,
    severity: str,
    details: Mapping[str, Any],
    monitor: Monitor | None = None,
    escalation: str | None = None,
    runbook: str = "",
) -> Incident:
    if severity not in SEVERITIES:
        raise InvalidInput(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    now = context.clock.now()
    stamp = format_timestamp(now)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        row = _open_for(uow.connection, dedup_key)
        if row is not None:
            worse = SEVERITIES.index(severity) > SEVERITIES.index(row["severity"])
            values = {"alerts": row["alerts"] + 1, "updated_at": stamp, **({"severity": severity} if worse else {})}
            uow.execute(update(incidents).where(incidents.c.id == row["id"]).values(values))
            uow.record("incident.alerted", f"incident:{row['id']}", {**dict(details), "severity": severity,
                                                                     "raised_severity": worse})  # fmt: skip
            found = _incident(uow.connection, {**dict(row), **values})
            notify = False
            joined = True
        else:
            found = _open(uow, context, model, dedup_key, title, severity, details, monitor, escalation, runbook, now)
            notify = True
            joined = False
    if notify:
        from charter.services.escalation import notify_level

        notify_level(context, found, level=0, event="incident.triggered")
    if monitor is not None and (notify or joined):
        from charter.services.remediation import auto_rollback

        # A breach that grows into the safe zone's status (warning, then critical) rolls back too.
        auto_rollback(context, found, monitor, status=str(details.get("status", "")))
    return get_incident(context, found.ref)


def _open(
    uow: UnitOfWork, context: Context, model: str, dedup_key: str, title: str, severity: str,
    details: Mapping[str, Any], monitor: Monitor | None, escalation: str | None, runbook: str, now: datetime,
) -> Incident:  # fmt: skip
    from charter.runbooks import runbook_for
    from charter.services.escalation import first_escalation_at

    number = (uow.connection.execute(select(func.max(incidents.c.number))).scalar_one() or 0) + 1
    stamp = format_timestamp(now)
    if monitor is not None:
        try:
            runbook = runbook_for(monitor.kind, monitor.runbook).text
        except CharterError as exc:  # the team's runbook moved or went unreadable: the incident opens all the same
            runbook = (f"> This monitor's own runbook could not be read ({exc}); the built-in one follows.\n\n"
                       + runbook_for(monitor.kind).text)  # fmt: skip
    monitor_id = None
    if monitor is not None:
        monitor_id = uow.connection.execute(select(monitors.c.id).where(monitors.c.name == monitor.name)).scalar_one()
    row = {
        "id": new_id(), "number": number, "model": model, "monitor_id": monitor_id, "dedup_key": dedup_key,
        "title": title, "severity": severity, "status": "triggered", "assignee": None, "runbook": runbook,
        "escalation_policy": escalation, "escalation_level": 0,
        "next_escalation_at": first_escalation_at(uow.connection, escalation, now), "alerts": 1,
        "details": dict(details), "opened_at": stamp, "updated_at": stamp, "resolved_at": None,
    }  # fmt: skip
    uow.execute(incidents.insert().values(row))
    uow.record("incident.triggered", f"incident:{row['id']}", {
        "ref": f"INC-{number}", "model": model, "title": title, "severity": severity, "dedup_key": dedup_key,
        "escalation_policy": escalation, **dict(details),
    })  # fmt: skip
    return _incident(uow.connection, row)


def acknowledge(context: Context, reference: str, *, note: str = "") -> Incident:
    return _transition(context, reference, "acknowledged", note, allowed=("triggered",))


def mitigate(context: Context, reference: str, *, note: str) -> Incident:
    return _transition(context, reference, "mitigated", note, allowed=("triggered", "acknowledged"))


def resolve(context: Context, reference: str, *, note: str) -> Incident:
    if not note.strip():
        raise InvalidInput("resolving an incident needs a note: what fixed it")
    return _transition(context, reference, "resolved", note, allowed=OPEN)


def assign(context: Context, reference: str, principal: str) -> Incident:
    from charter.services.access import check_principal

    principal = check_principal(principal)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        found = _require(uow.connection, reference)
        uow.execute(update(incidents).where(incidents.c.id == found.id).values(
            assignee=principal, updated_at=format_timestamp(context.clock.now())))  # fmt: skip
        uow.record("incident.assigned", f"incident:{found.id}", {"assignee": principal, "before": found.assignee})
    return get_incident(context, reference)


def _transition(context: Context, reference: str, status: str, note: str, *, allowed: tuple[str, ...]) -> Incident:
    now = format_timestamp(context.clock.now())
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        found = _require(uow.connection, reference)
        if found.status not in allowed:
            raise Conflict(f"{found.ref} is {found.status}; it can be {status} only when {' or '.join(allowed)}")
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status != "triggered":
            values["next_escalation_at"] = None  # a person has it: escalation stops
        if status == "resolved":
            values["resolved_at"] = now
        uow.execute(update(incidents).where(incidents.c.id == found.id).values(values))
        uow.record(f"incident.{status}", f"incident:{found.id}", {"note": note.strip(), "from": found.status})
    updated = get_incident(context, reference)
    if status in ("acknowledged", "resolved", "mitigated"):
        from charter.services.escalation import notify_level

        event: Event = (
            "incident.resolved"
            if status == "resolved"
            else ("incident.mitigated" if status == "mitigated" else "incident.acknowledged")
        )
        notify_level(context, updated, level=updated.escalation_level, event=event)
    return updated


def suppress_until(context: Context, reference: str, until: str) -> Incident:
    """Silence an incident's escalation until ``until`` (an executed suppression request sets this).

    No level is notified before then; an incident still unacknowledged at ``until`` escalates on from there."""
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        found = _require(uow.connection, reference)
        # Escalation pauses until then and goes on afterwards if nobody has acknowledged it by then.
        resume = None if found.next_escalation_at is None else max(found.next_escalation_at, until)
        uow.execute(update(incidents).where(incidents.c.id == found.id).values(
            details={**found.details, "suppressed_until": until}, next_escalation_at=resume,
            updated_at=format_timestamp(context.clock.now())))  # fmt: skip
        uow.record("incident.suppressed", f"incident:{found.id}", {"until": until})
    return get_incident(context, reference)


def get_incident(context: Context, reference: str) -> Incident:
    with context.engine.connect() as connection:
        return _require(connection, reference)


def list_incidents(
    context: Context, *, status: str | None = None, model: str | None = None, open_only: bool = False
) -> list[Incident]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}")
    query = _with_monitor().order_by(incidents.c.number.desc())
    if status is not None:
        query = query.where(incidents.c.status == status)
    if open_only:
        query = query.where(incidents.c.status.in_(OPEN))
    if model is not None:
        query = query.where(incidents.c.model == model)
    with context.engine.connect() as connection:
        return [_incident(connection, row) for row in result_rows(connection.execute(query))]


def timeline(context: Context, reference: str) -> list[dict[str, Any]]:
    """Every ledger entry about the incident (and its change requests), oldest first."""
    found = get_incident(context, reference)
    entries = list_entries(context.engine, EntryFilter(subject=f"incident:{found.id}"), limit=None)
    changes = {e.data.get("change_request") for e in entries if e.data.get("change_request")}
    for change in sorted(c for c in changes if isinstance(c, str)):
        entries += list_entries(context.engine, EntryFilter(subject=f"change:{change}"), limit=None)
    return [
        {"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "subject": e.subject, "data": e.data,
         "hash": e.hash}
        for e in sorted(entries, key=lambda e: e.seq)
    ]  # fmt: skip


def record(context: Context, incident: Incident, action: str, payload: Mapping[str, Any]) -> None:
    """Add a step to an incident's timeline (a delivery, a remediation) as its own ledger entry."""
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        uow.record(action, f"incident:{incident.id}", dict(payload))
        uow.execute(update(incidents).where(incidents.c.id == incident.id).values(
            updated_at=format_timestamp(context.clock.now())))  # fmt: skip


def from_alertmanager(context: Context, payload: Mapping[str, Any], *, escalation: str | None = None) -> list[Incident]:
    """Prometheus alerts about the serving stack, from Alertmanager's webhook: firing ones open or join an
    incident (keyed by the alert's labels), resolved ones resolve it. The model is the ``model`` label."""
    from charter.integrations.notify import parse_alertmanager_webhook

    touched = []
    for inbound in parse_alertmanager_webhook(payload):
        details = {
            "source": "alertmanager", "labels": inbound.labels, "annotations": inbound.annotations,
            "starts_at": format_timestamp(inbound.starts_at), "generator_url": inbound.generator_url,
        }  # fmt: skip
        model = inbound.labels.get("model") or "(serving)"
        if inbound.status == "firing":
            summary = inbound.annotations.get("summary") or inbound.name or "alert"
            touched.append(raise_alert(
                context, model=model, dedup_key=inbound.dedup_key, title=f"{inbound.name}: {summary}",
                severity=inbound.severity, details=details, escalation=escalation,
                runbook=inbound.annotations.get("runbook_url", ""),
            ))  # fmt: skip
            continue
        with context.engine.connect() as connection:
            row = _open_for(connection, inbound.dedup_key)
        if row is not None:
            touched.append(resolve(context, f"INC-{row['number']}", note=f"resolved by Alertmanager ({inbound.name})"))
    return touched


def escalate_due(context: Context) -> list[Incident]:
    from charter.services.escalation import escalate_due as run

    return run(context)


def _open_for(connection: Connection, dedup_key: str) -> Mapping[str, Any] | None:
    return cast(Mapping[str, Any] | None, (
        connection.execute(
            select(incidents).where(incidents.c.dedup_key == dedup_key, incidents.c.status.in_(OPEN))
            .order_by(incidents.c.number.desc())
        )
        .mappings()
        .first()
    ))  # fmt: skip


def _require(connection: Connection, reference: str) -> Incident:
    text = reference.strip().upper().removeprefix("INC-")
    query = _with_monitor().where(
        incidents.c.number == int(text) if text.isdigit() else incidents.c.id == reference.strip()
    )
    row = connection.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no incident {reference!r} (`charter incidents list` shows them)")
    return _incident(connection, dict(row))


def _with_monitor() -> Select[Any]:
    """Incidents with their monitor's name (``monitor``) in one query."""
    joined = incidents.outerjoin(monitors, monitors.c.id == incidents.c.monitor_id)
    return select(incidents, monitors.c.name.label("monitor")).select_from(joined)


def _incident(connection: Connection, row: Mapping[str, Any]) -> Incident:
    """The record of an incident's row; its monitor's name is read unless the row has it (:func:`_with_monitor`)."""
    name = row.get("monitor")
    if "monitor" not in row and row.get("monitor_id"):
        name = connection.execute(
            select(monitors.c.name).where(monitors.c.id == row["monitor_id"])
        ).scalar_one_or_none()
    return Incident(**row_fields(row, Incident.__dataclass_fields__, skip=("monitor",)), monitor=name)
