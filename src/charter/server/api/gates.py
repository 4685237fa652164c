"""Gates and promotions: may this version move to this stage, and moving it when it may.

``POST /gates`` evaluates the stored policies (and any built-in packs named) for a version and a
stage and keeps the verdict. ``POST /promotions`` is the only way an alias moves over HTTP: it runs
the gate again and either moves the alias, or opens the change request the policies demand, or
reports what blocks it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.policies import MAX_DOCUMENTS, PolicyDocumentIn
from charter.server.api.schemas import (
    MODEL_REF,
    AliasMoveOut,
    AliasName,
    Body,
    ChangeRequestOut,
    Items,
    ModelName,
    ModelRef,
    Text,
    reply,
)
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import gates, promotion
from charter.services.tokens import Caller

router = APIRouter(tags=["gates"])


class VerdictOut(BaseModel):
    policy: str
    rule: str
    verdict: str = Field(description="pass, fail or error.")
    effect: str = Field(description="none, block, approval or warning.")
    action: str
    severity: str
    advisory: bool
    message: str
    reason: str
    error_kind: str | None
    check: str
    references: list[str]
    file: str
    line: int


class GateSummaryOut(BaseModel):
    id: str
    ref: str
    stage: str
    decision: str = Field(description="passed, pending_approval or blocked.")
    policies: list[str]
    verdicts: list[VerdictOut]
    created_by: str
    created_at: str


class GateOut(GateSummaryOut):
    context_version: str
    counts: dict[str, int] = Field(description="Verdicts by status: pass, fail, error.")
    change_request: str | None = Field(description="The open change request for this promotion, if any.")


class GateDetailOut(GateOut):
    context: dict[str, Any] = Field(description="The evidence the policies were evaluated against.")


class PromotionOut(BaseModel):
    status: str = Field(description="promoted, blocked or pending_approval.")
    break_glass: bool
    gate: GateOut
    change_request: ChangeRequestOut | None
    move: AliasMoveOut | None


class GateIn(Body):
    ref: ModelRef = Field(description="The model version, e.g. credit-risk@3.")
    stage: AliasName = Field(description="The stage (alias) it would move to, e.g. prod.")
    packs: list[ModelName] = Field(
        default_factory=list, description="Built-in policy packs to weigh as well, e.g. baseline."
    )
    policies: list[PolicyDocumentIn] = Field(
        default_factory=list,
        max_length=MAX_DOCUMENTS,
        description="Policy documents to weigh as well, as `charter gate --policy` sends those of a repository; "
        "one replaces a stored policy of the same name for this gate.",
    )


class PromotionIn(Body):
    ref: ModelRef = Field(description="The model version to promote, e.g. credit-risk@3.")
    alias: AliasName = Field(description="The alias to move, e.g. prod.")
    justification: Text = ""
    packs: list[ModelName] = Field(default_factory=list)
    policies: list[PolicyDocumentIn] = Field(
        default_factory=list,
        max_length=MAX_DOCUMENTS,
        description="Policy documents to weigh as well; one named like a stored policy must hold its stored text "
        "(a promotion is weighed against the stored rules).",
    )
    break_glass: bool = Field(False, description="Move it whatever the gate says (admins, risk officers); reviewed.")


@router.get("/gates", response_model=Items[GateSummaryOut], responses=ERRORS, summary="A version's gate history")
def gate_history(
    request: Request,
    who: Annotated[Caller, roles("GET /gates")],
    ref: Annotated[str, Query(pattern=MODEL_REF, description="The model version, e.g. credit-risk@3.")],
) -> Any:
    """Every stored gate result of the version, newest first (without the evidence)."""
    found = gates.gate_history(context_for(request, who), ref)
    return reply(Items[GateSummaryOut].model_validate({"items": found}))


@router.post("/gates", response_model=GateDetailOut, status_code=201, responses=ERRORS, summary="Run a gate")
def run_gate(request: Request, who: Annotated[Caller, roles("POST /gates")], body: GateIn) -> Any:
    """Evaluate every applicable policy for moving ``ref`` to ``stage``; store and return the verdict."""
    documents = [(d.text, d.file) for d in body.policies]
    found = gates.run_gate(context_for(request, who), body.ref, body.stage, packs=body.packs, documents=documents)
    return GateDetailOut.model_validate(found.to_dict())


@router.post("/promotions", response_model=PromotionOut, responses=ERRORS, summary="Promote a version")
def promote(request: Request, who: Annotated[Caller, roles("POST /promotions")], body: PromotionIn) -> Any:
    """Run the gate and move the alias if it passes; open the change request it asks for; or say what blocks it."""
    found = promotion.promote(
        context_for(request, who), body.ref, body.alias, justification=body.justification, packs=body.packs,
        documents=[(d.text, d.file) for d in body.policies], break_glass=body.break_glass,
    )  # fmt: skip
    return PromotionOut.model_validate(found.to_dict())
