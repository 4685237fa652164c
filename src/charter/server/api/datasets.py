"""Datasets: provenance, versions from files on the server, column classification and certification."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import (
    Body,
    ChangeRequestOut,
    ColumnPath,
    IdPath,
    Items,
    Limit,
    ModelName,
    NamePath,
    Offset,
    OffsetPage,
    Reason,
    ServerPath,
    Text,
    VersionPath,
    offset_page,
    reply,
)
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import datasets
from charter.services.classification import PII_CATEGORIES, SENSITIVITIES
from charter.services.tokens import Caller
from charter.vocabulary import LEGAL_BASES

router = APIRouter(tags=["datasets"])


class DatasetIn(Body):
    name: ModelName
    owner: Text = ""
    description: Text = ""
    source_uri: Text = ""
    licence: Text = ""
    collected_from: Text = Field("", description="ISO-8601 date or time the collection began.")
    collected_to: Text = Field("", description="ISO-8601 date or time the collection ended.")
    legal_basis: str = Field("unknown", json_schema_extra={"enum": list(LEGAL_BASES)})


class DatasetOut(BaseModel):
    id: str
    name: str
    owner: str
    description: str
    source_uri: str
    licence: str
    collected_from: str
    collected_to: str
    legal_basis: str
    created_at: str
    updated_at: str
    versions: int


class DatasetVersionIn(Body):
    path: ServerPath = Field(description="A CSV or Parquet file (or a folder of Parquet) on the server.")
    format: str | None = Field(None, json_schema_extra={"enum": ["csv", "parquet"]})


class ColumnOut(BaseModel):
    name: str
    position: int
    dtype: str
    pii_category: str | None
    sensitivity: str
    protected: bool
    classified_by: str
    reason: str


class CertificationOut(BaseModel):
    id: str
    purpose: str
    certified_by: str
    certified_at: str
    expires_at: str
    note: str
    revoked_at: str | None
    revoked_by: str | None


class DatasetVersionOut(BaseModel):
    id: str
    dataset: str
    version: int
    ref: str
    uri: str
    sha256: str
    size: int
    format: str
    row_count: int
    schema_: list[dict[str, str]] = Field(alias="schema", serialization_alias="schema")
    quality: dict[str, Any]
    profile: dict[str, Any] | None = Field(description="Each column's kind, and the columns skipped with why.")
    creator: str
    created_at: str
    origin: dict[str, Any] | None
    columns: list[ColumnOut]
    certifications: list[CertificationOut]
    certification: str = Field(description="certified, expired, revoked or uncertified (now).")


class ClassifyIn(Body):
    pii_category: str | None = Field(None, json_schema_extra={"enum": [*PII_CATEGORIES, None]})
    clear_pii: bool = Field(False, description="Mark the column as holding no personal data.")
    sensitivity: str | None = Field(None, json_schema_extra={"enum": [*SENSITIVITIES, None]})
    protected: bool | None = Field(None, description="A protected attribute for fairness checks.")


class CertifyIn(Body):
    purpose: Text = Field(min_length=1, description="What the data is fit for, e.g. credit scoring.")
    expires_at: AwareDatetime = Field(description="When the certification lapses (ISO-8601 with a time zone).")
    note: Text = ""


class CertificationProposalIn(Body):
    purpose: Text = Field(min_length=1, description="What the data is to be certified for, e.g. credit scoring.")
    valid_days: int | None = Field(
        None, ge=1, le=3650, description="Valid this many days from when it is carried out (365 unless expires_at)."
    )
    expires_at: AwareDatetime | None = Field(None, description="Or: when it lapses (ISO-8601 with a time zone).")
    note: Text = ""
    justification: Text = Field("", description="Why (needed to open the request).")


class CertificationProposalOut(BaseModel):
    status: str = Field(description="pending_approval, or applied once the request was approved.")
    change_request: ChangeRequestOut
    certification: CertificationOut | None = Field(description="The certification recorded, when applied.")


def _version(found: datasets.DatasetVersion, now: datetime) -> DatasetVersionOut:
    return DatasetVersionOut.model_validate(found.to_dict(now))


@router.get("/datasets", response_model=OffsetPage[DatasetOut], responses=ERRORS, summary="List datasets")
def list_datasets(
    request: Request,
    who: Annotated[Caller, roles("GET /datasets")],
    owner: Annotated[Text | None, Query(description="Only datasets of this owner.")] = None,
    q: Annotated[Text | None, Query(description="Only datasets whose name contains this text.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Datasets by name; a page of ``limit`` at a time."""
    context = context_for(request, who)
    found = datasets.list_datasets(context, owner=owner, name_contains=q, limit=limit + 1, offset=offset)
    return reply(OffsetPage[DatasetOut].model_validate(offset_page([d.to_dict() for d in found], limit, offset)))


@router.post("/datasets", response_model=DatasetOut, status_code=201, responses=ERRORS, summary="Register a dataset")
def register_dataset(request: Request, who: Annotated[Caller, roles("POST /datasets")], body: DatasetIn) -> Any:
    """Add a dataset with its provenance: source, licence, collection period and legal basis."""
    found = datasets.register_dataset(context_for(request, who), datasets.DatasetSpec(**body.model_dump()))
    return DatasetOut.model_validate(found.to_dict())


