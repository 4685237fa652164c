"""The demo's on-call pager: a webhook receiver on 127.0.0.1 that checks Charter's signature on every call.

The demo's notification targets point here (``/ops`` for the on-call engineer, ``/lead`` for
the escalation), so an incident's notifications really leave Charter over HTTP, signed with
HMAC-SHA256 (docs/notifications.md). The receiver keeps each delivery with whether its
signature and timestamp verified, answers 200 to a good one and 401 to a bad one, and binds a
free port on the loopback interface only.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from charter.integrations.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


@dataclass(frozen=True)
class Delivery:
    path: str
    event: str
    incident: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "event": self.event, "incident": self.incident, "verified": self.verified}


class WebhookReceiver:
    """Receives Charter's webhooks on ``http://127.0.0.1:<port>/<path>``; use it as a context manager."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhooks", daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                verified = verify_signature(body, self.headers.get(SIGNATURE_HEADER) or "", receiver.secret,
                                            self.headers.get(TIMESTAMP_HEADER))  # fmt: skip
                receiver._keep(self.path, body, verified)
                self.send_response(200 if verified else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:  # the demo prints its own story, not access logs
                pass

        return Handler

    def _keep(self, path: str, body: bytes, verified: bool) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        found = payload if isinstance(payload, dict) else {}
        with self._lock:
            self._deliveries.append(
                Delivery(path, str(found.get("event", "")), str(found.get("incident_id", "")), verified)
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
