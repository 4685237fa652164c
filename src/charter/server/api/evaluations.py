"""Evaluations: the scorecards gates read. A training pipeline records the results it computed.

Running an evaluation on the server (loading the artifact, predicting on a dataset version) is a
CLI job (``charter evaluate``); over HTTP an evaluation is recorded, as the SDK and the MLflow
import record theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import MAX_COUNT, MODEL_REF, Body, Ident, IdPath, Items, ModelRef, Text, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import evaluation
from charter.services.tokens import Caller

router = APIRouter(tags=["evaluations"])


class EvaluationOut(BaseModel):
    id: str
    model: str
    version: int
    ref: str
    dataset: str
    source: str
    label: str
    rows: int
    metrics: dict[str, float]
    slices: dict[str, dict[str, dict[str, Any]]] = Field(description="Column -> value -> that slice's metrics.")
    fairness: dict[str, dict[str, Any]] = Field(description="Protected attribute -> fairness metrics.")
    suites: dict[str, dict[str, Any]]
    notes: list[str]
    created_by: str
    created_at: str
    explanations: dict[str, Any] | None


class EvaluationIn(Body):
    ref: ModelRef = Field(description="The model version evaluated, e.g. credit-risk@3.")
    dataset: Text = Field(min_length=1, description="A dataset version (transactions@2) or a free name.")
    metrics: dict[Ident, float] = Field(min_length=1, description="Metric name -> a finite number.")
    source: str = Field("sdk", json_schema_extra={"enum": list(evaluation.SOURCES)})
    label: Text = ""
    rows: int = Field(0, ge=0, le=MAX_COUNT)
    slices: dict[Ident, dict[Text, dict[Ident, Any]]] = Field(default_factory=dict)
    fairness: dict[Ident, dict[Ident, Any]] = Field(default_factory=dict)
    notes: list[Text] = Field(default_factory=list)


@router.get("/evaluations", response_model=Items[EvaluationOut], responses=ERRORS, summary="A version's evaluations")
def list_evaluations(
    request: Request,
    who: Annotated[Caller, roles("GET /evaluations")],
    ref: Annotated[str, Query(pattern=MODEL_REF, description="The model version, e.g. credit-risk@3.")],
) -> Any:
    """The version's evaluations, newest first."""
    found = evaluation.list_evaluations(context_for(request, who), ref)
    return reply(Items[EvaluationOut].model_validate({"items": [e.to_dict() for e in found]}))


@router.post(
    "/evaluations", response_model=EvaluationOut, status_code=201, responses=ERRORS, summary="Record an evaluation"
)
def record_evaluation(request: Request, who: Annotated[Caller, roles("POST /evaluations")], body: EvaluationIn) -> Any:
    """Store metrics computed elsewhere (a training pipeline) as an evaluation of the version, with its source."""
    found = evaluation.record_evaluation(
        context_for(request, who), body.ref, dataset=body.dataset, metrics=body.metrics, source=body.source,
        label=body.label, rows=body.rows, slices=body.slices, fairness=body.fairness, notes=body.notes,
    )  # fmt: skip
    return EvaluationOut.model_validate(found.to_dict())


@router.get(
    "/evaluations/{evaluation_id}", response_model=EvaluationOut, responses=ERRORS, summary="Show an evaluation"
)
def get_evaluation(
    request: Request, who: Annotated[Caller, roles("GET /evaluations/{evaluation_id}")], evaluation_id: IdPath
) -> Any:
    """One evaluation: metrics, slices, fairness, suites and notes."""
    return reply(
        EvaluationOut.model_validate(evaluation.get_evaluation(context_for(request, who), evaluation_id).to_dict())
    )
