"""Incidents: list, show with the timeline the ledger proves, handle them, and ask for remediation.

Rollback, retraining and suppression are change requests under approval: the first call opens
the request (``pending_approval``); once it is approved, the same call carries the change out
(``executed``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Body as Payload
from pydantic import BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import (
    NAME,
    Body,
    ChangeRequestOut,
    Ident,
    IncidentPath,
    Items,
    Justified,
    Note,
    Text,
    reply,
)
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import incidents, postmortems, remediation
from charter.services.tokens import Caller

router = APIRouter(tags=["incidents"])


class IncidentOut(BaseModel):
    id: str
    ref: str = Field(description="INC-<number>.")
    number: int
    model: str
    monitor: str | None
    dedup_key: str
    title: str
    severity: str
    status: str = Field(description="triggered, acknowledged, mitigated or resolved.")
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


class TimelineStepOut(BaseModel):
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    data: dict[str, Any]
    hash: str


class IncidentDetailOut(IncidentOut):
    timeline: list[TimelineStepOut] = Field(description="Every ledger entry about the incident, oldest first.")


class NoteRequired(Body):
    note: Text = Field(min_length=1, description="What fixed it.")


class AssignIn(Body):
    principal: Ident = Field(description="Who has it now, e.g. user:alice.")


class SuppressIn(Justified):
    seconds: int = Field(gt=0, le=7 * 86400, description="How long alerts stop notifying (at most 7 days).")


class RemediationOut(BaseModel):
    action: str = Field(description="rollback, retrain or suppress.")
    status: str = Field(description="pending_approval or executed.")
    request: ChangeRequestOut
    result: dict[str, Any]


def _incident(found: incidents.Incident) -> IncidentOut:
    return IncidentOut.model_validate(found.to_dict())


@router.get("/incidents", response_model=Items[IncidentOut], responses=ERRORS, summary="List incidents")
def list_incidents(
    request: Request,
    who: Annotated[Caller, roles("GET /incidents")],
    status: Literal["triggered", "acknowledged", "mitigated", "resolved"] | None = None,
    model: Annotated[str | None, Query(pattern=NAME, description="Only this model's incidents.")] = None,
    open_only: Annotated[bool, Query(alias="open", description="Only incidents not yet resolved.")] = False,
) -> Any:
    """Incidents, newest first."""
    found = incidents.list_incidents(context_for(request, who), status=status, model=model, open_only=open_only)
    return reply(Items[IncidentOut](items=[_incident(i) for i in found]))


@router.get("/incidents/{ref}", response_model=IncidentDetailOut, responses=ERRORS, summary="Show an incident")
def get_incident(request: Request, who: Annotated[Caller, roles("GET /incidents/{ref}")], ref: IncidentPath) -> Any:
    """The incident with its timeline: alerts, notifications, acknowledgements, remediation, from the ledger."""
    context = context_for(request, who)
    found = incidents.get_incident(context, ref)
    return reply(IncidentDetailOut.model_validate({**found.to_dict(), "timeline": incidents.timeline(context, ref)}))


class PostmortemOut(BaseModel):
    incident: str
    format: str = Field(description="markdown or html.")
    text: str = Field(description="The postmortem as it stands: impact, ledger-backed timeline, change requests.")


@router.get(
    "/incidents/{ref}/postmortem", response_model=PostmortemOut, responses=ERRORS, summary="An incident's postmortem"
)
def postmortem(
    request: Request,
    who: Annotated[Caller, roles("GET /incidents/{ref}/postmortem")],
    ref: IncidentPath,
    fmt: Annotated[
        Literal["markdown", "html"], Query(alias="format", description="markdown (no charts) or html (charts inline).")
    ] = "markdown",
) -> Any:
    """The postmortem drafted from the incident, its series and the ledger, rendered and not stored
    (`charter postmortem` writes the files and records their digests)."""
    context = context_for(request, who)
    found = incidents.get_incident(context, ref)
    return reply(PostmortemOut(incident=found.ref, format=fmt, text=postmortems.render_postmortem(context, ref, fmt)))


@router.post("/incidents/{ref}/ack", response_model=IncidentOut, responses=ERRORS, summary="Acknowledge an incident")
def acknowledge(
    request: Request, who: Annotated[Caller, roles("POST /incidents/{ref}/ack")], ref: IncidentPath, body: Note
) -> Any:
    """Someone has it: escalation stops."""
    return _incident(incidents.acknowledge(context_for(request, who), ref, note=body.note))


@router.post(
    "/incidents/{ref}/mitigate", response_model=IncidentOut, responses=ERRORS, summary="Mark an incident mitigated"
)
def mitigate(
    request: Request, who: Annotated[Caller, roles("POST /incidents/{ref}/mitigate")], ref: IncidentPath, body: Note
) -> Any:
    """The harm has stopped (a rollback, say); the cause may not be fixed yet."""
    return _incident(incidents.mitigate(context_for(request, who), ref, note=body.note))


@router.post("/incidents/{ref}/resolve", response_model=IncidentOut, responses=ERRORS, summary="Resolve an incident")
def resolve(
    request: Request,
    who: Annotated[Caller, roles("POST /incidents/{ref}/resolve")],
    ref: IncidentPath,
    body: NoteRequired,
) -> Any:
    """Close the incident with a note saying what fixed it."""
    return _incident(incidents.resolve(context_for(request, who), ref, note=body.note))


@router.post("/incidents/{ref}/assign", response_model=IncidentOut, responses=ERRORS, summary="Assign an incident")
def assign(
    request: Request, who: Annotated[Caller, roles("POST /incidents/{ref}/assign")], ref: IncidentPath, body: AssignIn
) -> Any:
    """Give the incident to a principal."""
    return _incident(incidents.assign(context_for(request, who), ref, body.principal))


@router.post(
    "/incidents/{ref}/rollback", response_model=RemediationOut, responses=ERRORS, summary="Roll back (under approval)"
)
def rollback(
    request: Request, who: Annotated[Caller, roles("POST /incidents/{ref}/rollback")], ref: IncidentPath,
    body: Justified,
) -> Any:  # fmt: skip
    """Move the monitor's alias back to the last version whose gate passed for it, once approved."""
    found = remediation.rollback(context_for(request, who), ref, justification=body.justification)
    return RemediationOut.model_validate(found.to_dict())


