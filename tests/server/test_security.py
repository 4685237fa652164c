"""Tokens and the API's authentication: who a request acts as, and the brake on guessing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from charter.errors import Conflict, Forbidden, InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.server.security import TOKEN_CACHE_SECONDS, TokenCache
from charter.services.context import open_context
from charter.services.tokens import Caller, create_token, list_tokens, revoke_token
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
        viewer = auth(server["tokens"]["viewer"])
        assert client.get("/api/v1/whoami", headers=viewer).status_code == 200
        token = next(t for t in list_tokens(context) if t.principal == "svc:viewer")
        revoke_token(context, token.id)  # elsewhere (the CLI): this server sees it once its cache lets go
        assert client.get("/api/v1/whoami", headers=viewer).status_code == 200
        clock.advance(timedelta(seconds=TOKEN_CACHE_SECONDS))
        assert client.get("/api/v1/whoami", headers=viewer).status_code == 401
        with pytest.raises(Conflict, match=r"was already revoked"):
            revoke_token(context, token.id)
        entries = list_entries(context.engine, EntryFilter(action="token.created"))
        assert all("secret" not in str(e.data) and "ctk_" not in str(e.data) for e in entries)


def test_a_revocation_or_grant_through_the_api_takes_effect_at_once(server: dict[str, Any]) -> None:
    client, admin = server["client"], auth(server["tokens"]["admin"])
    developer = auth(server["tokens"]["developer"])
    assert client.get("/api/v1/whoami", headers=developer).json()["roles"] == ["developer"]
    created = client.post("/api/v1/tokens", headers=admin, json={"principal": "svc:developer", "roles": ["approver"]})
    assert created.status_code == 201
    assert sorted(client.get("/api/v1/whoami", headers=developer).json()["roles"]) == ["approver", "developer"]
    token_id = next(t["id"] for t in client.get("/api/v1/tokens", headers=admin).json()["items"]
                    if t["name"] == "developer")  # fmt: skip
    assert client.post(f"/api/v1/tokens/{token_id}/revoke", headers=admin).status_code == 200
    assert client.get("/api/v1/whoami", headers=developer).status_code == 401


def test_the_token_cache_forgets_by_time_and_size() -> None:
    from datetime import UTC, datetime

    cache = TokenCache(seconds=2, size=2)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    soon = Caller("svc:a", ("viewer",), "t1", expires_at="2026-01-01T00:00:01.000000Z")
    cache.put("a", soon, now)
    cache.put("b", Caller("svc:b", ("viewer",), "t2"), now)
    assert cache.get("a", now) == soon
    assert cache.get("a", now + timedelta(seconds=1)) is None  # the token expired before the cache's 2 s
    assert cache.get("b", now + timedelta(seconds=1.9)) is not None
    assert cache.get("b", now + timedelta(seconds=2)) is None
    for key in ("c", "d", "e"):
        cache.put(key, Caller(f"svc:{key}", (), key), now)
    assert [cache.get(k, now) is not None for k in ("c", "d", "e")] == [False, True, True]
    cache.clear()
    assert cache.get("e", now) is None


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
