"""Lineage: what a model or dataset version was built from, and what a dataset version feeds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import DATASET_REF, MODEL_REF, Body, DatasetRef, Ident, ModelRef, Text, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import lineage
from charter.services.tokens import Caller

router = APIRouter(tags=["lineage"])

RefPath = Annotated[
    str,
    Path(pattern=MODEL_REF, description="A model version (credit-risk@3, credit-risk:prod) or dataset version."),
]
DatasetRefPath = Annotated[str, Path(pattern=DATASET_REF, description="A dataset version, e.g. transactions@2.")]


class EdgeOut(BaseModel):
    source: str
    target: str
    role: str
    transform: str
    code_ref: str
    parameters: dict[str, Any]
    features: dict[str, str] = Field(description="Model feature -> the source column it comes from.")


class InputOut(BaseModel):
    edge: EdgeOut
    source: NodeOut


class NodeOut(BaseModel):
    kind: str
    ref: str
    aliases: list[str]
    inputs: list[InputOut]


InputOut.model_rebuild()


class ImpactedModelOut(BaseModel):
    ref: str
    aliases: list[str]
    role: str
    via: list[str] = Field(description="The dataset versions between the one asked about and this model.")


class ImpactOut(BaseModel):
    dataset: str
    derived: list[str]
    models: list[ImpactedModelOut]


class EdgeIn(Body):
    source: DatasetRef = Field(description="The dataset version that feeds the target.")
    to_dataset: DatasetRef | None = None
    to_model: ModelRef | None = None
    role: Text = Field("", description="training, validation, evaluation (to a model) or derived (default).")
    transform: Text = ""
    code_ref: Text = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    features: dict[Ident, Ident] = Field(default_factory=dict, description="Target feature -> source column.")


@router.get("/lineage/{ref}/upstream", response_model=NodeOut, responses=ERRORS, summary="What a version came from")
def upstream(
    request: Request,
    who: Annotated[Caller, roles("GET /lineage/{ref}/upstream")],
    ref: RefPath,
    kind: Literal["model", "dataset"] = "model",
) -> Any:
    """The tree of everything the version was built from, nearest inputs first (``kind`` says what ``ref`` is)."""
    return reply(NodeOut.model_validate(lineage.upstream(context_for(request, who), ref, kind=kind).to_dict()))


@router.get("/lineage/{ref}/impact", response_model=ImpactOut, responses=ERRORS, summary="What a dataset feeds")
def impact(request: Request, who: Annotated[Caller, roles("GET /lineage/{ref}/impact")], ref: DatasetRefPath) -> Any:
    """Every dataset version derived from ``ref`` and every model version (with its aliases) fed by any of them."""
    return reply(ImpactOut.model_validate(lineage.impact(context_for(request, who), ref).to_dict()))


@router.post("/lineage/edges", response_model=EdgeOut, status_code=201, responses=ERRORS, summary="Link versions")
def add_edge(request: Request, who: Annotated[Caller, roles("POST /lineage/edges")], body: EdgeIn) -> Any:
    """Record that a dataset version feeds a dataset version (``to_dataset``) or a model version (``to_model``)."""
    found = lineage.add_edge(
        context_for(request, who), body.source, to_dataset=body.to_dataset, to_model=body.to_model, role=body.role,
        transform=body.transform, code_ref=body.code_ref, parameters=body.parameters, features=body.features,
    )  # fmt: skip
    return EdgeOut.model_validate(found.to_dict())