@router.post(
    "/incidents/{ref}/retrain", response_model=RemediationOut, responses=ERRORS, summary="Retrain (under approval)"
)
def retrain(
    request: Request, who: Annotated[Caller, roles("POST /incidents/{ref}/retrain")], ref: IncidentPath,
    body: Justified,
) -> Any:  # fmt: skip
    """Run the retraining command the monitor declares, once approved."""
    found = remediation.retrain(context_for(request, who), ref, justification=body.justification)
    return RemediationOut.model_validate(found.to_dict())


@router.post(
    "/incidents/{ref}/suppress", response_model=RemediationOut, responses=ERRORS, summary="Suppress (under approval)"
)
def suppress(
    request: Request, who: Annotated[Caller, roles("POST /incidents/{ref}/suppress")], ref: IncidentPath,
    body: SuppressIn,
) -> Any:  # fmt: skip
    """Silence the incident's notifications for a while, once approved."""
    found = remediation.suppress(
        context_for(request, who), ref, duration=timedelta(seconds=body.seconds), justification=body.justification
    )
    return RemediationOut.model_validate(found.to_dict())


@router.post(
    "/alerts/alertmanager", response_model=Items[IncidentOut], responses=ERRORS,
    summary="Receive an Alertmanager webhook",
)  # fmt: skip
def alertmanager_webhook(
    request: Request,
    who: Annotated[Caller, roles("POST /alerts/alertmanager")],
    payload: Annotated[
        dict[str, Any],
        Payload(description="Alertmanager's webhook notification (payload version 4), as Alertmanager posts it."),
    ],
    escalation: Annotated[
        str | None, Query(pattern=NAME, description="The escalation policy for incidents this opens.")
    ] = None,
) -> Any:
    """Prometheus alerts about the serving stack: firing alerts open or join an incident (one per label set),
    resolved alerts resolve it. Point an Alertmanager ``webhook_configs`` receiver here with a bearer token."""
    found = incidents.from_alertmanager(context_for(request, who), payload, escalation=escalation)
    return Items[IncidentOut](items=[_incident(i) for i in found])
