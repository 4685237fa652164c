"""The audit ledger: entries paged and filtered, and verification of the whole chain.

Pages follow ``next_cursor``: ask again with ``cursor=<next_cursor>`` (and the same filters and
order) until it is null. The cursor continues after the last entry shown, so entries appended
meanwhile never shift a page.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from charter.ledger.chain import EntryFilter
from charter.server.api.access import roles
from charter.server.api.schemas import Ident, LedgerEntryOut, VerifyOut
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import audit, pages
from charter.services.tokens import Caller

router = APIRouter(tags=["ledger"])


class EntryPageOut(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


@router.get("/ledger", response_model=EntryPageOut, responses=ERRORS, summary="Ledger entries")
def list_entries(
    request: Request,
    who: Annotated[Caller, roles("GET /ledger")],
    action: Annotated[Ident | None, Query(description="e.g. model.registered, or model.* for a prefix.")] = None,
    subject: Annotated[Ident | None, Query(description="e.g. model:credit-risk, incident:<id>.")] = None,
    actor: Annotated[Ident | None, Query(description="The principal who acted, e.g. svc:ci.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Entries at or after this time.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Entries before this time.")] = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=pages.MAX_LEDGER_PAGE, description="Entries per page.")] = 100,
    cursor: Annotated[Ident | None, Query(description="The next_cursor of the previous page.")] = None,
) -> Any:
    """Entries matching every filter given, newest first (or oldest first), a page at a time."""
    where = EntryFilter(subject=subject, actor=actor, action=action, since=since, until=until)
    found = pages.ledger_page(
        context_for(request, who), where, limit=limit, cursor=cursor, oldest_first=order == "oldest"
    )
    return EntryPageOut.model_validate(
        {"items": [e.to_dict() for e in found.entries], "next_cursor": found.next_cursor}
    )


@router.post("/ledger/verify", response_model=VerifyOut, responses=ERRORS, summary="Verify the ledger")
def verify(request: Request, who: Annotated[Caller, roles("POST /ledger/verify")]) -> Any:
    """Check every entry's hash chain, the head and the signed checkpoints; report each problem found."""
    return VerifyOut.model_validate(audit.verify_ledger(context_for(request, who)).to_dict())
