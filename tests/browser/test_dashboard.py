"""The dashboard in a real browser (Debian's Chromium): sign in, a model page whose plotly chart renders from
this server alone, approving a pending promotion from the inbox, and the alias moving on the model page; a one-time
link confirmed on one of two servers of a home and refused on the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.server import create_app
from charter.server.web import create_login_link
from charter.services import access
from charter.services.context import open_context
from charter.services.login_codes import REFUSED
from tests.browser.conftest import LiveServer
from tests.browser.seed import Seeded, seed_home


@pytest.fixture
def live(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[LiveServer, Seeded]]:
    """A server on the seeded home (``indirect`` False: without the lake's decisions, quicker)."""
    clock = FixedClock()
    seeded = seed_home(settings, clock, tmp_path, decisions=getattr(request, "param", True))
    with LiveServer(create_app(settings, clock=clock)) as server:
        yield server, seeded


class Watch:
    """Console errors, uncaught exceptions and every URL the page requested."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))


def test_sign_in_see_the_chart_approve_and_see_the_alias_move(live: tuple[LiveServer, Seeded], page: Any) -> None:
    server, seeded = live
    watch = Watch(page)

    page.goto(server.url + "/models/credit-risk")
    assert page.url == server.url + "/login?next=/models/credit-risk"
    page.get_by_label("API token").fill(seeded.tokens["approver"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/models/credit-risk")
    assert page.get_by_test_id("principal").inner_text() == "svc:approver"
    assert page.get_by_test_id("alias-prod").inner_text() == "1"
    page.wait_for_selector("#chart-0 svg.main-svg")
    assert page.locator("#chart-0 .scatterlayer .trace").count() == 1
    assert page.locator("figure.lineage svg rect").count() == 2

    page.get_by_role("link", name="Approvals").click()
    request = page.locator(f'article[data-request="{seeded.request_id}"]')
    request.get_by_label("Justification for approving").fill("holdout AUC is better; drift fixed upstream")
    request.get_by_role("button", name="Approve").click()
    page.wait_for_url(server.url + "/approvals")
    assert "credit-risk:prod now points at version 2" in page.get_by_role("status").inner_text()

    page.goto(server.url + "/models/credit-risk")
    assert page.get_by_test_id("alias-prod").inner_text() == "2"
    page.wait_for_selector("#chart-0 svg.main-svg")

    assert watch.errors == []
    elsewhere = [url for url in watch.requests if not url.startswith(server.url + "/")]
    assert elsewhere == [], "the dashboard must work offline: no request may leave 127.0.0.1"
    assert server.url + "/static/plotly.min.js?v=" in " ".join(watch.requests)


@pytest.mark.parametrize("live", [False], indirect=True, ids=["no-decisions"])
def test_a_viewer_sees_the_inbox_without_forms(live: tuple[LiveServer, Seeded], page: Any) -> None:
    server, seeded = live
    page.goto(server.url + "/login")
    page.get_by_label("API token").fill(seeded.tokens["viewer"])
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")
    page.goto(server.url + "/approvals")
    assert "Nothing is waiting for you." in page.locator("main").inner_text()
    assert page.locator(f'article[data-request="{seeded.request_id}"]').count() == 1  # listed, without a form
    assert page.get_by_role("button", name="Approve").count() == 0


def test_a_one_time_link_is_confirmed_once_across_two_servers(settings: Settings, tmp_path: Path, page: Any) -> None:
    clock = FixedClock()
    seed_home(settings, clock, tmp_path, decisions=False)
    with open_context(settings, clock=clock) as context:
        access.grant(context, "user:alice", "viewer")
        code = create_login_link(context, "user:alice").split("code=", 1)[1]
    with LiveServer(create_app(settings, clock=clock)) as one, LiveServer(create_app(settings, clock=clock)) as two:
        other = page.context.browser.new_context().new_page()  # another browser, on the other server
        for shown, server in ((page, one), (other, two)):
            shown.goto(f"{server.url}/login/link?code={code}")
            assert shown.get_by_role("button", name="Continue as user:alice").is_visible()  # nothing used yet

        other.get_by_role("button", name="Continue as user:alice").click()
        other.wait_for_url(two.url + "/")
        assert other.get_by_test_id("principal").inner_text() == "user:alice"
        other.context.close()

        page.get_by_role("button", name="Continue as user:alice").click()
        assert REFUSED in page.locator("main").inner_text()
        page.goto(one.url + "/")
        assert page.url == one.url + "/login?next=/"
