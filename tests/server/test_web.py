"""The dashboard through a test client: sign-in, cookies, CSRF, every page on a seeded home, approving from the
inbox, the services' refusals shown, escaping, the one-time link and the offline charts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from charter.clock import FixedClock, format_timestamp
from charter.config import Settings
from charter.errors import Forbidden
from charter.ledger.chain import EntryFilter, list_entries
from charter.server import create_app
from charter.server.web import create_login_link
from charter.services import access, incidents, registry
from charter.services.context import open_context
from charter.services.tokens import list_tokens, revoke_token
from tests.browser.seed import DESCRIPTION, Seeded, seed_home
from tests.helpers import tamper

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the dashboard only renders services; the pages test runs on PostgreSQL too


@dataclasses.dataclass
class Web:
    client: TestClient
    seeded: Seeded
    settings: Settings
    clock: FixedClock

    def login(self, role: str, *, next_page: str = "/") -> str:
        """Sign in as svc:<role> (a fresh browser); returns the session's CSRF token."""
        self.client.cookies.clear()
        form = self.client.get("/login")
        answer = self.client.post("/login", data={"token": self.seeded.tokens[role], "next": next_page,
                                                  "csrf_token": _csrf(form.text)}, follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303, answer.text
        return _csrf(self.client.get("/").text)

    def aliases(self) -> dict[str, int]:
        with open_context(self.settings, clock=self.clock) as context:
            return registry.get_model(context, "credit-risk").aliases


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def _web(settings: Settings, tmp_path: Path, *, decisions: bool, https: bool = False) -> Iterator[Web]:
    clock = FixedClock()
    seeded = seed_home(settings, clock, tmp_path, decisions=decisions)
    base = "https://testserver" if https else "http://testserver"
    with TestClient(create_app(settings, clock=clock), base_url=base) as client:
        yield Web(client, seeded, settings, clock)


@pytest.fixture
def web(settings: Settings, tmp_path: Path) -> Iterator[Web]:
    yield from _web(settings, tmp_path, decisions=False)


def _cookie(answer: Any, name: str) -> str:
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return str(header)
    raise AssertionError(f"no {name} cookie in {answer.headers.get_list('set-cookie')}")


def test_a_good_token_signs_in_with_a_strict_http_only_cookie(web: Web) -> None:
    assert web.client.get("/models/credit-risk", follow_redirects=False).headers["location"] == (
        "/login?next=/models/credit-risk"
    )
    form = web.client.get("/login?next=/models/credit-risk")
    assert 'for="token"' in form.text and "HttpOnly" in _cookie(form, "charter_login")
    answer = web.client.post("/login", data={"token": web.seeded.tokens["viewer"], "next": "/models/credit-risk",
                                             "csrf_token": _csrf(form.text)}, follow_redirects=False)  # fmt: skip
    assert (answer.status_code, answer.headers["location"]) == (303, "/models/credit-risk")
    cookie = SimpleCookie(_cookie(answer, "charter_session"))["charter_session"]
    assert cookie["httponly"] and cookie["samesite"] == "strict" and cookie["path"] == "/" and not cookie["secure"]
    assert web.seeded.tokens["viewer"] not in cookie.value  # the cookie names the token, never its secret
    page = web.client.get("/models/credit-risk")
    assert page.status_code == 200 and "svc:viewer" in page.text and "Signed in as svc:viewer." in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_session_cookie_is_secure_over_https(settings: Settings, tmp_path: Path) -> None:
    for web in _web(settings, tmp_path, decisions=False, https=True):
        form = web.client.get("/login")
        answer = web.client.post("/login", data={"token": web.seeded.tokens["viewer"],
                                                 "csrf_token": _csrf(form.text)}, follow_redirects=False)  # fmt: skip
        assert SimpleCookie(_cookie(answer, "charter_session"))["charter_session"]["secure"]


def test_a_bad_token_is_refused_and_repeated_failures_are_braked(web: Web) -> None:
    form = web.client.get("/login")
    for _ in range(10):
        answer = web.client.post("/login", data={"token": "ctk_wrong", "csrf_token": _csrf(form.text)})
        assert answer.status_code == 401 and "That token is unknown, revoked or expired." in answer.text
        assert "charter_session" not in answer.headers.get("set-cookie", "")
    answer = web.client.post("/login", data={"token": web.seeded.tokens["admin"], "csrf_token": _csrf(form.text)})
    assert answer.status_code == 429 and "too many failed sign-ins from this address" in answer.text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_the_server(web: Web, target: str) -> None:
    form = web.client.get("/login")
    answer = web.client.post("/login", data={"token": web.seeded.tokens["viewer"], "next": target,
                                             "csrf_token": _csrf(form.text)}, follow_redirects=False)  # fmt: skip
    assert answer.headers["location"] == "/"


def test_forms_without_the_session_csrf_token_are_refused(web: Web) -> None:
    answer = web.client.post(f"/approvals/{web.seeded.request_id}/approve", follow_redirects=False)
    assert answer.headers["location"] == "/login?next=/"  # no session: nothing happens
    form = web.client.get("/login")
    assert web.client.post("/login", data={"token": web.seeded.tokens["approver"]}).status_code == 403
    assert web.client.post("/login", data={"token": web.seeded.tokens["approver"], "csrf_token": "x"}).status_code == (
        403
    )
    web.login("approver")
    for token in ("", "not-the-token", _csrf(form.text)):
        answer = web.client.post(f"/approvals/{web.seeded.request_id}/approve",
                                 data={"justification": "looks fine", "csrf_token": token})  # fmt: skip
        assert answer.status_code == 403
        assert "the form&#39;s CSRF token is missing or wrong; reload the page" in answer.text
    assert web.aliases() == {"prod": 1}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_page_renders_for_a_seeded_home(settings: Settings, tmp_path: Path) -> None:
    for web in _web(settings, tmp_path, decisions=True):
        web.login("approver")
        expected = {
            "/": ["credit-risk", "prod → 1", "badge-high", "badge-critical", "applications", "customers"],
            "/models/credit-risk": ['data-testid="alias-prod">1<', "credit-risk@2", 'id="charts-data"',
                                    "drift.share_drifted", "<svg", "applications@1", "INC-1", "pending approval",
                                    'data-testid="decisions"', "/static/plotly.min.js?v="],
            "/models/credit-risk?version=1": ["Lineage of credit-risk@1", "/models/credit-risk/versions/1/card.md"],
            "/models/credit-risk/versions/1/card.md": ["credit-risk@1", "applications@1"],
            "/datasets/applications": ["certified", "contract", "s3://lake/applications", "training", "credit-risk@1"],
            "/datasets/customers": ["email", "consent", "is not certified"],
            "/incidents": ["INC-1", "data drift on credit-risk:prod"],
            "/incidents?status=resolved": ["No incidents resolved."],
            "/incidents?model=credit-risk&status=triggered": ["INC-1"],
            "/incidents/INC-1": ["incident.triggered", "Acknowledge", "Request rollback", "Runbook"],
            "/approvals": ["Waiting for you", web.seeded.request_id, "retrained on fresh data"],
            "/audit": ["model.registered", "Verify the ledger", "Page 1 of 1"],
            "/audit?size=10": ["Page 1 of 4", 'rel="next"'],
            "/audit?action=change.*": ["change.requested"],
            "/policies": ["prod-sign-off", "approver-sign-off", "require_approval"],
        }  # fmt: skip
        for url, texts in expected.items():
            page = web.client.get(url)
            assert page.status_code == 200, (url, page.text)
            for text in texts:
                assert text in page.text, (url, text)
        older = re.search(r'href="(/audit\?page=2&amp;cursor=[^"]+)" rel="next"', web.client.get("/audit?size=10").text)
        assert older is not None
        page = web.client.get(older.group(1).replace("&amp;", "&"))
        assert "Page 2 of 4" in page.text and "Newest" in page.text
        assert re.findall(r"<tr><td>(\d+)</td>", page.text) == [str(seq) for seq in range(27, 17, -1)]
        for url, status in (
            ("/models/nope", 404),
            ("/models/credit-risk?version=9", 404),
            ("/incidents/INC-9", 404),
            ("/models/credit-risk/versions/9/card.md", 404),
        ):
            page = web.client.get(url)
            assert page.status_code == status and "not_found" in page.text


def test_an_approver_approves_from_the_inbox_and_the_alias_moves(web: Web) -> None:
    csrf = web.login("approver")
    inbox = web.client.get("/approvals").text
    digest = re.search(r'name="payload_sha256" value="([0-9a-f]{64})"', inbox)
    assert digest is not None
    answer = web.client.post(f"/approvals/{web.seeded.request_id}/approve", data={
        "justification": "holdout AUC is better", "payload_sha256": digest.group(1), "csrf_token": csrf,
    })  # fmt: skip
    assert answer.status_code == 200 and answer.url.path == "/approvals"
    assert "Carried out: credit-risk:prod now points at version 2." in answer.text
    assert web.aliases() == {"prod": 2}
    assert 'data-testid="alias-prod">2<' in web.client.get("/models/credit-risk").text
    [moved] = list_entries(_engine(web), EntryFilter(action="model.alias_moved"), limit=1)
    assert moved.actor == "svc:approver" and moved.data["change_request"] == web.seeded.request_id
    [approved] = list_entries(_engine(web), EntryFilter(action="change.approved"), limit=1)
    assert approved.actor == "svc:approver" and approved.data["justification"] == "holdout AUC is better"


def _engine(web: Web) -> Any:
    return web.client.app.state.context.engine  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("role", "justification", "status", "message"),
    [
        ("viewer", "fine", 403, "needs 1 approval from approver; svc:viewer has viewer"),
        ("developer", "fine", 403, "svc:developer requested change {id} and cannot approve it (separation of duties)"),
        ("approver", "  ", 400, "to approve a change request, give a justification"),
    ],
)
def test_the_services_refusals_are_shown(web: Web, role: str, justification: str, status: int, message: str) -> None:
    csrf = web.login(role)
    answer = web.client.post(f"/approvals/{web.seeded.request_id}/approve",
                             data={"justification": justification, "csrf_token": csrf})  # fmt: skip
    assert answer.status_code == status
    error = re.search(r'data-testid="error">([^<]*)<', answer.text)
    assert error is not None and message.format(id=web.seeded.request_id) in error.group(1)
    assert web.aliases() == {"prod": 1}


