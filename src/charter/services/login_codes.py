"""One-time login codes: a short-lived, single-use secret that a browser trades for a dashboard session.

They are the dashboard's only kind of one-time sign-in, behind two links: ``charter demo`` prints
``/login/once?code=...``, which signs the person at the terminal in with one click; an admin
sends ``/login/link?code=...`` (``charter.server.web.create_login_link``) by mail or chat, which
shows a confirmation button first (:func:`peek_login_code` checks the code without using it, so a
scanner that opens the link does not spend it) and redeems the code when it is pressed. An admin
mints a code for a principal; Charter keeps only its SHA-256, in a row of ``api_tokens`` named
``one-time login`` (on the ledger as ``token.created``, so ``charter token list`` shows every
code ever minted). The code's prefix, ``clc_``, is not an API token's, so bearer authentication
never accepts a code.

Redeeming a code is one unit of work: the code's row is revoked, so it works once, whichever
server of the home sees it and even after a restart; and a *session token* is minted for the
principal, whose secret is thrown away at once: the dashboard's session cookie names it by id,
so revoking it ends the session (``login.code_redeemed`` names both). A code that is unknown,
already used or expired is refused with one message that does not say which, so probing for
codes learns nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import RowMapping, select, update

from charter.clock import format_timestamp, parse_timestamp
from charter.errors import InvalidInput, Unauthenticated
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.services.access import check_principal, require, roles_of
from charter.services.context import Context
from charter.services.tokens import hash_secret
from charter.store.schema import api_tokens

PREFIX = "clc_"
CODE_NAME = "one-time login"
SESSION_NAME = "dashboard session"
CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_LIFETIME = timedelta(hours=1)
SESSION_LIFETIME = timedelta(hours=8)
REFUSED = "this sign-in link is invalid, has expired or was already used; ask an admin for a new one"


@dataclass(frozen=True)
class LoginCode:
    token_id: str  # the code's row in api_tokens
    principal: str
    code: str  # shown once, never stored
    expires_at: str


@dataclass(frozen=True)
class Redeemed:
    principal: str
    session_token_id: str
    session_expires_at: str


def mint_login_code(context: Context, principal: str, *, lifetime: timedelta = CODE_LIFETIME) -> LoginCode:
    """A code that signs ``principal`` in once within ``lifetime``; the actor must be an admin."""
    principal = check_principal(principal)
    if not timedelta(0) < lifetime <= MAX_CODE_LIFETIME:
        raise InvalidInput(f"a login code lasts more than 0 and at most {MAX_CODE_LIFETIME}, not {lifetime}")
    now = context.clock.now()
    code = PREFIX + secrets.token_urlsafe(32)
    row = {
        "id": new_id(), "principal": principal, "name": CODE_NAME, "token_hash": hash_secret(code),
        "created_by": context.actor, "created_at": format_timestamp(now),
        "expires_at": format_timestamp(now + lifetime), "revoked_at": None,
    }  # fmt: skip
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "role.manage")
        if not roles_of(uow.connection, principal):
            raise InvalidInput(
                f"{principal} holds no role, so a session would show nothing; grant one first "
                f"(`charter role grant {principal} viewer`)"
            )
        uow.execute(api_tokens.insert().values(row))
        uow.record("token.created", f"principal:{principal}", {
            "token": row["id"], "name": CODE_NAME, "expires_at": row["expires_at"], "roles": [],
        })  # fmt: skip
    return LoginCode(str(row["id"]), principal, code, str(row["expires_at"]))


def peek_login_code(context: Context, code: str) -> str:
    """The principal ``code`` would sign in, without using it up; Unauthenticated (:data:`REFUSED`) if it cannot."""
    return str(_usable(context, code, context.clock.now())["principal"])


def redeem_login_code(context: Context, code: str, *, session_lifetime: timedelta = SESSION_LIFETIME) -> Redeemed:
    """Use ``code`` up and mint the session token it buys; Unauthenticated (:data:`REFUSED`) if it cannot."""
    now = context.clock.now()
    stamp = format_timestamp(now)
    found = _usable(context, code, now)
    principal = str(found["principal"])
    session = {
        "id": new_id(), "principal": principal, "name": SESSION_NAME,
        "token_hash": hash_secret("ctk_" + secrets.token_urlsafe(32)),  # a secret nobody ever sees
        "created_by": principal, "created_at": stamp, "expires_at": format_timestamp(now + session_lifetime),
        "revoked_at": None,
    }  # fmt: skip
    with unit_of_work(context.engine, actor=principal, clock=context.clock) as uow:
        used = uow.execute(
            update(api_tokens).where(api_tokens.c.id == found["id"], api_tokens.c.revoked_at.is_(None)).values(
                revoked_at=stamp)
        )  # fmt: skip
        if used.rowcount != 1:  # redeemed by another request since it was read
            raise Unauthenticated(REFUSED)
        uow.execute(api_tokens.insert().values(session))
        uow.record("login.code_redeemed", f"principal:{principal}", {
            "code": found["id"], "session_token": session["id"], "session_expires_at": session["expires_at"],
        })  # fmt: skip
        uow.record("token.created", f"principal:{principal}", {
            "token": session["id"], "name": SESSION_NAME, "expires_at": session["expires_at"], "roles": [],
        })  # fmt: skip
    return Redeemed(principal, str(session["id"]), str(session["expires_at"]))


def _usable(context: Context, code: str, now: datetime) -> RowMapping:
    """The code's row while it can still be redeemed (known, unused, unexpired); else Unauthenticated."""
    if not code.startswith(PREFIX):
        raise Unauthenticated(REFUSED)
    with context.engine.connect() as connection:
        found = connection.execute(
            select(api_tokens).where(api_tokens.c.token_hash == hash_secret(code), api_tokens.c.name == CODE_NAME)
        ).mappings().first()  # fmt: skip
    if found is None or found["revoked_at"] is not None or parse_timestamp(found["expires_at"]) <= now:
        raise Unauthenticated(REFUSED)
    return found
