"""Policies: the stored rules every gate evaluates. A policy is added as its YAML text, exactly as a file holds it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from charter.errors import InvalidInput
from charter.server.api.access import roles
from charter.server.api.schemas import NO_NUL, Body, ChangeRequestOut, Items, ModelName, Text, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import policies
from charter.services.tokens import Caller

router = APIRouter(tags=["policies"])

#: The largest policy document the API takes.
MAX_POLICY_BYTES = 1 << 20
#: At most this many policy documents in one request (a repository's policies folder).
MAX_DOCUMENTS = 100
PolicyName = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="A policy's name.")]
_YAML_BODY = {
    "required": True,
    "description": "One policy document (kind: Policy) as YAML, as in a policy file.",
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}


class PolicyOut(BaseModel):
    id: str
    name: str
    version: int
    sha256: str
    origin: str
    active: bool
    created_by: str
    created_at: str


class PolicyDetailOut(PolicyOut):
    source: str = Field(description="The YAML text as stored.")
    document: dict[str, Any] = Field(description="The parsed policy: appliesTo and rules.")


class PolicyChangeOut(BaseModel):
    name: str
    action: str = Field(description="create, update (a new version) or unchanged (the same text).")
    version: int
    origin: str


class PolicyDocumentIn(Body):
    file: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=NO_NUL)] = Field(
        description="Where the document comes from, e.g. policies/high-risk.yaml (verdicts and SARIF name it)."
    )
    text: Annotated[str, StringConstraints(max_length=MAX_POLICY_BYTES, pattern=NO_NUL)] = Field(
        description="The policy document's YAML."
    )


class PolicyProposalIn(Body):
    policies: list[PolicyDocumentIn] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS, description="The policy documents to add or change."
    )
    packs: list[ModelName] = Field(default_factory=list, description="Built-in packs to add, e.g. baseline.")
    justification: Text = Field("", description="Why this change (needed to open the request).")


class PolicyProposalOut(BaseModel):
    status: str = Field(description="pending_approval, or applied once the request was approved.")
    change_request: ChangeRequestOut
    changes: list[PolicyChangeOut] = Field(description="What was stored, when applied.")


@router.get("/policies", response_model=Items[PolicyOut], responses=ERRORS, summary="List policies")
def list_policies(
    request: Request,
    who: Annotated[Caller, roles("GET /policies")],
    include_inactive: Annotated[bool, Query(description="Removed policies and earlier versions too.")] = False,
) -> Any:
    """The active policies by name (with ``include_inactive``, every stored version)."""
    found = policies.list_policies(context_for(request, who), include_inactive=include_inactive)
    return reply(Items[PolicyOut].model_validate({"items": [p.to_dict() for p in found]}))


async def yaml_text(request: Request) -> str:
    """The request body as policy text: UTF-8, without NUL, at most :data:`MAX_POLICY_BYTES`."""
    raw = await request.body()
    if len(raw) > MAX_POLICY_BYTES:
        raise InvalidInput(f"the policy is {len(raw):,} bytes; at most {MAX_POLICY_BYTES:,} are taken")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the policy is not UTF-8 text") from None
    if "\x00" in text:
        raise InvalidInput("the policy holds a NUL character; send the YAML text of a policy file")
    return text


@router.post(
    "/policies", response_model=PolicyChangeOut, responses=ERRORS, summary="Add or update a policy",
    openapi_extra={"requestBody": _YAML_BODY},
)  # fmt: skip
def add_policy(
    request: Request, who: Annotated[Caller, roles("POST /policies")], text: Annotated[str, Depends(yaml_text)]
) -> Any:
    """Store a policy from its YAML text; a changed text becomes a new version, the same text changes nothing."""
    change = policies.add_policy_text(context_for(request, who), text, origin=f"api:{who.principal}")
    return PolicyChangeOut.model_validate(change.to_dict())


@router.post("/policies:propose", response_model=PolicyProposalOut, responses=ERRORS, summary="Propose a policy change")
def propose_policies(
    request: Request, who: Annotated[Caller, roles("POST /policies:propose")], body: PolicyProposalIn
) -> Any:
    """Ask for a policy change under approval (a policy_change change request bound to exactly these texts);
    sent again once a risk-officer approved it, it stores them."""
    found = policies.propose_policies(
        context_for(request, who), packs=body.packs, documents=[(d.text, d.file) for d in body.policies],
        justification=body.justification,
    )  # fmt: skip
    return PolicyProposalOut.model_validate(found.to_dict())


@router.get("/policies/{name}", response_model=PolicyDetailOut, responses=ERRORS, summary="Show a policy")
def get_policy(
    request: Request,
    who: Annotated[Caller, roles("GET /policies/{name}")],
    name: PolicyName,
    version: Annotated[int | None, Query(ge=1, le=999_999_999, description="This version, not the active one.")] = None,
) -> Any:
    """The active policy (or one version of it) with its YAML text and parsed rules."""
    found = policies.get_policy(context_for(request, who), name, version)
    return reply(PolicyDetailOut.model_validate({**found.to_dict(with_source=True), "document": found.document}))


@router.delete("/policies/{name}", response_model=PolicyOut, responses=ERRORS, summary="Remove a policy")
def remove_policy(
    request: Request,
    who: Annotated[Caller, roles("DELETE /policies/{name}")],
    name: PolicyName,
    reason: Annotated[Text, Query(min_length=1, description="Why it is removed (recorded on the ledger).")],
) -> Any:
    """Deactivate the policy (its versions stay on record); gates stop evaluating it."""
    found = policies.remove_policy(context_for(request, who), name, reason=reason)
    return PolicyOut.model_validate(found.to_dict())
