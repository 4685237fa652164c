"""Pages that act: incidents (acknowledge, resolve, request a rollback), the approvals inbox, the audit log.

Every form is a POST checked for its CSRF token (:func:`.routing.checked_form`). The services
decide who may do what — separation of duties, the roles a change request needs — and when one
refuses, the page is shown again with its message and status. A success redirects (303) to the
page, with what happened in a flash message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from charter.errors import CharterError
from charter.ledger.chain import EntryFilter
from charter.server.api.access import ROUTE_ROLES
from charter.server.web.routing import (
    Posted,
    SignedIn,
    WebRoute,
    acting,
    pages,
    redirect,
    render,
    require_role,
)
from charter.services import approvals, audit, incidents, promotion, remediation
from charter.services.approvals import ChangeRequest
from charter.services.context import Context
from charter.services.pages import ledger_page
from charter.services.tokens import Caller

router = APIRouter(route_class=WebRoute, include_in_schema=False)

AUDIT_PAGE = 50
MAX_AUDIT_PAGE = 500
#: The actions on an incident page, and the API route whose roles they admit (the same people, whichever door).
INCIDENT_ACTIONS = {
    "acknowledge": "POST /incidents/{ref}/ack",
    "resolve": "POST /incidents/{ref}/resolve",
    "rollback": "POST /incidents/{ref}/rollback",
}
#: The kinds of change the dashboard carries out once approved, with the API route that does the same
#: (retraining runs a long command: the CLI does it).
CARRIED = {"promote": "POST /promotions", "rollback": "POST /incidents/{ref}/rollback",
           "suppress": "POST /incidents/{ref}/suppress"}  # fmt: skip

Text = Annotated[str, Form()]


# ---- incidents ----------------------------------------------------------------------------------


@router.get("/incidents")
def incident_list(request: Request, who: SignedIn, status: str = "", model: str = "") -> Response:
    found = incidents.list_incidents(acting(request, who), status=status or None, model=model or None)
    return render(request, "incidents.html", title="Incidents", incidents=found, wanted=status, model=model,
                  statuses=incidents.STATUSES)  # fmt: skip


def _incident_page(request: Request, who: Caller, ref: str, *, status: int = 200, error: str = "") -> Response:
    context = acting(request, who)
    found = incidents.get_incident(context, ref)
    return render(request, "incident.html", status=status, error=error, title=found.ref, incident=found,
                  timeline=incidents.timeline(context, ref),
                  can_act=bool(set(who.roles) & set(ROUTE_ROLES[INCIDENT_ACTIONS["acknowledge"]])))  # fmt: skip


@router.get("/incidents/{ref}")
def incident_page(request: Request, ref: str, who: SignedIn) -> Response:
    return _incident_page(request, who, ref)


@router.post("/incidents/{ref}/{action}")
def incident_action(request: Request, ref: str, action: str, who: Posted, note: Text = "") -> Response:
    context = acting(request, who)
    if action not in INCIDENT_ACTIONS:
        return _incident_page(request, who, ref, status=404, error=f"no incident action {action!r}")
    try:
        require_role(who, ROUTE_ROLES[INCIDENT_ACTIONS[action]], f"acting on {ref}")
        if action == "acknowledge":
            done = incidents.acknowledge(context, ref, note=note)
            message = f"{done.ref} acknowledged."
        elif action == "resolve":
            done = incidents.resolve(context, ref, note=note)
            message = f"{done.ref} resolved."
        else:
            message = _remediation_message(remediation.rollback(context, ref, justification=note))
    except CharterError as exc:
        return _incident_page(request, who, ref, status=exc.status, error=exc.message)
    return redirect(request, f"/incidents/{quote(ref, safe='')}", message)


def _remediation_message(done: remediation.Remediation) -> str:
    if done.status == "executed":
        result = done.result
        if "to_version" in result:
            return f"Rolled back: {result.get('alias')} now serves version {result['to_version']}."
        return f"{done.action} carried out ({done.request.id})."
    return f"Change request {done.request.id} opened; it needs {done.request.missing()}."


# ---- approvals ----------------------------------------------------------------------------------


def _approvals_page(request: Request, who: Caller, *, status: int = 200, error: str = "") -> Response:
    context = acting(request, who)
    mine = approvals.list_requests(context, awaiting=who.principal)
    waiting = {r.id for r in mine}
    others = [r for r in approvals.list_requests(context, states=("pending",)) if r.id not in waiting]
    approved = approvals.list_requests(context, states=("approved",))
    return render(request, "approvals.html", status=status, error=error, title="Approvals", mine=mine,
                  others=others, approved=approved, carried=CARRIED)  # fmt: skip


@router.get("/approvals")
def approvals_inbox(request: Request, who: SignedIn) -> Response:
    return _approvals_page(request, who)


@router.post("/approvals/{request_id}/approve")
def approve(
    request: Request, request_id: str, who: Posted, justification: Text = "", payload_sha256: Text = ""
) -> Response:
    context = acting(request, who)
    try:
        decided = approvals.approve(context, request_id, justification=justification,
                                    payload_sha256=payload_sha256 or None)  # fmt: skip
    except CharterError as exc:
        return _approvals_page(request, who, status=exc.status, error=exc.message)
    message = f"You approved change request {request_id}."
    if decided.state != "approved":
        message += f" It still needs {decided.missing()}."
    elif decided.kind in CARRIED:
        message += " " + _carry_out_message(context, who, decided)
    return redirect(request, "/approvals", message)


@router.post("/approvals/{request_id}/reject")
def reject(request: Request, request_id: str, who: Posted, justification: Text = "") -> Response:
    try:
        approvals.reject(acting(request, who), request_id, justification=justification)
    except CharterError as exc:
        return _approvals_page(request, who, status=exc.status, error=exc.message)
    return redirect(request, "/approvals", f"You rejected change request {request_id}.")


@router.post("/approvals/{request_id}/carry-out")
def carry_out(request: Request, request_id: str, who: Posted) -> Response:
    context = acting(request, who)
    try:
        message = carry_out_change(context, who, approvals.get_request(context, request_id))
    except CharterError as exc:
        return _approvals_page(request, who, status=exc.status, error=exc.message)
    return redirect(request, "/approvals", message)


def _carry_out_message(context: Context, who: Caller, decided: ChangeRequest) -> str:
    try:
        return carry_out_change(context, who, decided)
    except CharterError as exc:
        return f"Carrying it out failed: {exc.message} It stays approved; carry it out from this page."


def carry_out_change(context: Context, who: Caller, change: ChangeRequest) -> str:
    """Run an approved change through the service that owns it (which checks the approval again)."""
    if change.kind not in CARRIED:
        return f"A {change.kind.replace('_', ' ')} change is carried out with the CLI, not from the dashboard."
    require_role(who, ROUTE_ROLES[CARRIED[change.kind]], f"carrying out a {change.kind} change")
    payload: dict[str, Any] = change.payload
    if change.kind == "promote":
        done = promotion.promote(context, f"{payload['model']}@{payload['version']}", str(payload["alias"]),
                                 justification=change.justification)  # fmt: skip
        if done.status == "promoted":
            return f"Carried out: {payload['model']}:{payload['alias']} now points at version {payload['version']}."
        failing = "; ".join(v.message for v in done.gate.decision.verdicts if v.verdict != "pass")
        return f"Not carried out: the gate says {done.status} ({failing})."
    if change.kind == "rollback":
        return _remediation_message(remediation.rollback(context, str(payload["incident"]),
                                                         justification=change.justification))  # fmt: skip
    if change.kind == "suppress":
        return _remediation_message(remediation.suppress(
            context, str(payload["incident"]), duration=timedelta(seconds=int(payload["seconds"])),
            justification=change.justification,
        ))  # fmt: skip
    raise AssertionError(change.kind)  # CARRIED names only the kinds above


# ---- audit ----------------------------------------------------------------------------------------


def _audit_page(
    request: Request, who: Caller, *, page: int = 1, size: int = AUDIT_PAGE, cursor: str = "", subject: str = "",
    action: str = "", report: Any = None,
) -> Response:  # fmt: skip
    context = acting(request, who)
    size = min(max(size, 1), MAX_AUDIT_PAGE)
    where = EntryFilter(subject=subject or None, action=action or None)
    found = ledger_page(context, where, limit=size, cursor=cursor or None)
    total = None if subject or action else audit.ledger_size(context)
    return render(request, "audit.html", title="Audit log", entries=found.entries, next_cursor=found.next_cursor,
                  page=max(page, 1), size=size, pages=None if total is None else pages(total, size), subject=subject,
                  action=action, report=report)  # fmt: skip


@router.get("/audit")
def audit_log(
    request: Request, who: SignedIn, page: int = 1, size: int = AUDIT_PAGE, cursor: str = "", subject: str = "",
    action: str = "",
) -> Response:  # fmt: skip
    """The ledger, newest first, a page at a time (keyset paging: ``cursor`` continues after the last entry shown)."""
    return _audit_page(request, who, page=page, size=size, cursor=cursor, subject=subject, action=action)


@router.post("/audit/verify")
def verify(request: Request, who: Posted) -> Response:
    report = audit.verify_ledger(acting(request, who))
    return _audit_page(request, who, report=report)
