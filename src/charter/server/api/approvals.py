"""Change requests and their approvals: the human in the loop.

A change request asks for one exact change (its ``payload_sha256``); approving it may name that
hash, so what was read is what is approved. The service enforces who may decide: a role the
request names, never its requester, nobody twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from charter.server.api.access import roles
from charter.server.api.schemas import ChangeRequestOut, IdPath, Items, Justified, Reason, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import approvals
from charter.services.tokens import Caller

router = APIRouter(tags=["approvals"])


class ApproveIn(Justified):
    payload_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="The hash of the change you read; refused if it changed since."
    )


@router.get(
    "/change-requests", response_model=Items[ChangeRequestOut], responses=ERRORS, summary="List change requests"
)
def list_requests(
    request: Request,
    who: Annotated[Caller, roles("GET /change-requests")],
    state: Annotated[list[str] | None, Query(json_schema_extra={"items": {"enum": list(approvals.STATES)}})] = None,
    kind: Annotated[str | None, Query(json_schema_extra={"enum": list(approvals.KINDS)})] = None,
    awaiting_me: Annotated[bool, Query(description="Only the pending ones the caller may decide on.")] = False,
) -> Any:
    """Change requests, newest first, filtered by state (repeatable), kind, or waiting for the caller."""
    found = approvals.list_requests(
        context_for(request, who), states=tuple(state or ()), kind=kind, awaiting=who.principal if awaiting_me else None
    )
    return reply(Items[ChangeRequestOut].model_validate({"items": [r.to_dict() for r in found]}))


@router.get(
    "/change-requests/{request_id}", response_model=ChangeRequestOut, responses=ERRORS, summary="Show a change request"
)
def get_request(
    request: Request, who: Annotated[Caller, roles("GET /change-requests/{request_id}")], request_id: IdPath
) -> Any:
    """One change request with its payload, requirement, approvals and what is still missing."""
    return reply(
        ChangeRequestOut.model_validate(approvals.get_request(context_for(request, who), request_id).to_dict())
    )


@router.post(
    "/change-requests/{request_id}/approve", response_model=ChangeRequestOut, responses=ERRORS,
    summary="Approve a change request",
)  # fmt: skip
def approve(
    request: Request,
    who: Annotated[Caller, roles("POST /change-requests/{request_id}/approve")],
    request_id: IdPath,
    body: ApproveIn,
) -> Any:
    """Approve with a justification; the request becomes ``approved`` once its requirement is met."""
    found = approvals.approve(
        context_for(request, who), request_id, justification=body.justification, payload_sha256=body.payload_sha256
    )
    return ChangeRequestOut.model_validate(found.to_dict())


@router.post(
    "/change-requests/{request_id}/reject", response_model=ChangeRequestOut, responses=ERRORS,
    summary="Reject a change request",
)  # fmt: skip
def reject(
    request: Request,
    who: Annotated[Caller, roles("POST /change-requests/{request_id}/reject")],
    request_id: IdPath,
    body: Justified,
) -> Any:
    """Reject with a justification; one qualified rejection ends the request."""
    found = approvals.reject(context_for(request, who), request_id, justification=body.justification)
    return ChangeRequestOut.model_validate(found.to_dict())


@router.post(
    "/change-requests/{request_id}/revoke", response_model=ChangeRequestOut, responses=ERRORS,
    summary="Withdraw a change request",
)  # fmt: skip
def revoke(
    request: Request,
    who: Annotated[Caller, roles("POST /change-requests/{request_id}/revoke")],
    request_id: IdPath,
    body: Reason,
) -> Any:
    """Withdraw a pending or approved request (its requester, or an admin)."""
    found = approvals.revoke(context_for(request, who), request_id, reason=body.reason)
    return ChangeRequestOut.model_validate(found.to_dict())


@router.post(
    "/change-requests/{request_id}/review", response_model=ChangeRequestOut, responses=ERRORS,
    summary="Review a break-glass change",
)  # fmt: skip
def review(
    request: Request,
    who: Annotated[Caller, roles("POST /change-requests/{request_id}/review")],
    request_id: IdPath,
    body: Justified,
) -> Any:
    """Close the review a break-glass change left due (a risk officer other than whoever broke the glass)."""
    found = approvals.review(context_for(request, who), request_id, justification=body.justification)
    return ChangeRequestOut.model_validate(found.to_dict())