def test_a_rejection_needs_a_justification_and_ends_the_request(web: Web) -> None:
    csrf = web.login("approver")
    url = f"/approvals/{web.seeded.request_id}/reject"
    assert web.client.post(url, data={"justification": "", "csrf_token": csrf}).status_code == 400
    answer = web.client.post(url, data={"justification": "not this quarter", "csrf_token": csrf})
    assert f"You rejected change request {web.seeded.request_id}." in answer.text
    assert "Nothing is waiting for you." in answer.text and web.aliases() == {"prod": 1}


def test_incident_actions_from_the_page(settings: Settings, tmp_path: Path) -> None:
    for web in _web(settings, tmp_path, decisions=True):
        csrf = web.login("viewer")
        answer = web.client.post("/incidents/INC-1/acknowledge", data={"csrf_token": csrf})
        assert answer.status_code == 403 and "acting on INC-1 needs the role developer or approver" in answer.text
        csrf = web.login("developer")
        answer = web.client.post("/incidents/INC-1/acknowledge", data={"note": "looking", "csrf_token": csrf})
        assert "INC-1 acknowledged." in answer.text and "incident.acknowledged" in answer.text
        answer = web.client.post("/incidents/INC-1/rollback", data={"note": "drift", "csrf_token": csrf})
        assert answer.status_code == 404 and "has no earlier version whose gate passed for prod" in answer.text
        assert web.client.post("/incidents/INC-1/resolve", data={"note": "", "csrf_token": csrf}).status_code == 400
        answer = web.client.post("/incidents/INC-1/resolve", data={"note": "feed fixed", "csrf_token": csrf})
        assert "INC-1 resolved." in answer.text
        with open_context(web.settings, clock=web.clock) as context:
            assert incidents.get_incident(context, "INC-1").status == "resolved"


