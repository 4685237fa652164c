"""Explanations of logged decisions: the feature contributions behind one decision, computed on request.

The service (:func:`charter.services.explanations.explain_decision`) finds the decision in the
lake, loads the verified artifact of the version that made it (a changed artifact is refused with
409 ``integrity.mismatch`` and the refusal recorded) and explains it with SHAP or LIME. A
version's global importance is part of its evaluations (``GET /evaluations``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import NAME, IdPath, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services.explanations import explain_decision
from charter.services.tokens import Caller

router = APIRouter(tags=["explanations"])


class ContributionOut(BaseModel):
    feature: str
    value: Any = Field(description="The decision's input value of the feature.")
    contribution: float


class ExplanationOut(BaseModel):
    decision_id: str
    model: str
    version: int
    ref: str
    method: str = Field(description="shap or lime.")
    algorithm: str = Field(description="tree, linear, kernel (SHAP) or lime.")
    output_space: str = Field(description="What is explained: log_odds, probability or value.")
    base_value: float
    contributions: list[ContributionOut] = Field(description="Largest |contribution| first.")
    model_output: float = Field(description="The model's output for the decision now, in output_space.")
    explained_output: float = Field(description="base_value + the contributions.")
    additivity_error: float
    additive: bool = Field(description="SHAP: the contributions add up to the output (LIME never claims to).")
    logged: dict[str, Any] = Field(description="What the lake holds of the decision: ts, prediction, score, alias.")
    background: str = Field(description="Where the background rows came from.")
    fit: float | None = Field(description="LIME: R² of the local surrogate; null for SHAP.")
    notes: list[str]


@router.get(
    "/decisions/{decision_id}/explanation",
    response_model=ExplanationOut,
    responses=ERRORS,
    summary="Explain a logged decision",
)
def explain(
    request: Request,
    who: Annotated[Caller, roles("GET /decisions/{decision_id}/explanation")],
    decision_id: IdPath,
    model: Annotated[
        str | None, Query(pattern=NAME, description="The model that made it (default: every model is searched).")
    ] = None,
    method: Annotated[Literal["shap", "lime"], Query(description="shap (additive) or lime (a local surrogate).")] = (
        "shap"
    ),
) -> Any:
    """The decision's explanation: base value, each feature's contribution, the model's output, additivity."""
    found = explain_decision(context_for(request, who), decision_id, model=model, method=method)
    return reply(ExplanationOut.model_validate(found.to_dict()))
