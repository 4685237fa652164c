"""Dashboard sessions: signed cookies that map a browser to an API token, CSRF tokens, one-time login links.

No cookie is stored on the server: every value the browser holds is JSON signed with
HMAC-SHA256 under a per-home key (:func:`session_key`), with a purpose string mixed into the MAC
so a value signed for one use (a flash message) is never accepted for another (a session).

- **Session** (cookie ``charter_session``, HttpOnly, SameSite=Strict, Secure over https): the
  token's id and principal, a random CSRF token and an expiry. It never holds the token's secret.
  Every request looks the token up again, so revoking the token (or the principal's roles) takes
  effect on the next page; a revoked or expired token ends its sessions.
- **CSRF**: every form carries the session's CSRF token in a hidden field; a POST whose field does
  not match is refused with 403. Before login, the login forms use a signed random value held in
  the ``charter_login`` cookie the same way.
- **One-time login link** (:func:`create_login_link`): an admin mints a one-time code for a
  principal (:mod:`charter.services.login_codes`: stored as a hash, on the ledger) and gets
  ``/login/link?code=clc_...``. Opening the link shows a confirmation button without using the
  code; pressing it redeems the code for a session. The code works once across every server of
  the home, even after a restart, and lapses at its expiry (15 minutes by default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization

from charter.clock import parse_timestamp
from charter.config import KEY_DIR, Settings
from charter.ledger.keys import load_private_key
from charter.services.access import roles_of
from charter.services.context import Context
from charter.services.login_codes import SESSION_LIFETIME, mint_login_code
from charter.services.tokens import Caller, list_tokens

SESSION_COOKIE = "charter_session"
LOGIN_COOKIE = "charter_login"
FLASH_COOKIE = "charter_flash"
LINK_LIFETIME = timedelta(minutes=15)
FLASH_LIFETIME = timedelta(minutes=2)
SESSION_KEY_FILE = "web-session.key"
_DERIVATION = b"charter.web.session-key/v1"


def session_key(settings: Settings) -> bytes:
    """The home's key for signing dashboard cookies.

    Derived with HMAC from the ledger's signing key when the home has one (so every server of a
    home that shares the signing key shares the sessions), else a random key kept in
    ``<home>/keys/web-session.key`` (created once, mode 0600).
    """
    if settings.signing_key_pem is not None or settings.signing_key_file.exists():
        private = load_private_key(settings.signing_key_file, pem=settings.signing_key_pem)
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return hmac.new(raw, _DERIVATION, hashlib.sha256).digest()
    path = settings.home / KEY_DIR / SESSION_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
    return key


def sign(key: bytes, purpose: str, data: dict[str, Any]) -> str:
    """``base64url(json).base64url(mac)``, the MAC over the purpose and the JSON."""
    body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_b64(_mac(key, purpose, body))}"


def unsign(key: bytes, purpose: str, text: str | None) -> dict[str, Any] | None:
    """The data signed for ``purpose``, or None for anything altered, truncated or signed for another use."""
    if not text or text.count(".") != 1:
        return None
    body, mac = text.split(".")
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(given, _mac(key, purpose, body)):
            return None
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _mac(key: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(key, f"{purpose}\n{body}".encode("ascii", "replace"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets (False when either is empty)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class Session:
    token_id: str
    principal: str
    csrf: str
    expires: float  # Unix time

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.token_id, "p": self.principal, "c": self.csrf, "e": self.expires}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session | None:
        try:
            return cls(str(data["t"]), str(data["p"]), str(data["c"]), float(data["e"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class WebState:
    """What the dashboard keeps per app: the key that signs its cookies."""

    key: bytes


def new_session(caller: Caller, *, now: float, token_expires: str | None) -> Session:
    """A session for ``caller``, ending at :data:`SESSION_LIFETIME` or the token's expiry, whichever is first."""
    until = now + SESSION_LIFETIME.total_seconds()
    if token_expires is not None:
        until = min(until, parse_timestamp(token_expires).timestamp())
    return Session(caller.token_id, caller.principal, secrets.token_urlsafe(32), until)


def read_session(key: bytes, cookie: str | None, now: float) -> Session | None:
    data = unsign(key, "session", cookie)
    found = None if data is None else Session.from_dict(data)
    return found if found is not None and found.expires > now else None


def session_caller(context: Context, session: Session) -> tuple[Caller, str | None] | None:
    """The caller a session acts as now, with its token's expiry; None once the token is revoked or expired."""
    now = context.clock.now()
    token = next((t for t in list_tokens(context, principal=session.principal) if t.id == session.token_id), None)
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and parse_timestamp(token.expires_at) <= now:
        return None
    with context.engine.connect() as connection:
        roles = roles_of(connection, session.principal)
    return Caller(session.principal, roles, token.id), token.expires_at


def create_login_link(
    context: Context, principal: str, *, base_url: str = "", expires_in: timedelta = LINK_LIFETIME
) -> str:
    """A one-time sign-in link for ``principal`` (the context's actor must be an admin: it mints a login code).

    The link is ``{base_url}/login/link?code=clc_...``, holding a code from
    :func:`charter.services.login_codes.mint_login_code` (``principal`` must hold a role;
    ``expires_in`` is at most an hour). Opening it shows a confirmation button without using the
    code; pressing that redeems the code once, on any server of the home, and signs the browser
    in as ``principal`` with the roles it holds, for at most :data:`SESSION_LIFETIME`.
    """
    minted = mint_login_code(context, principal, lifetime=expires_in)
    return f"{base_url.rstrip('/')}/login/link?code={minted.code}"
