"""The decision lake: which models have logged decisions, a window of them a page at a time, and verification.

A window is ``start <= ts < end`` (either open), of some versions or of one alias, ordered by time
and then decision id; ``columns`` picks columns (default: all but the lake's own ``_batch`` and
``_row_hash``). Pages follow ``next_cursor`` as the ledger's do; a page holds at most 1,000 rows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import ALIAS, MAX_VERSION, NAME, Ident, Items, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import lake, pages
from charter.services.tokens import Caller

router = APIRouter(tags=["lake"])

ModelPath = Annotated[str, Path(pattern=NAME, description="The model whose decisions are read, e.g. credit-risk.")]


class LakeModelOut(BaseModel):
    model: str
    decisions: int
    outcomes: int
    version: int = Field(description="The decisions table's Delta version.")
    uri: str


class DecisionPageOut(BaseModel):
    model: str
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="One JSON object per decision: times ISO-8601, binary as hex.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


class LakeProblemOut(BaseModel):
    kind: str
    table: str
    batch: str
    decision_id: str | None
    detail: str


class LakeReportOut(BaseModel):
    model: str
    ok: bool
    batches: int
    rows: int
    erased: int
    problems: list[LakeProblemOut]


@router.get("/lake", response_model=Items[LakeModelOut], responses=ERRORS, summary="Models with logged decisions")
def overview(request: Request, who: Annotated[Caller, roles("GET /lake")]) -> Any:
    """Every model with a decisions table: row counts, table version and location."""
    return reply(Items[LakeModelOut].model_validate({"items": lake.lake_overview(context_for(request, who))}))


@router.get(
    "/lake/{model}/decisions", response_model=DecisionPageOut, responses=ERRORS, summary="A window of decisions"
)
def decisions(
    request: Request,
    who: Annotated[Caller, roles("GET /lake/{model}/decisions")],
    model: ModelPath,
    start: Annotated[AwareDatetime | None, Query(description="Decisions at or after this time.")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Decisions before this time.")] = None,
    version: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_VERSION)]] | None,
        Query(description="Only decisions of these model versions (repeat the parameter)."),
    ] = None,
    alias: Annotated[str | None, Query(pattern=ALIAS, description="Only decisions served through this alias.")] = None,
    columns: Annotated[list[Ident] | None, Query(description="Only these columns (repeat the parameter).")] = None,
    limit: Annotated[int, Query(ge=1, le=pages.MAX_LAKE_PAGE, description="Rows per page.")] = 100,
    cursor: Annotated[Ident | None, Query(description="The next_cursor of the previous page.")] = None,
) -> Any:
    """One page of the window, ordered by time then decision id."""
    found = pages.decisions_page(
        context_for(request, who), model, start=start, end=end, versions=version, alias=alias, columns=columns,
        limit=limit, cursor=cursor,
    )  # fmt: skip
    return reply(DecisionPageOut.model_validate(found.__dict__))


@router.post("/lake/{model}/verify", response_model=LakeReportOut, responses=ERRORS, summary="Verify a model's lake")
def verify(request: Request, who: Annotated[Caller, roles("POST /lake/{model}/verify")], model: ModelPath) -> Any:
    """Check every row of the model's tables against the Merkle roots anchored on the ledger."""
    return LakeReportOut.model_validate(lake.verify_lake(context_for(request, who), model).to_dict())