def test_signing_out_ends_the_session(web: Web) -> None:
    csrf = web.login("viewer")
    assert web.client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    answer = web.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.headers["location"] == "/login" and 'charter_session=""' in _cookie(answer, "charter_session")
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_a_session_ends_with_its_token_or_its_lifetime(web: Web) -> None:
    web.login("viewer")
    assert web.client.get("/", follow_redirects=False).status_code == 200
    web.clock.advance(timedelta(hours=9))
    assert web.client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    web.login("viewer")
    with open_context(web.settings, clock=web.clock) as context:
        revoke_token(context, next(t.id for t in list_tokens(context, principal="svc:viewer")))
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_a_one_time_link_asks_first_then_signs_in_once(web: Web) -> None:
    with open_context(web.settings, clock=web.clock) as context:
        access.grant(context, "user:alice", "approver")
        link = create_login_link(context, "user:alice", base_url="http://testserver/")
        developer = dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor="svc:developer"))
        with pytest.raises(Forbidden, match=r"needs the role admin"):
            create_login_link(developer, "user:alice")
    assert link.startswith("http://testserver/login/link?code=clc_")
    code = link.split("code=", 1)[1]
    with open_context(web.settings, clock=web.clock) as context:  # a stored code, on the ledger
        [row] = [t for t in list_tokens(context, principal="user:alice") if t.name == "one-time login"]
        assert row.expires_at == format_timestamp(web.clock.now() + timedelta(minutes=15)) and not row.revoked_at

    first = web.client.get(link)  # a mail scanner, say
    page = web.client.get(link)  # opening the link uses nothing up
    for shown in (first, page):
        assert shown.status_code == 200 and "Continue as user:alice" in shown.text
        assert "charter_session" not in shown.headers.get("set-cookie", "")
    assert web.client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"

    answer = web.client.post("/login/link", data={"code": code, "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert answer.status_code == 303 and "HttpOnly" in _cookie(answer, "charter_session")
    home = web.client.get("/")
    assert 'data-testid="principal">user:alice<' in home.text and "Signed in as user:alice." in home.text
    with open_context(web.settings, clock=web.clock) as context:
        by_name = {t.name: t for t in list_tokens(context, principal="user:alice")}
        assert by_name["one-time login"].revoked_at is not None and by_name["dashboard session"].revoked_at is None

    web.client.cookies.clear()  # another browser, or the same one again: the code was used
    again = web.client.get(link)
    assert again.status_code == 401 and "was already used" in again.text
    web.client.cookies.update({"charter_login": first.cookies["charter_login"]})
    again = web.client.post("/login/link", data={"code": code, "csrf_token": _csrf(page.text)})
    assert again.status_code == 401 and "was already used" in again.text
    assert "charter_session" not in again.headers.get("set-cookie", "")
    assert web.client.get(f"/login/link?code={code[:-2]}xx").status_code == 401


def test_a_link_past_its_expiry_is_refused_even_after_it_was_shown(web: Web) -> None:
    with open_context(web.settings, clock=web.clock) as context:
        access.grant(context, "user:alice", "approver")
        link = create_login_link(context, "user:alice", expires_in=timedelta(minutes=5))
        stale = create_login_link(context, "user:alice")
    page = web.client.get(link)
    assert "Continue as user:alice" in page.text
    web.clock.advance(timedelta(minutes=5))
    code = link.split("code=", 1)[1]
    answer = web.client.post("/login/link", data={"code": code, "csrf_token": _csrf(page.text)})
    assert answer.status_code == 401 and "has expired" in answer.text
    assert web.client.get(link).status_code == 401
    web.clock.advance(timedelta(minutes=10))  # the default lifetime, 15 minutes, has passed too
    assert web.client.get(stale).status_code == 401


def test_user_data_is_escaped(web: Web) -> None:
    web.login("viewer")
    page = web.client.get("/models/credit-risk").text
    assert DESCRIPTION not in page and "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; more" in page
    assert "Loan applications &lt;b&gt;2025&lt;/b&gt;" in web.client.get("/datasets/applications").text


def test_charts_are_served_from_the_plotly_package_with_long_caching(web: Web) -> None:
    from charter.server.web.assets import plotly_js

    answer = web.client.get("/static/plotly.min.js")
    assert answer.status_code == 200 and answer.content == plotly_js().read_bytes()
    assert "max-age=31536000" in answer.headers["cache-control"]
    assert web.client.get("/static/charts.js").headers["content-type"].startswith("text/javascript")
    assert web.client.get("/static/../../etc/passwd").status_code == 404
    web.login("viewer")
    for url in ("/", "/models/credit-risk", "/datasets/applications", "/approvals", "/audit", "/policies"):
        assert not re.search(r'(?:src|href|action)="(?:[a-z]+:)?//', web.client.get(url).text), url
    documented = web.client.get("/api/openapi.json").json()["paths"]
    assert all(path.startswith("/api/") for path in documented)  # the pages stay out of the API's schema


def test_the_audit_page_verifies_the_ledger(web: Web) -> None:
    csrf = web.login("viewer")
    answer = web.client.post("/audit/verify", data={"csrf_token": csrf})
    assert answer.status_code == 200 and "The ledger verifies" in answer.text
    tamper(_engine(web), "UPDATE ledger_entries SET actor = 'user:mallory' WHERE seq = 3")
    answer = web.client.post("/audit/verify", data={"csrf_token": csrf})
    assert "The ledger does not verify" in answer.text and "at #3" in answer.text
