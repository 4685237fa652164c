"""Models, their versions, aliases and documents.

Registering a version names its artifact: a path on the server (or a ``file://`` URI), which the
server hashes, or another URI (``s3://...``) with the ``sha256`` and ``size`` the caller states.
Aliases are read here; an alias moves through ``POST /promotions`` (the gate and its approvals).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import (
    MAX_COUNT,
    AliasMoveOut,
    AliasPath,
    Body,
    DatasetRef,
    Items,
    Limit,
    ModelName,
    NamePath,
    Offset,
    OffsetPage,
    ServerPath,
    Text,
    VersionPath,
    offset_page,
    reply,
)
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import aliases, documents, model_cards, registry
from charter.services.artifacts import digest_artifact
from charter.services.tokens import Caller
from charter.vocabulary import RISK_TIERS, TASKS

router = APIRouter(tags=["models"])


class ModelIn(Body):
    name: ModelName
    task: str = Field(json_schema_extra={"enum": list(TASKS)})
    risk_tier: str = Field(json_schema_extra={"enum": list(RISK_TIERS)})
    owner: Text = ""
    team: Text = ""
    description: Text = ""
    intended_use: Text = ""
    limitations: Text = ""
    tags: list[Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]] = Field(
        default_factory=list
    )


class ModelOut(BaseModel):
    id: str
    name: str
    task: str
    risk_tier: str
    owner: str
    team: str
    description: str
    intended_use: str
    limitations: str
    created_at: str
    updated_at: str
    tags: list[str]
    versions: int
    aliases: dict[str, int] = Field(description="Alias name -> the version number it points at.")


class VersionIn(Body):
    artifact: ServerPath = Field(
        description="An absolute path on the server or a file:// URI (hashed by the server), or another URI "
        "(s3://, gs://, https://) whose sha256 and size you give.",
    )
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    size: int | None = Field(None, ge=0, le=MAX_COUNT)
    framework: Text = ""
    flavour: Text = ""
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    source_commit: Text = ""
    source_url: Text = ""
    trained_on: list[DatasetRef] = Field(
        default_factory=list, description="Dataset versions it was trained on, e.g. transactions@2."
    )


class VersionOut(BaseModel):
    id: str
    model: str
    version: int
    ref: str
    artifact_uri: str
    artifact_sha256: str
    artifact_size: int
    framework: str
    flavour: str
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    source_commit: str
    source_url: str
    creator: str
    status: str
    created_at: str
    training_run: dict[str, Any] | None
    aliases: list[str]


class StatusIn(Body):
    status: Literal["registered", "archived"]
    reason: Text


class DocumentIn(Body):
    path: ServerPath = Field(description="The document's absolute path on the server.")
    kind: str = Field(json_schema_extra={"enum": list(documents.KINDS)})
    title: Text = ""
    version: int | None = Field(None, ge=1, le=999_999_999, description="Attach to this version, not the model.")


class DocumentOut(BaseModel):
    id: str
    model: str
    version: int | None
    kind: str
    title: str
    uri: str
    sha256: str
    size: int
    created_by: str
    created_at: str


@router.get("/models", response_model=OffsetPage[ModelOut], responses=ERRORS, summary="List models")
def list_models(
    request: Request,
    who: Annotated[Caller, roles("GET /models")],
    tag: Annotated[Text | None, Query(description="Only models with this tag.")] = None,
    owner: Annotated[Text | None, Query(description="Only models of this owner.")] = None,
    risk_tier: Annotated[str | None, Query(json_schema_extra={"enum": list(RISK_TIERS)})] = None,
    alias: Annotated[Text | None, Query(description="Only models that have this alias.")] = None,
    q: Annotated[Text | None, Query(description="Only models whose name contains this text.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Models by name, filtered; a page of ``limit`` at a time."""
    found = registry.list_models(
        context_for(request, who), tag=tag, owner=owner, risk_tier=risk_tier, alias=alias, name_contains=q,
        limit=limit + 1, offset=offset,
    )  # fmt: skip
    return reply(OffsetPage[ModelOut].model_validate(offset_page([m.to_dict() for m in found], limit, offset)))


@router.post("/models", response_model=ModelOut, status_code=201, responses=ERRORS, summary="Register a model")
def register_model(request: Request, who: Annotated[Caller, roles("POST /models")], body: ModelIn) -> Any:
    """Add a model to the inventory; its name must be new (409 otherwise)."""
    spec = registry.ModelSpec(**{**body.model_dump(), "tags": tuple(body.tags)})
    return ModelOut.model_validate(registry.register_model(context_for(request, who), spec).to_dict())


@router.get("/models/{name}", response_model=ModelOut, responses=ERRORS, summary="Show a model")
def get_model(request: Request, who: Annotated[Caller, roles("GET /models/{name}")], name: NamePath) -> Any:
    """One model with its tags, version count and aliases."""
    return reply(ModelOut.model_validate(registry.get_model(context_for(request, who), name).to_dict()))


@router.get(
    "/models/{name}/versions", response_model=Items[VersionOut], responses=ERRORS, summary="List a model's versions"
)
def list_versions(
    request: Request,
    who: Annotated[Caller, roles("GET /models/{name}/versions")],
    name: NamePath,
    status: Literal["registered", "archived"] | None = None,
) -> Any:
    """Every version of the model, oldest first."""
    found = registry.list_versions(context_for(request, who), name, status=status)
    return reply(Items[VersionOut].model_validate({"items": [v.to_dict() for v in found]}))


