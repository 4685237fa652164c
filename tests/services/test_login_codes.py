"""One-time login codes: minted by an admin, kept only as a hash, checked without being used, used once, never past
their expiry."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import Forbidden, InvalidInput, Unauthenticated
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import access
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.login_codes import REFUSED, mint_login_code, peek_login_code, redeem_login_code
from charter.services.tokens import authenticate, hash_secret, list_tokens, revoke_token
from charter.store.schema import api_tokens


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        access.grant(opened, "user:alice", "viewer")
        yield opened


def test_a_code_is_kept_only_as_its_hash_and_works_once(context: Context, clock: FixedClock) -> None:
    minted = mint_login_code(context, "user:alice")
    assert minted.code.startswith("clc_") and minted.expires_at == "2026-01-01T00:10:00.000000Z"
    with context.engine.connect() as connection:
        stored = connection.execute(select(api_tokens).where(api_tokens.c.id == minted.token_id)).mappings().one()
        assert stored["token_hash"] == hash_secret(minted.code) and minted.code not in str(dict(stored))
        assert authenticate(connection, minted.code, clock.now()) is None  # a code is no API token

    clock.advance(timedelta(minutes=9))
    found = redeem_login_code(context, minted.code, session_lifetime=timedelta(hours=8))

    assert found.principal == "user:alice" and found.session_expires_at == "2026-01-01T08:09:00.000000Z"
    session = next(t for t in list_tokens(context, principal="user:alice") if t.id == found.session_token_id)
    assert session.revoked_at is None and session.name == "dashboard session"
    [redeemed] = list_entries(context.engine, EntryFilter(action="login.code_redeemed"))
    assert (redeemed.actor, redeemed.data["code"]) == ("user:alice", minted.token_id)
    with pytest.raises(Unauthenticated, match=REFUSED):
        redeem_login_code(context, minted.code)
    revoke_token(context, found.session_token_id)  # ends the session the code bought


def test_peeking_names_the_principal_and_uses_nothing_up(context: Context, clock: FixedClock) -> None:
    minted = mint_login_code(context, "user:alice")
    before = list_entries(context.engine, EntryFilter())
    assert peek_login_code(context, minted.code) == peek_login_code(context, minted.code) == "user:alice"
    assert list_entries(context.engine, EntryFilter()) == before  # read-only: nothing on the ledger
    code_row = next(t for t in list_tokens(context, principal="user:alice") if t.id == minted.token_id)
    assert code_row.revoked_at is None

    redeem_login_code(context, minted.code)  # still good after peeking
    with pytest.raises(Unauthenticated, match=REFUSED):
        peek_login_code(context, minted.code)  # a used code is refused alike


USES = {"peek": peek_login_code, "redeem": redeem_login_code}


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
@pytest.mark.parametrize("code", ["", "clc_not-a-code", "ctk_an-api-token-is-no-code", "a" * 200])
def test_a_bad_code_is_refused_with_the_same_message(context: Context, use: Callable[..., object], code: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        use(context, code)
    assert refused.value.message == REFUSED


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_an_expired_code_is_refused(context: Context, clock: FixedClock, use: Callable[..., object]) -> None:
    minted = mint_login_code(context, "user:alice", lifetime=timedelta(minutes=2))
    clock.advance(timedelta(minutes=2))
    with pytest.raises(Unauthenticated, match=REFUSED):
        use(context, minted.code)
    assert not list_entries(context.engine, EntryFilter(action="login.code_redeemed"))


def test_only_an_admin_mints_codes_and_only_for_a_principal_with_a_role(context: Context) -> None:
    viewer = dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor="user:alice"))
    with pytest.raises(Forbidden, match=r"needs the role admin"):
        mint_login_code(viewer, "user:alice")
    with pytest.raises(InvalidInput, match=r"user:bob holds no role"):
        mint_login_code(context, "user:bob")
    with pytest.raises(InvalidInput, match=r"at most 1:00:00"):
        mint_login_code(context, "user:alice", lifetime=timedelta(hours=2))
