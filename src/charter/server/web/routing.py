"""The dashboard's plumbing: HTML errors, the signed-in caller, CSRF checks, rendering and flash messages.

Every dashboard route is a :class:`WebRoute`: a Charter error becomes an HTML page with the
error's status and message (the API's handler would answer JSON), and a request without a
valid session is sent to ``/login`` with the page it wanted.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader

from charter.errors import CharterError, Forbidden
from charter.server.security import context_for
from charter.server.web.session import (
    FLASH_COOKIE,
    FLASH_LIFETIME,
    SESSION_COOKIE,
    Session,
    WebState,
    read_session,
    same,
    session_caller,
    session_key,
    sign,
    unsign,
)
from charter.services.context import Context
from charter.services.tokens import Caller

#: Scripts and styles from this server only; no frames, no plugins. Plotly adds <style> elements at run time.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_STATE_LOCK = threading.Lock()


class LoginRequired(Exception):
    """No valid session: the route class redirects to the login page."""


class WebRoute(APIRoute):
    """A dashboard route: Charter errors as HTML pages, a missing session as a redirect to /login."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":  # a form sent after the session ended: start again from the top
                    wanted = "/"
                answer = RedirectResponse(f"/login?next={quote(wanted, safe='/')}", status_code=303)
                clear_cookie(request, answer, SESSION_COOKIE)
                return secured(answer)
            except CharterError as exc:
                return render(request, "error.html", status=exc.status, title="Error", error=exc.message,
                              code=exc.code)  # fmt: skip
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
                where = ".".join(str(p) for p in first.get("loc", ()))
                return render(request, "error.html", status=422, title="Error", code="input.invalid",
                              error=f"{where}: {first.get('msg')}")  # fmt: skip

        return route


def state(request: Request) -> WebState:
    """The app's dashboard state, made on first use (the key is read from the home once)."""
    found = getattr(request.app.state, "web", None)
    if isinstance(found, WebState):
        return found
    with _STATE_LOCK:
        found = getattr(request.app.state, "web", None)
        if not isinstance(found, WebState):
            found = WebState(session_key(base_context(request).settings))
            request.app.state.web = found
        return found


def base_context(request: Request) -> Context:
    found: Context = request.app.state.context
    return found


def now(request: Request) -> float:
    return base_context(request).clock.now().timestamp()


def current_session(request: Request) -> Session | None:
    return read_session(state(request).key, request.cookies.get(SESSION_COOKIE), now(request))


def signed_in(request: Request) -> Caller:
    """The dependency of every page: the session's caller (roles as held now), or a redirect to /login."""
    session = current_session(request)
    found = None if session is None else session_caller(base_context(request), session)
    if session is None or found is None:
        raise LoginRequired
    request.state.caller, request.state.session = found[0], session
    return found[0]


def checked_form(request: Request, csrf_token: Annotated[str, Form()] = "") -> Caller:
    """The dependency of every form: a signed-in caller whose form carries the session's CSRF token."""
    who = signed_in(request)
    session: Session = request.state.session
    if not same(csrf_token, session.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and send the form again")
    return who


SignedIn = Annotated[Caller, Depends(signed_in)]
Posted = Annotated[Caller, Depends(checked_form)]


def acting(request: Request, who: Caller) -> Context:
    """The services' context acting as the signed-in principal."""
    return context_for(request, who)


def require_role(who: Caller, roles: tuple[str, ...], action: str) -> None:
    if not set(who.roles) & set(roles):
        having = ", ".join(who.roles) or "no role"
        raise Forbidden(f"{action} needs the role {' or '.join(roles)}; {who.principal} has {having}")


@functools.cache
def templates() -> Environment:
    env = Environment(loader=PackageLoader("charter.server.web", "templates"), autoescape=True)
    env.filters["short"] = lambda text, n=12: "" if text is None else str(text)[:n]
    env.filters["when"] = lambda text: "" if not text else str(text)[:19].replace("T", " ") + "Z"
    env.filters["number"] = _number
    return env


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def render(request: Request, name: str, *, status: int = 200, **values: Any) -> Response:
    """A page: the template with the caller, the CSRF token and any flash message; no caching, strict CSP."""
    session: Session | None = getattr(request.state, "session", None)
    flash = unsign(state(request).key, "flash", request.cookies.get(FLASH_COOKIE))
    message = None
    if flash is not None and float(flash.get("e", 0)) > now(request):
        message = str(flash.get("m", ""))
    html = templates().get_template(name).render(
        who=getattr(request.state, "caller", None), csrf=session.csrf if session else "", flash=message,
        path=request.url.path, **values,
    )  # fmt: skip
    answer = HTMLResponse(html, status_code=status)
    if FLASH_COOKIE in request.cookies:
        clear_cookie(request, answer, FLASH_COOKIE)
    return secured(answer)


def secured(answer: Response) -> Response:
    answer.headers["Content-Security-Policy"] = CSP
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Referrer-Policy"] = "same-origin"
    answer.headers["X-Frame-Options"] = "DENY"
    answer.headers.setdefault("Cache-Control", "no-store")
    return answer


def redirect(request: Request, url: str, message: str = "") -> RedirectResponse:
    """See Other to ``url`` (a GET after a successful form), carrying ``message`` in a signed flash cookie."""
    answer = RedirectResponse(url, status_code=303)
    secured(answer)
    if message:
        data = {"m": message, "e": now(request) + FLASH_LIFETIME.total_seconds()}
        set_cookie(request, answer, FLASH_COOKIE, sign(state(request).key, "flash", data),
                   max_age=int(FLASH_LIFETIME.total_seconds()))  # fmt: skip
    return answer


def set_cookie(request: Request, answer: Response, name: str, value: str, *, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, path /, Secure when the request came over https."""
    answer.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                      secure=request.url.scheme == "https")  # fmt: skip


def clear_cookie(request: Request, answer: Response, name: str) -> None:
    answer.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


def safe_next(target: str | None) -> str:
    """Only a path on this server (never ``//host`` or a scheme): an open redirect is refused."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    return target


def pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))
