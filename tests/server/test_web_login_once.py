"""One-time codes behind their two links: `/login/once?code=...` (the link `charter demo` prints) signs in at once,
`/login/link?code=...` after a confirmation; a code works once across every server of the home; reuse, expiry and
bad codes fail, and failures on either link are braked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from charter.clock import FixedClock
from charter.config import Settings
from charter.server import create_app
from charter.server.security import MAX_FAILURES
from charter.services import access
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.login_codes import REFUSED, mint_login_code
from charter.services.tokens import list_tokens, revoke_token

PRINCIPAL = 'data-testid="principal">user:alice<'
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def client(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        access.grant(context, "user:alice", "risk-officer")
    with TestClient(create_app(settings, clock=clock)) as found:
        yield found


def _code(settings: Settings, clock: FixedClock, **options: timedelta) -> str:
    with open_context(settings, clock=clock) as context:
        return mint_login_code(context, "user:alice", **options).code


def test_the_link_signs_in_once(client: TestClient, settings: Settings, clock: FixedClock) -> None:
    code = _code(settings, clock)
    answer = client.get(f"/login/once?code={code}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "charter_session=" in answer.headers["set-cookie"] and "HttpOnly" in answer.headers["set-cookie"]
    page = client.get("/")
    assert page.status_code == 200 and PRINCIPAL in page.text and "Signed in as user:alice." in page.text

    client.cookies.clear()  # another browser with the same link
    again = client.get(f"/login/once?code={code}", follow_redirects=False)
    assert again.status_code == 401 and REFUSED in again.text and "set-cookie" not in again.headers
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"


def test_the_session_ends_with_its_token(client: TestClient, settings: Settings, clock: FixedClock) -> None:
    client.get(f"/login/once?code={_code(settings, clock)}")
    assert PRINCIPAL in client.get("/").text
    with open_context(settings, clock=clock) as context:
        session = next(t for t in list_tokens(context, principal="user:alice") if t.name == "dashboard session")
        revoke_token(context, session.id)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_an_expired_code_is_refused(client: TestClient, settings: Settings, clock: FixedClock) -> None:
    code = _code(settings, clock, lifetime=timedelta(minutes=5))
    clock.advance(timedelta(minutes=5, seconds=1))
    answer = client.get(f"/login/once?code={code}", follow_redirects=False)
    assert answer.status_code == 401 and REFUSED in answer.text
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("page", ["/login/once", "/login/link"])
@pytest.mark.parametrize("query", ["", "?code=", "?code=clc_guessed", "?code=ctk_an-api-token"])
def test_a_bad_code_is_refused_on_either_page(client: TestClient, page: str, query: str) -> None:
    answer = client.get(f"{page}{query}", follow_redirects=False)
    assert answer.status_code == 401 and REFUSED in answer.text


def test_guessing_codes_is_braked(client: TestClient, settings: Settings, clock: FixedClock) -> None:
    for _ in range(MAX_FAILURES):
        assert client.get("/login/once?code=clc_guess").status_code == 401
    code = _code(settings, clock)
    assert client.get(f"/login/once?code={code}").status_code == 429  # even a good code, for the rest of the minute


def _confirm(client: TestClient, code: str) -> str:
    """Open ``/login/link?code=...``: the confirmation page for alice; returns its CSRF token."""
    page = client.get(f"/login/link?code={code}")
    assert page.status_code == 200 and "Continue as user:alice" in page.text, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def _press(client: TestClient, code: str, csrf: str) -> int:
    return client.post("/login/link", data={"code": code, "csrf_token": csrf}, follow_redirects=False).status_code


def test_a_link_works_once_across_the_servers_of_a_home(settings: Settings, clock: FixedClock) -> None:
    """Two apps on one home are two ``charter serve`` processes: the code is spent in the store, not in either."""
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        access.grant(context, "user:alice", "risk-officer")
    with TestClient(create_app(settings, clock=clock)) as one, TestClient(create_app(settings, clock=clock)) as two:
        code = _code(settings, clock)
        csrf_one, csrf_two = _confirm(one, code), _confirm(two, code)  # both show it: neither uses it up
        assert _press(two, code, csrf_two) == 303
        assert PRINCIPAL in two.get("/").text
        assert _press(one, code, csrf_one) == 401  # already used, on the other server
        assert one.get(f"/login/link?code={code}").status_code == 401
        assert one.get(f"/login/once?code={code}").status_code == 401

        once = _code(settings, clock)  # one kind of code: used on one link, refused on the other
        assert one.get(f"/login/once?code={once}", follow_redirects=False).status_code == 303
        assert two.get(f"/login/link?code={once}").status_code == 401


def test_a_link_pressed_after_its_expiry_is_refused(client: TestClient, settings: Settings, clock: FixedClock) -> None:
    code = _code(settings, clock, lifetime=timedelta(minutes=5))
    csrf = _confirm(client, code)
    clock.advance(timedelta(minutes=5))
    assert _press(client, code, csrf) == 401
    answer = client.get(f"/login/link?code={code}")
    assert answer.status_code == 401 and REFUSED in answer.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_guessing_on_either_link_brakes_both(client: TestClient, settings: Settings, clock: FixedClock) -> None:
    csrf = _confirm(client, _code(settings, clock))
    for turn in range(MAX_FAILURES):
        if turn % 2:
            assert client.get("/login/link?code=clc_guess").status_code == 401  # opening counts
        else:
            assert _press(client, "clc_guess", csrf) == 401  # confirming counts
    code = _code(settings, clock)
    for braked in (
        client.get(f"/login/link?code={code}"),
        client.post("/login/link", data={"code": code, "csrf_token": csrf}),
        client.get(f"/login/once?code={code}"),
    ):
        assert braked.status_code == 429 and "too many failed sign-ins" in braked.text
