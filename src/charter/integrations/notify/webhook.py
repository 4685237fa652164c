"""JSON over HTTP with urllib, the generic signed webhook, and its signature scheme.

An answer in 2xx is success. 429, 5xx, a refused or dropped connection and a timeout are
retryable; any other status (other 4xx, and 3xx: redirects are not followed, so a signed body
never goes somewhere its target did not name) is not. Error messages name only the scheme, host
and port of a URL: a Slack webhook's path is its secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from charter.clock import Clock, SystemClock
from charter.integrations.notify.model import DeliveryError, Notification, Target
from charter.version import version

SCHEMA = "charter.notification.v1"
SIGNATURE_HEADER = "X-Charter-Signature"
TIMESTAMP_HEADER = "X-Charter-Timestamp"
EVENT_HEADER = "X-Charter-Event"
_SNIPPET = 200


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def origin(url: str) -> str:
    """``https://hooks.example.com:443``-style text of a URL without its path, query or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def post_json(url: str, body: bytes, *, headers: Mapping[str, str], timeout: float) -> Response:
    """POST ``body`` as JSON; a 2xx answer is returned, anything else raises :class:`DeliveryError`."""
    sent = {"User-Agent": f"charter/{version()}", **headers, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=sent)
    opener = urllib.request.build_opener(_NoRedirect)
    where = origin(url)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Response(int(response.status), response.read(1 << 16))
    except urllib.error.HTTPError as exc:
        raise status_error(exc.code, _read(exc), exc.headers, where) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _timeout(where, timeout) from None
        raise DeliveryError(f"cannot connect to {where}: {_reason(reason)}", retryable=True) from None
    except TimeoutError:
        raise _timeout(where, timeout) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"connection to {where} failed: {_reason(exc)}", retryable=True) from None


def status_error(status: int, body: bytes, headers: Message | None, where: str) -> DeliveryError:
    """The error for a non-2xx answer: 429 and 5xx are retryable, everything else is not."""
    retryable = status == 429 or status >= 500
    text = " ".join(body.decode("utf-8", "replace").split())
    if len(text) > _SNIPPET:
        text = text[:_SNIPPET] + "..."
    detail = f": {text}" if text else ""
    if 300 <= status < 400:
        detail = f" (redirects are not followed; point the target at the final URL){detail}"
    retry_after = _retry_after(headers.get("Retry-After") if headers is not None else None)
    return DeliveryError(
        f"HTTP {status} from {where}{detail}", retryable=retryable, status=status, retry_after=retry_after
    )


def _read(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(1 << 16)
    except (OSError, http.client.HTTPException):
        return b""


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:  # the HTTP-date form is rare from webhook receivers; fall back to backoff
        return None
    return seconds if seconds >= 0 else None


def _timeout(where: str, timeout: float) -> DeliveryError:
    return DeliveryError(f"no answer from {where} within {timeout:g} s", retryable=True)


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def dumps(payload: object) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the exact bytes that are sent (and signed)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


# --- the generic webhook -----------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes, keyed with the target's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(
    body: bytes,
    header: str,
    secret: str,
    timestamp: str | None = None,
    tolerance: float = 300.0,
    *,
    now: float | None = None,
) -> bool:
    """Whether a webhook request really came from Charter with this secret (for receivers in Python).

    ``header`` is the ``X-Charter-Signature`` value and ``timestamp`` the ``X-Charter-Timestamp``
    value. With a timestamp, the request is also refused when it is more than ``tolerance``
    seconds from ``now`` (default: the system clock) or when it differs from the body's signed
    ``sent_at``, so a captured request cannot be replayed later with a fresh header.
    """
    if not hmac.compare_digest(sign(body, secret).encode(), header.strip().encode()):
        return False
    if timestamp is None:
        return True
    try:
        sent = int(timestamp.strip())
        signed = json.loads(body).get("sent_at")
    except (ValueError, AttributeError):
        return False
    current = time.time() if now is None else now
    return signed == sent and abs(current - sent) <= tolerance


def webhook_request(notification: Notification, target: Target, sent_at: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the generic webhook for one notification, sent at Unix time ``sent_at``."""
    body, headers = signed_request({**notification.to_dict(), "schema": SCHEMA}, notification.event, sent_at,
                                   target.secret)  # fmt: skip
    return body, {**target.headers, **headers}


def signed_request(
    payload: Mapping[str, object], event: str, sent_at: int, secret: str = ""
) -> tuple[bytes, dict[str, str]]:
    """Any Charter webhook's body and headers: the payload with ``sent_at``, the event, and the HMAC when keyed."""
    body = dumps({**payload, "charter_version": version(), "sent_at": sent_at})
    headers = {EVENT_HEADER: event, TIMESTAMP_HEADER: str(sent_at)}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return body, headers


class WebhookNotifier:
    """POSTs the notification as signed JSON (schema ``charter.notification.v1``) to the target's URL."""

    def __init__(self, target: Target, *, clock: Clock | None = None) -> None:
        self.target = target
        self._clock = clock or SystemClock()

    def send(self, notification: Notification) -> None:
        sent_at = int(self._clock.now().timestamp())
        body, headers = webhook_request(notification, self.target, sent_at)
        post_json(self.target.url, body, headers=headers, timeout=self.target.timeout)
