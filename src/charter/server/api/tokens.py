"""API tokens (admins): create one for a principal (its secret is shown once), list them, revoke one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import Body, Ident, IdPath, Items, Text, reply
from charter.server.errors import ERRORS
from charter.server.security import ROLES, context_for
from charter.services import tokens
from charter.services.tokens import Caller

router = APIRouter(tags=["tokens"])


class TokenOut(BaseModel):
    id: str
    principal: str
    name: str
    created_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class CreatedTokenOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="The bearer secret (ctk_...): shown this once, stored only as its SHA-256.")


class TokenIn(Body):
    principal: Ident = Field(description="Who the token acts as, e.g. svc:ci.")
    roles: list[str] = Field(
        default_factory=list,
        json_schema_extra={"items": {"enum": list(ROLES)}},
        description="Roles granted to the principal too.",
    )
    name: Text = ""
    expires_at: AwareDatetime | None = Field(None, description="When it stops working (default: never).")


@router.get("/tokens", response_model=Items[TokenOut], responses=ERRORS, summary="List tokens")
def list_tokens(
    request: Request,
    who: Annotated[Caller, roles("GET /tokens")],
    principal: Annotated[Ident | None, Query(description="Only this principal's tokens.")] = None,
) -> Any:
    """Tokens, newest first (never their secrets)."""
    found = tokens.list_tokens(context_for(request, who), principal=principal)
    return reply(Items[TokenOut].model_validate({"items": [t.to_dict() for t in found]}))


@router.post("/tokens", response_model=CreatedTokenOut, status_code=201, responses=ERRORS, summary="Create a token")
def create_token(request: Request, who: Annotated[Caller, roles("POST /tokens")], body: TokenIn) -> Any:
    """A new token for ``principal``; the roles given are granted to the principal on the ledger."""
    found, secret = tokens.create_token(
        context_for(request, who), body.principal, roles=tuple(body.roles), name=body.name, expires=body.expires_at
    )
    request.app.state.token_cache.clear()  # the roles it granted hold for the principal's other tokens at once
    return CreatedTokenOut(token=TokenOut.model_validate(found.to_dict()), secret=secret)


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, responses=ERRORS, summary="Revoke a token")
def revoke_token(
    request: Request, who: Annotated[Caller, roles("POST /tokens/{token_id}/revoke")], token_id: IdPath
) -> Any:
    """The token stops working at once."""
    found = tokens.revoke_token(context_for(request, who), token_id)
    request.app.state.token_cache.clear()
    return TokenOut.model_validate(found.to_dict())
