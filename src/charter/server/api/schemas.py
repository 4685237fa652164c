"""What the REST API's routes share: parameter types, list and page envelopes, and common bodies.

Every string the API takes refuses NUL characters (PostgreSQL cannot store them), and names,
aliases and references carry the registry's own patterns, so a malformed one is a 422 naming
the parameter before any service runs. Area-specific request and response models live beside
their routes.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

NO_NUL = r"^[^\x00]*$"
NAME = r"^[a-z0-9][a-z0-9._-]{0,99}$"
ALIAS = r"^[a-z][a-z0-9_-]{0,49}$"
_VERSION = r"[1-9][0-9]{0,8}"
MODEL_REF = rf"^[a-z0-9][a-z0-9._-]{{0,99}}(@{_VERSION}|:[a-z][a-z0-9_-]{{0,49}})?$"
DATASET_REF = rf"^[a-z0-9][a-z0-9._-]{{0,99}}(@{_VERSION})?$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
INCIDENT_REF = r"^(?:[Ii][Nn][Cc]-)?[1-9][0-9]{0,8}$|" + UUID
#: Version numbers fit PostgreSQL's integer; counts and sizes its bigint.
MAX_VERSION = 999_999_999
MAX_COUNT = 2**62

#: Free text in a body or a query: anything but NUL.
Text = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]
#: A short identifier (a principal, an id, a column, a metric).
Ident = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]


def _on_server(value: str) -> str:
    if not (value.startswith(("/", "file:")) or "://" in value):
        raise ValueError("give an absolute path on the server (or a URI): relative paths are ambiguous there")
    return value


#: What :func:`_on_server` accepts, for the OpenAPI document (the validator gives the clearer message).
SERVER_PATH = r"^(?:/|file:|[^\x00]*://)[^\x00]*$"
#: A file on the server (an absolute path or a file:// URI), or for artifacts another URI.
ServerPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4096, pattern=NO_NUL),
    AfterValidator(_on_server),
    Field(json_schema_extra={"pattern": SERVER_PATH}),
]
ModelName = Annotated[str, StringConstraints(pattern=NAME)]
ModelRef = Annotated[str, StringConstraints(pattern=MODEL_REF)]
DatasetRef = Annotated[str, StringConstraints(pattern=DATASET_REF)]
AliasName = Annotated[str, StringConstraints(pattern=ALIAS)]

# Path parameters.
NamePath = Annotated[str, Path(pattern=NAME, description="A model or dataset name, e.g. credit-risk.")]
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version number, from 1.")]
AliasPath = Annotated[str, Path(pattern=ALIAS, description="An alias, e.g. prod.")]
IdPath = Annotated[str, Path(pattern=UUID, description="An id (a UUID).")]
IncidentPath = Annotated[str, Path(pattern=INCIDENT_REF, description="An incident: INC-7, 7, or its id.")]
ColumnPath = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="A column's name.")]

# Query parameters of the list routes that page by offset.
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many items (a page).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many first.")]


class Items(BaseModel, Generic[T]):
    """A list of objects; lists that page carry ``next_offset`` or ``next_cursor`` as well."""

    items: list[T]


class OffsetPage(BaseModel, Generic[T]):
    """A page of a list ordered by name: ask again with ``offset=next_offset`` until it is null."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last page.")


def reply(body: BaseModel, status_code: int = 200) -> Response:
    """``body`` (already validated: it is a model instance) as the JSON response, serialised once.

    A route returning its model would have FastAPI validate it again against the route's
    ``response_model`` in a second worker thread; a route that returns this skips both, and its
    ``response_model`` still documents the body in OpenAPI.
    """
    return Response(body.model_dump_json(by_alias=True), status_code, media_type="application/json")


def offset_page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """The fields of an :class:`OffsetPage` for ``items`` fetched with ``limit + 1``."""
    return {"items": items[:limit], "limit": limit, "offset": offset,
            "next_offset": offset + limit if len(items) > limit else None}  # fmt: skip


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


class Justified(Body):
    justification: Text = Field(description="Why: recorded on the ledger with the decision.")


class Reason(Body):
    reason: Text = Field(description="Why: recorded on the ledger.")


class Note(Body):
    note: Text = Field("", description="A note for the timeline.")


class LedgerEntryOut(BaseModel):
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ProblemOut(BaseModel):
    kind: str
    seq: int | None
    message: str


class VerifyOut(BaseModel):
    """What verification found: ``ok`` and, when not, each problem with where it is."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problems: list[ProblemOut]


class AliasMoveOut(BaseModel):
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: str
    ledger_seq: int = Field(description="The ledger entry that records the move.")


class RequirementOut(BaseModel):
    count: int
    roles: list[str]
    mode: str = Field(description="any: count approvals from any of roles; all: one from each role.")


class ApprovalOut(BaseModel):
    id: str
    principal: str
    role: str
    decision: str = Field(description="approve or reject.")
    justification: str
    payload_sha256: str
    at: str


class ChangeRequestOut(BaseModel):
    """A change waiting for (or done after) its approvals; ``payload_sha256`` binds approvals to the exact change."""

    id: str
    kind: str
    subject: str
    payload: dict[str, Any]
    payload_sha256: str
    requester: str
    justification: str
    required: RequirementOut
    state: str = Field(description="pending, approved, rejected, revoked, expired or executed.")
    break_glass: bool
    review_due_at: str | None
    reviewed_by: str | None
    gate_result_id: str | None
    expires_at: str
    created_at: str
    updated_at: str
    approvals: list[ApprovalOut]
    missing: str = Field(description="Who still has to approve, in words; empty once the requirement is met.")
