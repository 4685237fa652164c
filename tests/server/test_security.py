"""Tokens and the API's authentication: who a request acts as, and the brake on guessing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from charter.errors import Conflict, Forbidden, InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.services.context import open_context
from charter.services.tokens import create_token, list_tokens, revoke_token
from tests.server.conftest import auth


def test_health_needs_no_token_and_whoami_names_the_principal(server: dict[str, Any]) -> None:
    client = server["client"]
    assert client.get("/api/v1/health").json()["status"] == "ok"
    me = client.get("/api/v1/whoami", headers=auth(server["tokens"]["approver"]))
    assert me.status_code == 200 and me.json() == {"principal": "svc:approver", "roles": ["approver"]}
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Charter"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "this route needs a token: send Authorization: Bearer <token> (charter token create)"),
        ({"Authorization": "Basic abc"}, "this route needs a token"),
        ({"Authorization": "Bearer ctk_not-a-real-token"}, "the token is unknown, revoked or expired"),
    ],
)
def test_missing_and_wrong_tokens_are_401(server: dict[str, Any], headers: dict[str, str], message: str) -> None:
    answer = server["client"].get("/api/v1/whoami", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "auth.unauthenticated" and answer.json()["message"].startswith(message)


def test_revoked_and_expired_tokens_stop_working(server: dict[str, Any]) -> None:
    client, settings, clock = server["client"], server["settings"], server["clock"]
    with open_context(settings, clock=clock) as context:
        _, secret = create_token(context, "svc:ci", roles=("developer",), expires=clock.now() + timedelta(hours=1))
        assert client.get("/api/v1/whoami", headers=auth(secret)).json()["roles"] == ["developer"]
        clock.advance(timedelta(hours=2))
        assert client.get("/api/v1/whoami", headers=auth(secret)).status_code == 401
        token = next(t for t in list_tokens(context) if t.principal == "svc:viewer")
        revoke_token(context, token.id)
        assert client.get("/api/v1/whoami", headers=auth(server["tokens"]["viewer"])).status_code == 401
        with pytest.raises(Conflict, match=r"was already revoked"):
            revoke_token(context, token.id)
        entries = list_entries(context.engine, EntryFilter(action="token.created"))
        assert all("secret" not in str(e.data) and "ctk_" not in str(e.data) for e in entries)


def test_only_admins_create_tokens(server: dict[str, Any]) -> None:
    import dataclasses

    settings, clock = server["settings"], server["clock"]
    developer = dataclasses.replace(settings, actor="svc:developer")
    with open_context(developer, clock=clock) as context, pytest.raises(Forbidden, match=r"needs the role admin"):
        create_token(context, "svc:me", roles=("admin",))
    with open_context(settings, clock=clock) as context:
        with pytest.raises(InvalidInput, match=r"role 'boss' is not one of"):
            create_token(context, "svc:x", roles=("boss",))
        with pytest.raises(InvalidInput, match=r"is not in the future"):
            create_token(context, "svc:x", expires=clock.now())


def test_repeated_failures_are_rate_limited(server: dict[str, Any]) -> None:
    client = server["client"]
    for _ in range(10):
        assert client.get("/api/v1/whoami", headers=auth("ctk_guess")).status_code == 401
    answer = client.get("/api/v1/whoami", headers=auth(server["tokens"]["admin"]))
    assert answer.status_code == 429 and answer.json()["code"] == "auth.rate_limited"
