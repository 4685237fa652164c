"""Who is calling: bearer tokens, roles per route, and a brake on repeated authentication failures.

``Authorization: Bearer ctk_...`` names an API token (:mod:`charter.services.tokens`); the request then
acts as the token's principal with the roles that principal holds now. A route declares the roles it
admits with ``Depends(allow(*roles))``. A client (by address) that fails authentication
:data:`MAX_FAILURES` times within :data:`WINDOW_SECONDS` is refused with 429 for the rest of the window.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from charter.errors import Forbidden, RateLimited, Unauthenticated
from charter.services.context import Context
from charter.services.tokens import Caller, authenticate

ROLES = ("viewer", "developer", "approver", "risk-officer", "admin")
#: Who may read anything through the API: any principal holding any role.
READERS = ROLES
MAX_FAILURES = 10
WINDOW_SECONDS = 60.0


class AuthFailures:
    """Failed authentications per client address in a sliding window (thread-safe)."""

    def __init__(self, *, limit: int = MAX_FAILURES, window: float = WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._seen.get(client)
            if times is None:
                return False
            while times and times[0] <= now - self.window:
                times.popleft()
            return len(times) >= self.limit

    def failed(self, client: str, now: float | None = None) -> None:
        with self._lock:
            self._seen.setdefault(client, deque()).append(time.monotonic() if now is None else now)


def caller(request: Request) -> Caller:
    """The request's caller from its bearer token (or the web session's, set by the dashboard)."""
    found = getattr(request.state, "caller", None)
    if isinstance(found, Caller):
        return found
    client = request.client.host if request.client else "unknown"
    failures: AuthFailures = request.app.state.auth_failures
    if failures.blocked(client):
        raise RateLimited("too many failed authentications from this address; wait a minute and check the token")
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("this route needs a token: send Authorization: Bearer <token> (charter token create)")
    context: Context = request.app.state.context
    with context.engine.connect() as connection:
        found = authenticate(connection, secret.strip(), context.clock.now())
    if found is None:
        failures.failed(client)
        raise Unauthenticated("the token is unknown, revoked or expired")
    request.state.caller = found
    return found


def allow(*roles: str) -> Callable[[Request], Caller]:
    """A dependency admitting callers that hold one of ``roles``."""

    def check(request: Request) -> Caller:
        found = caller(request)
        if not set(found.roles) & set(roles):
            having = ", ".join(found.roles) or "no role"
            raise Forbidden(f"this route needs the role {' or '.join(roles)}; {found.principal} has {having}")
        return found

    return check


#: A route parameter admitting any principal with a role: ``def route(who: Reader) -> ...``.
Reader = Annotated[Caller, Depends(allow(*READERS))]


def context_for(request: Request, who: Caller) -> Context:
    """The services' context for this request: the app's store and clock, acting as ``who``."""
    base: Context = request.app.state.context
    return dataclasses.replace(base, settings=dataclasses.replace(base.settings, actor=who.principal))
