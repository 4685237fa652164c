"""REST API: the ledger paged and verified, decision lake windows paged, API tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import charter
from charter.clock import format_timestamp
from charter.services.context import open_context
from charter.services.lake import lake_of
from tests.helpers import tamper
from tests.server.conftest import auth


def call(server: dict[str, Any], role: str, method: str, path: str, **options: Any) -> httpx.Response:
    return server["client"].request(method, f"/api/v1{path}", headers=auth(server["tokens"][role]), **options)


def register(server: dict[str, Any], *names: str) -> None:
    for name in names:
        made = call(server, "developer", "POST", "/models",
                    json={"name": name, "task": "regression", "risk_tier": "minimal"})  # fmt: skip
        assert made.status_code == 201


def test_the_ledger_pages_by_cursor_and_filters(server: dict[str, Any]) -> None:
    register(server, *(f"model-{i}" for i in range(7)))
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"action": "model.registered", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = call(server, "viewer", "GET", "/ledger", params=params).json()
        seen += [e["seq"] for e in page["items"]]
        assert all(e["actor"] == "svc:developer" and e["subject"].startswith("model:") for e in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)  # newest first, each once
    register(server, "model-late")  # appended meanwhile: earlier cursors still continue where they were
    oldest = call(server, "viewer", "GET", "/ledger",
                  params={"action": "model.*", "order": "oldest", "limit": 5}).json()  # fmt: skip
    rest = call(
        server,
        "viewer",
        "GET",
        "/ledger",
        params={"action": "model.*", "order": "oldest", "limit": 5, "cursor": oldest["next_cursor"]},
    ).json()
    subjects = [e["subject"] for e in oldest["items"] + rest["items"]]
    assert subjects == [f"model:model-{i}" for i in range(7)] + ["model:model-late"] and rest["next_cursor"] is None
    mixed = call(server, "viewer", "GET", "/ledger", params={"order": "newest", "cursor": oldest["next_cursor"]})
    assert mixed.status_code == 400 and mixed.json()["message"] == (
        "this cursor pages oldest first; ask with the same order"
    )
    garbled = call(server, "viewer", "GET", "/ledger", params={"cursor": "not-a-cursor"})
    assert garbled.status_code == 400 and "is not a ledger cursor" in garbled.json()["message"]
    by_actor = call(server, "viewer", "GET", "/ledger", params={"actor": "svc:admin"}).json()
    assert by_actor["items"] == []
    now = server["clock"].now()
    around = {"since": format_timestamp(now), "until": format_timestamp(now + timedelta(seconds=1))}
    window = call(server, "viewer", "GET", "/ledger", params={**around, "subject": "model:model-3"}).json()
    assert [e["action"] for e in window["items"]] == ["model.registered"]
    naive = call(server, "viewer", "GET", "/ledger", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


def test_ledger_verification_reports_tampering(server: dict[str, Any]) -> None:
    register(server, "credit-risk")
    report = call(server, "viewer", "POST", "/ledger/verify").json()
    assert report["ok"] is True and report["entries"] == report["head_seq"] and report["problems"] == []
    with open_context(server["settings"], clock=server["clock"]) as context:
        tamper(context.engine, "UPDATE ledger_entries SET actor = 'user:mallory' WHERE action = 'model.registered'")
    broken = call(server, "viewer", "POST", "/ledger/verify").json()
    assert broken["ok"] is False and broken["problems"][0]["kind"] == "edited"


def test_a_lake_window_pages_in_time_order(server: dict[str, Any], tmp_path: Path) -> None:
    register(server, "credit-risk")
    clock, settings = server["clock"], server["settings"]
    start = clock.now()
    with charter.connect(settings.home, database_url=settings.database_url, clock=clock) as cx:
        first = cx.log_decisions("credit-risk@1", np.arange(300.0).reshape(150, 2), [0.5] * 150)
        clock.advance(timedelta(hours=1))
        second = cx.log_decisions("credit-risk@2", np.arange(200.0).reshape(100, 2), [0.25] * 100)
        assert cx.flush(timeout=30)
    rows: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        answer = call(server, "viewer", "GET", "/lake/credit-risk/decisions", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        rows += page["rows"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(rows) == 250
    assert [r["decision_id"] for r in rows] == sorted(first) + sorted(second)  # by time, then id; none twice
    assert "_row_hash" not in rows[0] and rows[0]["ts"] == format_timestamp(start)
    with open_context(settings, clock=clock) as context:
        stored = lake_of(context).read_table("credit-risk").column_names
    assert page["columns"] == [c for c in stored if not c.startswith("_")]
    later = call(server, "viewer", "GET", "/lake/credit-risk/decisions", params={
        "start": format_timestamp(start + timedelta(minutes=30)), "columns": ["decision_id", "prediction"],
        "limit": 1000,
    }).json()  # fmt: skip
    assert later["columns"] == ["decision_id", "prediction"] and len(later["rows"]) == 100
    assert later["rows"][0] == {"decision_id": sorted(second)[0], "prediction": 0.25}
    of_v1 = call(server, "viewer", "GET", "/lake/credit-risk/decisions", params={"version": [1], "limit": 1000}).json()
    assert len(of_v1["rows"]) == 150 and of_v1["next_cursor"] is None
    hashes = call(server, "viewer", "GET", "/lake/credit-risk/decisions",
                  params={"columns": ["_row_hash"], "limit": 1}).json()  # fmt: skip
    assert len(hashes["rows"][0]["_row_hash"]) == 64  # binary as hex
    empty = call(server, "viewer", "GET", "/lake/credit-risk/decisions",
                 params={"start": format_timestamp(start), "end": format_timestamp(start)})  # fmt: skip
    assert empty.status_code == 400 and empty.json()["message"].startswith("the window is empty")
    unknown = call(server, "viewer", "GET", "/lake/credit-risk/decisions", params={"columns": ["salary"]})
    assert unknown.status_code == 400 and unknown.json()["message"].startswith("columns: salary not in the decisions")
    too_big = call(server, "viewer", "GET", "/lake/credit-risk/decisions", params={"limit": 5000})
    assert too_big.status_code == 422
    nothing = call(server, "viewer", "GET", "/lake/fraud/decisions")
    assert nothing.status_code == 404 and nothing.json()["message"].startswith("no decisions logged for model 'fraud'")
    overview = call(server, "viewer", "GET", "/lake").json()["items"]
    assert [(m["model"], m["decisions"]) for m in overview] == [("credit-risk", 250)]
    assert call(server, "viewer", "POST", "/lake/credit-risk/verify").json()["ok"] is True


def test_admins_create_list_and_revoke_tokens(server: dict[str, Any]) -> None:
    created = call(
        server, "admin", "POST", "/tokens", json={"principal": "svc:ci", "roles": ["developer"], "name": "ci"}
    )
    assert created.status_code == 201, created.text
    token, secret = created.json()["token"], created.json()["secret"]
    assert secret.startswith("ctk_") and (token["principal"], token["created_by"]) == ("svc:ci", "svc:admin")
    me = server["client"].get("/api/v1/whoami", headers=auth(secret)).json()
    assert me == {"principal": "svc:ci", "roles": ["developer"]}
    listed = call(server, "admin", "GET", "/tokens", params={"principal": "svc:ci"}).json()["items"]
    assert [t["id"] for t in listed] == [token["id"]] and "secret" not in listed[0]
    assert call(server, "developer", "GET", "/tokens").status_code == 403
    revoked = call(server, "admin", "POST", f"/tokens/{token['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert server["client"].get("/api/v1/whoami", headers=auth(secret)).status_code == 401
    assert call(server, "admin", "POST", f"/tokens/{token['id']}/revoke").status_code == 409
    bad_role = call(server, "admin", "POST", "/tokens", json={"principal": "svc:x", "roles": ["boss"]})
    assert bad_role.status_code == 400 and bad_role.json()["message"].startswith("role 'boss' is not one of")
    past = call(server, "admin", "POST", "/tokens", json={"principal": "svc:x", "expires_at": "2000-01-01T00:00:00Z"})
    assert past.status_code == 400 and "is not in the future" in past.json()["message"]
