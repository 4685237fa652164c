"""API tokens: a bearer secret that makes a request act as a principal.

An admin creates a token for a principal (``charter token create --principal svc:ci --role
developer``); the roles given are granted to the principal on the ledger if it does not hold
them, so a request's roles are always the principal's current grants — revoking a role takes
effect on the next request. The secret (``ctk_`` + 43 characters of URL-safe base64, 256 bits)
is shown once; only its SHA-256 is stored. Creating and revoking tokens are ledger entries
(``token.created`` / ``token.revoked``, subject ``principal:<name>``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from charter.clock import format_timestamp, parse_timestamp
from charter.errors import Conflict, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.services.access import check_principal, check_role, require, roles_of
from charter.services.context import Context
from charter.store.schema import api_tokens, role_grants

PREFIX = "ctk_"


@dataclass(frozen=True)
class Token:
    id: str
    principal: str
    name: str
    created_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Caller:
    """Who a request acts as."""

    principal: str
    roles: tuple[str, ...]
    token_id: str
    expires_at: str | None = None  # the token's expiry, when it has one


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    context: Context, principal: str, *, roles: tuple[str, ...] = (), name: str = "", expires: datetime | None = None
) -> tuple[Token, str]:
    """A new token for ``principal`` (admins only); returns it and its secret, which is not stored."""
    principal = check_principal(principal)
    for role in roles:
        check_role(role)
    now = context.clock.now()
    if expires is not None and expires <= now:
        raise InvalidInput(f"the token would expire at {format_timestamp(expires)}, which is not in the future")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = {
        "id": new_id(), "principal": principal, "name": name.strip() or "token", "token_hash": hash_secret(secret),
        "created_by": context.actor, "created_at": format_timestamp(now),
        "expires_at": None if expires is None else format_timestamp(expires), "revoked_at": None,
    }  # fmt: skip
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "role.manage")
        held = roles_of(uow.connection, principal)
        for role in roles:
            if role not in held:
                uow.execute(role_grants.insert().values(
                    id=new_id(), principal=principal, role=role, granted_by=context.actor, granted_at=row["created_at"],
                    reason=f"with API token {row['name']}",
                ))  # fmt: skip
                uow.record("role.granted", f"principal:{principal}", {"role": role, "reason": f"token {row['id']}"})
        uow.execute(api_tokens.insert().values(row))
        uow.record("token.created", f"principal:{principal}", {
            "token": row["id"], "name": row["name"], "expires_at": row["expires_at"], "roles": list(roles),
        })  # fmt: skip
    return _token(row), secret


def revoke_token(context: Context, token_id: str) -> Token:
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "role.manage")
        row = uow.connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
        if row is None:
            raise NotFound(f"no token {token_id!r} (`charter token list` shows them)")
        if row["revoked_at"] is not None:
            raise Conflict(f"token {token_id} was already revoked at {row['revoked_at']}")
        now = format_timestamp(context.clock.now())
        uow.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
        uow.record("token.revoked", f"principal:{row['principal']}", {"token": token_id})
        return _token({**dict(row), "revoked_at": now})


def list_tokens(context: Context, *, principal: str | None = None) -> list[Token]:
    query = select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())
    if principal is not None:
        query = query.where(api_tokens.c.principal == principal)
    with context.engine.connect() as connection:
        return [_token(dict(r)) for r in connection.execute(query).mappings()]


def authenticate(connection: Connection, secret: str, now: datetime) -> Caller | None:
    """The caller a bearer secret stands for, or None (unknown, revoked or expired: the same answer)."""
    if not secret.startswith(PREFIX):
        return None
    row = (
        connection.execute(select(api_tokens).where(api_tokens.c.token_hash == hash_secret(secret))).mappings().first()
    )
    if row is None or row["revoked_at"] is not None:
        return None
    if row["expires_at"] is not None and parse_timestamp(row["expires_at"]) <= now:
        return None
    principal = str(row["principal"])
    return Caller(principal, roles_of(connection, principal), str(row["id"]), row["expires_at"])


def _token(row: dict[str, Any]) -> Token:
    return Token(**{k: row[k] for k in Token.__dataclass_fields__})