@router.get("/datasets/{name}", response_model=DatasetOut, responses=ERRORS, summary="Show a dataset")
def get_dataset(request: Request, who: Annotated[Caller, roles("GET /datasets/{name}")], name: NamePath) -> Any:
    """One dataset's provenance and its number of versions."""
    return reply(DatasetOut.model_validate(datasets.get_dataset(context_for(request, who), name).to_dict()))


@router.get(
    "/datasets/{name}/versions", response_model=Items[DatasetVersionOut], responses=ERRORS,
    summary="List a dataset's versions",
)  # fmt: skip
def list_dataset_versions(
    request: Request, who: Annotated[Caller, roles("GET /datasets/{name}/versions")], name: NamePath
) -> Any:
    """Every version, oldest first, with schema, quality, classification and certifications."""
    context = context_for(request, who)
    found = datasets.list_dataset_versions(context, name)
    return reply(Items[DatasetVersionOut].model_validate({"items": [v.to_dict(context.clock.now()) for v in found]}))


@router.post(
    "/datasets/{name}/versions", response_model=DatasetVersionOut, status_code=201, responses=ERRORS,
    summary="Register a dataset version from a file on the server",
)  # fmt: skip
def add_dataset_version(
    request: Request,
    who: Annotated[Caller, roles("POST /datasets/{name}/versions")],
    name: NamePath,
    body: DatasetVersionIn,
) -> Any:
    """Read the file (on the server), fingerprint it, profile it and classify its columns as the next version."""
    context = context_for(request, who)
    found = datasets.add_dataset_version(context, name, Path(body.path), fmt=body.format)
    return _version(found, context.clock.now())


@router.get(
    "/datasets/{name}/versions/{version}", response_model=DatasetVersionOut, responses=ERRORS,
    summary="Show a dataset version",
)  # fmt: skip
def get_dataset_version(
    request: Request,
    who: Annotated[Caller, roles("GET /datasets/{name}/versions/{version}")],
    name: NamePath,
    version: VersionPath,
) -> Any:
    """One version with its columns' classification and its certifications."""
    context = context_for(request, who)
    return reply(_version(datasets.resolve_dataset_version(context, f"{name}@{version}"), context.clock.now()))


@router.patch(
    "/datasets/{name}/versions/{version}/columns/{column}", response_model=ColumnOut, responses=ERRORS,
    summary="Classify a column",
)  # fmt: skip
def classify_column(
    request: Request,
    who: Annotated[Caller, roles("PATCH /datasets/{name}/versions/{version}/columns/{column}")],
    name: NamePath,
    version: VersionPath,
    column: ColumnPath,
    body: ClassifyIn,
) -> Any:
    """Override the detected classification of a column: PII category, sensitivity, protected attribute."""
    found = datasets.classify(
        context_for(request, who), f"{name}@{version}", column, pii_category=body.pii_category,
        clear_pii=body.clear_pii, sensitivity=body.sensitivity, protected=body.protected,
    )  # fmt: skip
    return ColumnOut.model_validate(asdict(found))


@router.post(
    "/datasets/{name}/versions/{version}/certifications", response_model=CertificationOut, status_code=201,
    responses=ERRORS, summary="Certify a dataset version",
)  # fmt: skip
def certify(
    request: Request,
    who: Annotated[Caller, roles("POST /datasets/{name}/versions/{version}/certifications")],
    name: NamePath,
    version: VersionPath,
    body: CertifyIn,
) -> Any:
    """Certify the version fit for a purpose until ``expires_at`` (risk officers)."""
    found = datasets.certify(
        context_for(request, who), f"{name}@{version}", purpose=body.purpose, expires=body.expires_at, note=body.note
    )
    return CertificationOut.model_validate(asdict(found))


@router.post(
    "/datasets/{name}/versions/{version}/certifications:propose", response_model=CertificationProposalOut,
    responses=ERRORS, summary="Propose a certification",
)  # fmt: skip
def propose_certification(
    request: Request,
    who: Annotated[Caller, roles("POST /datasets/{name}/versions/{version}/certifications:propose")],
    name: NamePath,
    version: VersionPath,
    body: CertificationProposalIn,
) -> Any:
    """Ask for a certification under approval (a dataset_certification change request bound to the version's
    content); sent again once a risk-officer approved it, it records the certification."""
    days = body.valid_days if body.valid_days is not None or body.expires_at is not None else 365
    found = datasets.propose_certification(
        context_for(request, who), f"{name}@{version}", purpose=body.purpose, valid_days=days,
        expires=body.expires_at, note=body.note, justification=body.justification,
    )  # fmt: skip
    return CertificationProposalOut.model_validate(found.to_dict())


@router.post(
    "/certifications/{certification_id}/revoke", response_model=CertificationOut, responses=ERRORS,
    summary="Revoke a certification",
)  # fmt: skip
def revoke_certification(
    request: Request,
    who: Annotated[Caller, roles("POST /certifications/{certification_id}/revoke")],
    certification_id: IdPath,
    body: Reason,
) -> Any:
    """Withdraw a dataset certification, with the reason (risk officers)."""
    found = datasets.revoke_certification(context_for(request, who), certification_id, reason=body.reason)
    return CertificationOut.model_validate(asdict(found))
