"""Signing in and out: with an API token, or with a one-time code behind one of two links.

Both links carry a code from :mod:`charter.services.login_codes` (stored hashed, used once
across every server of the home) and trade it for a session the same way (:func:`_sign_in_with_code`):

- ``/login/once?code=...`` redeems it at once, without a confirmation page: it is the link
  ``charter demo`` prints for the person at the terminal.
- ``/login/link?code=...`` (:func:`charter.server.web.create_login_link`) is the link to send by
  mail or chat, where a scanner may open it first: its GET only checks the code and shows a
  **Continue as ...** button, whose POST redeems it.

A refused code counts towards the same brake as a refused token (10 failures a minute from one
address, then 429 for the rest of the minute), on both links.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from charter.errors import Forbidden, RateLimited, Unauthenticated
from charter.server.security import AuthFailures
from charter.server.web.routing import (
    WebRoute,
    base_context,
    clear_cookie,
    current_session,
    now,
    redirect,
    render,
    safe_next,
    set_cookie,
    state,
)
from charter.server.web.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    new_session,
    same,
    session_caller,
    sign,
    unsign,
)
from charter.services.context import Context
from charter.services.login_codes import SESSION_LIFETIME, peek_login_code, redeem_login_code
from charter.services.tokens import authenticate

router = APIRouter(route_class=WebRoute, include_in_schema=False)

_T = TypeVar("_T")


def _login_csrf(request: Request) -> tuple[str, str | None]:
    """The pre-login CSRF value: the one the browser's ``charter_login`` cookie holds, or a new one to set."""
    found = unsign(state(request).key, "login", request.cookies.get(LOGIN_COOKIE))
    if found is not None and isinstance(found.get("c"), str):
        return str(found["c"]), None
    value = secrets.token_urlsafe(32)
    return value, sign(state(request).key, "login", {"c": value})


def _login_page(request: Request, template: str, *, status: int = 200, **values: object) -> Response:
    csrf, cookie = _login_csrf(request)
    answer = render(request, template, status=status, login_csrf=csrf, title="Sign in", **values)
    if cookie is not None:
        set_cookie(request, answer, LOGIN_COOKIE, cookie, max_age=3600)
    return answer


def _check_login_csrf(request: Request, given: str) -> None:
    found = unsign(state(request).key, "login", request.cookies.get(LOGIN_COOKIE))
    if found is None or not same(given, str(found.get("c", ""))):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and send the form again")


def _start_session(request: Request, token_id: str, principal: str, target: str) -> Response:
    context = base_context(request)
    found = session_caller(context, Session(token_id, principal, "", 0.0))
    if found is None:
        raise Unauthenticated("the token is unknown, revoked or expired")
    caller, expires = found
    session = new_session(caller, now=now(request), token_expires=expires)
    answer = redirect(request, safe_next(target), f"Signed in as {caller.principal}.")
    lifetime = int(min(SESSION_LIFETIME.total_seconds(), session.expires - now(request)))
    set_cookie(request, answer, SESSION_COOKIE, sign(state(request).key, "session", session.to_dict()),
               max_age=max(lifetime, 1))  # fmt: skip
    clear_cookie(request, answer, LOGIN_COOKIE)
    return answer


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if current_session(request) is not None:
        return redirect(request, safe_next(next))
    return _login_page(request, "login.html", next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _check_login_csrf(request, csrf_token)
    client = request.client.host if request.client else "unknown"
    failures: AuthFailures = request.app.state.auth_failures
    if failures.blocked(client):
        raise RateLimited("too many failed sign-ins from this address; wait a minute and check the token")
    context = base_context(request)
    with context.engine.connect() as connection:
        caller = authenticate(connection, token.strip(), context.clock.now())
    if caller is None:
        failures.failed(client)
        return _login_page(request, "login.html", status=401, next=safe_next(next),
                           error="That token is unknown, revoked or expired.")  # fmt: skip
    return _start_session(request, caller.token_id, caller.principal, next)


def _braked(request: Request, code: str, use: Callable[[Context, str], _T]) -> _T:
    """``use(context, code)``, refused while this address has failed too often; a refused code counts as a failure."""
    client = request.client.host if request.client else "unknown"
    failures: AuthFailures = request.app.state.auth_failures
    if failures.blocked(client):
        raise RateLimited("too many failed sign-ins from this address; wait a minute and ask for a new link")
    try:
        return use(base_context(request), code.strip())
    except Unauthenticated:
        failures.failed(client)
        raise


def _sign_in_with_code(request: Request, code: str) -> Response:
    """Redeem a one-time code and start the session it buys (``/login/once`` and the POST of ``/login/link``)."""
    found = _braked(request, code, functools.partial(redeem_login_code, session_lifetime=SESSION_LIFETIME))
    return _start_session(request, found.session_token_id, found.principal, "/")


@router.get("/login/link")
def link_form(request: Request, code: str = "") -> Response:
    principal = _braked(request, code, peek_login_code)  # checks the code without using it up
    return _login_page(request, "link.html", code=code.strip(), principal=principal)


@router.post("/login/link")
def redeem_link(
    request: Request, code: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = ""
) -> Response:
    _check_login_csrf(request, csrf_token)
    return _sign_in_with_code(request, code)


@router.get("/login/once")
def login_once(request: Request, code: str = "") -> Response:
    return _sign_in_with_code(request, code)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    session = current_session(request)
    if session is not None and not same(csrf_token, session.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and send the form again")
    answer = redirect(request, "/login", "Signed out." if session is not None else "")
    clear_cookie(request, answer, SESSION_COOKIE)
    return answer