@router.post(
    "/models/{name}/versions", response_model=VersionOut, status_code=201, responses=ERRORS,
    summary="Register a version",
)  # fmt: skip
def register_version(
    request: Request, who: Annotated[Caller, roles("POST /models/{name}/versions")], name: NamePath, body: VersionIn
) -> Any:
    """Add the next version with its artifact's SHA-256 (see the module notes on artifacts), schemas and source."""
    digest = digest_artifact(body.artifact, sha256=body.sha256, size=body.size)
    version = registry.register_version(
        context_for(request, who), name, digest, framework=body.framework, flavour=body.flavour,
        input_schema=body.input_schema, output_schema=body.output_schema, source_commit=body.source_commit,
        source_url=body.source_url, trained_on=tuple(body.trained_on),
    )  # fmt: skip
    return VersionOut.model_validate(version.to_dict())


@router.get("/models/{name}/versions/{version}", response_model=VersionOut, responses=ERRORS, summary="Show a version")
def get_version(
    request: Request,
    who: Annotated[Caller, roles("GET /models/{name}/versions/{version}")],
    name: NamePath,
    version: VersionPath,
) -> Any:
    """One version: artifact digest, schemas, source and the aliases pointing at it."""
    return reply(
        VersionOut.model_validate(registry.resolve_version(context_for(request, who), f"{name}@{version}").to_dict())
    )


class ModelCardOut(BaseModel):
    ref: str = Field(description="The version the card is about, e.g. credit-risk@3.")
    markdown: str = Field(description="The model card, as Markdown.")


@router.get(
    "/models/{name}/versions/{version}/card", response_model=ModelCardOut, responses=ERRORS,
    summary="A version's model card",
)  # fmt: skip
def get_model_card(
    request: Request,
    who: Annotated[Caller, roles("GET /models/{name}/versions/{version}/card")],
    name: NamePath,
    version: VersionPath,
) -> Any:
    """The version's model card in Markdown: inventory fields, lineage, evaluations, explanations, gates, incidents."""
    card = model_cards.render_model_card(context_for(request, who), f"{name}@{version}")
    return reply(ModelCardOut.model_validate(card.to_dict()))


@router.post(
    "/models/{name}/versions/{version}/status", response_model=VersionOut, responses=ERRORS,
    summary="Archive or restore a version",
)  # fmt: skip
def set_version_status(
    request: Request,
    who: Annotated[Caller, roles("POST /models/{name}/versions/{version}/status")],
    name: NamePath,
    version: VersionPath,
    body: StatusIn,
) -> Any:
    """Archive a version (it can no longer take an alias) or restore it; 409 while an alias points at it."""
    found = registry.set_status(context_for(request, who), f"{name}@{version}", body.status, reason=body.reason)
    return VersionOut.model_validate(found.to_dict())


@router.get("/models/{name}/aliases/{alias}", response_model=VersionOut, responses=ERRORS, summary="Resolve an alias")
def get_alias(
    request: Request, who: Annotated[Caller, roles("GET /models/{name}/aliases/{alias}")], name: NamePath,
    alias: AliasPath,
) -> Any:  # fmt: skip
    """The version ``name:alias`` points at now."""
    return reply(
        VersionOut.model_validate(registry.resolve_version(context_for(request, who), f"{name}:{alias}").to_dict())
    )


@router.get(
    "/models/{name}/aliases/{alias}/history", response_model=Items[AliasMoveOut], responses=ERRORS,
    summary="An alias's moves",
)  # fmt: skip
def alias_history(
    request: Request, who: Annotated[Caller, roles("GET /models/{name}/aliases/{alias}/history")], name: NamePath,
    alias: AliasPath,
) -> Any:  # fmt: skip
    """Every move of the alias, oldest first, each with the ledger entry that records it."""
    moves = aliases.history(context_for(request, who), name, alias)
    return reply(Items[AliasMoveOut].model_validate({"items": [m.to_dict() for m in moves]}))


@router.get(
    "/models/{name}/documents", response_model=Items[DocumentOut], responses=ERRORS, summary="A model's documents"
)
def list_documents(
    request: Request,
    who: Annotated[Caller, roles("GET /models/{name}/documents")],
    name: NamePath,
    version: Annotated[
        int | None, Query(ge=1, le=999_999_999, description="Only those that cover this version.")
    ] = None,
) -> Any:
    """Every document of the model (with ``version``: that version's and the model-wide ones), newest first."""
    reference = name if version is None else f"{name}@{version}"
    found = documents.documents_for(context_for(request, who), reference)
    return reply(Items[DocumentOut].model_validate({"items": [d.to_dict() for d in found]}))


@router.post(
    "/models/{name}/documents", response_model=DocumentOut, status_code=201, responses=ERRORS,
    summary="Attach a document",
)  # fmt: skip
def attach_document(
    request: Request, who: Annotated[Caller, roles("POST /models/{name}/documents")], name: NamePath, body: DocumentIn
) -> Any:
    """Record a document on the server (its location and SHA-256) as evidence for the model or a version."""
    from pathlib import Path

    reference = name if body.version is None else f"{name}@{body.version}"
    found = documents.attach(context_for(request, who), reference, body.kind, Path(body.path), title=body.title)
    return DocumentOut.model_validate(found.to_dict())
