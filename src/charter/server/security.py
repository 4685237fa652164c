"""Who is calling: bearer tokens, roles per route, and a brake on repeated authentication failures.

``Authorization: Bearer ctk_...`` names an API token (:mod:`charter.services.tokens`); the request then
acts as the token's principal with the roles that principal holds now. A route declares the roles it
admits with ``Depends(allow(*roles))``. A client (by address) that fails authentication
:data:`MAX_FAILURES` times within :data:`WINDOW_SECONDS` is refused with 429 for the rest of the window.

A token that authenticated is reused for :data:`TOKEN_CACHE_SECONDS` (never past its expiry)
instead of two queries on every request: under load the lookup was a third of a read request's
time. The price is that a revocation or a role change made by another process (the CLI, another
server process) takes effect within that time; one made through this server's API takes effect at
once (:meth:`TokenCache.clear`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from charter.clock import parse_timestamp
from charter.errors import Forbidden, RateLimited, Unauthenticated
from charter.services.context import Context
from charter.services.tokens import Caller, authenticate, hash_secret

ROLES = ("viewer", "developer", "approver", "risk-officer", "admin")
#: Who may read anything through the API: any principal holding any role.
READERS = ROLES
MAX_FAILURES = 10
WINDOW_SECONDS = 60.0
TOKEN_CACHE_SECONDS = 2.0
#: At most this many tokens are remembered (the oldest goes first).
TOKEN_CACHE_SIZE = 1024


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


class TokenCache:
    """Authenticated callers by the SHA-256 of their secret, each for a few seconds (thread-safe).

    Times come from the app's clock (injectable, as every time in Charter), so a test that moves
    the clock past a token's expiry or past the cache's seconds sees the token looked up again.
    """

    def __init__(self, *, seconds: float = TOKEN_CACHE_SECONDS, size: int = TOKEN_CACHE_SIZE) -> None:
        self.seconds, self.size = seconds, size
        self._found: OrderedDict[str, tuple[Caller, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: datetime) -> Caller | None:
        with self._lock:
            found = self._found.get(key)
            if found is None:
                return None
            if found[1] <= now:
                del self._found[key]
                return None
            return found[0]

    def put(self, key: str, found: Caller, now: datetime) -> None:
        """Remember ``found`` for :attr:`seconds`, or until its token expires if that is sooner."""
        until = now + timedelta(seconds=self.seconds)
        if found.expires_at is not None:
            until = min(until, parse_timestamp(found.expires_at))
        with self._lock:
            self._found[key] = (found, until)
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)

    def clear(self) -> None:
        """Forget every token: called when this process revokes a token or grants roles."""
        with self._lock:
            self._found.clear()


def caller(request: Request) -> Caller:
    """The request's caller from its bearer token (or the web session's, set by the dashboard)."""
    return _known(request) or _looked_up(request)


def _known(request: Request) -> Caller | None:
    """The caller when it is known without the store (this request's, or a token in the cache); else None."""
    found = getattr(request.state, "caller", None)
    if isinstance(found, Caller):
        return found
    _, secret = _bearer(request)
    context: Context = request.app.state.context
    cache: TokenCache = request.app.state.token_cache
    found = cache.get(hash_secret(secret), context.clock.now())
    if found is not None:
        request.state.caller = found
    return found


def _looked_up(request: Request) -> Caller:
    """The caller of a token not in the cache, from the store (then cached); a failure counts towards the brake."""
    client, secret = _bearer(request)
    context: Context = request.app.state.context
    now = context.clock.now()
    with context.engine.connect() as connection:
        found = authenticate(connection, secret, now)
    if found is None:
        request.app.state.auth_failures.failed(client)
        raise Unauthenticated("the token is unknown, revoked or expired")
    request.app.state.token_cache.put(hash_secret(secret), found, now)
    request.state.caller = found
    return found


def _bearer(request: Request) -> tuple[str, str]:
    """The client's address and the bearer secret it sent; refused when it has failed too often or sent none."""
    client = request.client.host if request.client else "unknown"
    failures: AuthFailures = request.app.state.auth_failures
    if failures.blocked(client):
        raise RateLimited("too many failed authentications from this address; wait a minute and check the token")
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("this route needs a token: send Authorization: Bearer <token> (charter token create)")
    return client, secret.strip()


def allow(*roles: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency admitting callers that hold one of ``roles``.

    Asynchronous, so that a caller already known (a cached token: nearly every request) costs no trip
    to a worker thread; only a token looked up in the store goes to one.
    """

    async def check(request: Request) -> Caller:
        found = _known(request)
        if found is None:
            found = await run_in_threadpool(_looked_up, request)
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
