"""A client of Charter's REST API: JSON requests, the server's problem documents raised as Charter's errors.

The CLI's ``--server URL`` mode (``charter gate --server``) runs a command on a Charter server
instead of opening the database: the CI runner then holds an API token, not database
credentials, and the command does not load the store's libraries. The SDK's HTTP sink
(:mod:`charter.sdk.http_sink`) shares the address parsing and the reading of problems.

An error the server answers with (``{"code", "status", "message"}``) is raised as the
:class:`~charter.errors.CharterError` of that code, so the CLI shows it as it shows a local
one; a server that cannot be reached raises :class:`~charter.errors.StoreUnreachable`.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from charter.errors import CharterError, InvalidInput, StoreUnreachable, Unauthenticated, all_error_classes

#: How long one request may take, connecting included.
TIMEOUT = 120.0


@dataclass(frozen=True)
class ServerAddress:
    """A Charter server's root URL, parsed: ``https://charter.example[:port][/prefix]``."""

    url: str
    https: bool
    host: str
    port: int | None
    prefix: str
    root: str  # scheme, host, port and prefix: what ``/api/v1/...`` is appended to

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout)


def server_address(url: str, *, option: str = "url") -> ServerAddress:
    """The address of a Charter server; ``option`` names where the URL came from in the error."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{option} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{option} {url!r} is not an http(s) URL of a Charter server (e.g. https://charter.example)")
    prefix = parts.path.rstrip("/").removesuffix("/api/v1")
    root = urlunsplit((parts.scheme, parts.netloc, prefix, "", ""))
    return ServerAddress(url, parts.scheme == "https", parts.hostname, port, prefix, root)


def problem_message(data: bytes, status: int) -> str:
    """The message of an error answer: a problem document's, or the start of whatever else came."""
    try:
        found = json.loads(data)
    except ValueError:
        return data[:200].decode(errors="replace") or f"HTTP {status}"
    return str(found.get("message", found)) if isinstance(found, dict) else str(found)


_BY_CODE = {cls.code: cls for cls in all_error_classes()}


def problem_error(data: bytes, status: int) -> CharterError:
    """The Charter error an error answer stands for (by its code; else a plain :class:`CharterError`)."""
    try:
        code = json.loads(data).get("code")
    except (ValueError, AttributeError):
        code = None
    return _BY_CODE.get(code, CharterError)(problem_message(data, status))


class ApiClient:
    """One Charter server, with an API token (sent as ``Authorization: Bearer``)."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = TIMEOUT, option: str = "url") -> None:
        self.address = server_address(url, option=option)
        self.token = token or None
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send ``body`` as JSON to ``/api/v1{path}``; the decoded answer, or the error it stands for."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        url = self.address.url
        request = urllib.request.Request(f"{self.address.root}/api/v1{path}", data=data, headers=headers, method=method)
        try:
            # urllib, not a bare connection: it honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY, as CI runners need
            # (an opener of its own reads them now; urlopen's shared one keeps what they were on first use).
            with urllib.request.build_opener().open(request, timeout=self.timeout) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            text = (reason.strerror if isinstance(reason, OSError) else None) or str(reason) or type(exc).__name__
            raise StoreUnreachable(f"Charter server {url} is unreachable ({text})") from None
        if status >= 400:
            error = problem_error(answer, status)
            if isinstance(error, Unauthenticated) and not self.token:
                error.message += "; none was sent: set CHARTER_TOKEN"
                error.args = (error.message,)
            raise error
        try:
            return json.loads(answer)
        except ValueError:
            raise StoreUnreachable(f"Charter server {url} answered {status} without JSON; is it a Charter "
                                   "server?") from None  # fmt: skip
