"""The HTTP sink: decisions go to a Charter server's ingest endpoint (``charter.connect("https://charter.example")``).

Each batch the decision logger hands over is posted as an Arrow IPC stream to
``POST /api/v1/decisions:batch?model=...`` (outcomes to ``/api/v1/outcomes:batch``) with the API
token as a bearer; the server answers once the batch is durable in its lake. Any failure to get that
answer — the server unreachable, a timeout, 5xx, 401/403/429 — raises, so the logger spools the
batch to disk and retries it with backoff (:mod:`charter.sdk.delivery`). The server drops the
decision ids it already has, so a retry after a lost answer is not written twice.

A batch the server refuses for its content (400, 415, 422: sending it again can never succeed) is
not retried, which would hold up every later batch: it is saved under ``rejected_dir`` (Arrow IPC
files, ``<model>/<id>-<kind>-<status>.arrow``), counted in :attr:`HttpSink.rejected` and its reason
kept in :attr:`HttpSink.problems`. A batch over the server's size limit (413) is sent in halves.

Connections are kept alive and pooled (each logger's writer thread takes one); one that the server
closed meanwhile is replaced and the request sent again at once.
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from charter.client import problem_message, server_address
from charter.errors import NotFound, StoreUnreachable
from charter.sdk.uuids import new_decision_id

ARROW = "application/vnd.apache.arrow.stream"
PERMANENT = (400, 415, 422)  # the content is wrong: sending it again cannot succeed


class IngestFailed(Exception):
    """The server did not take a batch; the logger spools it and tries again later."""


@dataclass(frozen=True)
class RemoteVersion:
    """The version a reference names on the server, and its input schema (how features are named)."""

    version: int
    input_schema: dict[str, Any] | None


class HttpSink:
    """A :class:`~charter.sdk.sink.Sink` posting to a Charter server (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        compress: bool = False,
        rejected_dir: Path | str | None = None,
    ) -> None:
        """``url``: the server's root (a path prefix is kept); ``compress``: gzip the bodies (slow links)."""
        self._address = server_address(url)
        self.url = url
        self._prefix = self._address.prefix
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._compress = compress
        self._rejected_dir = Path(rejected_dir) if rejected_dir is not None else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.rejected = 0  # rows the server refused for their content
        self.problems: deque[str] = deque(maxlen=20)

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        self._send("decisions", model, batch)

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        self._send("outcomes", model, batch)

    def resolve(self, reference: str) -> RemoteVersion:
        """The version ``reference`` names now; NotFound when the server's registry has none."""
        try:
            status, data = self._request("GET", f"/api/v1/decisions:resolve?reference={quote(reference)}", None, {})
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnreachable(f"Charter server {self.url} is unreachable ({exc})") from None
        if status == 404:
            raise NotFound(problem_message(data, status))
        if status != 200:
            raise StoreUnreachable(f"Charter server {self.url} answered {status} to resolve {reference}: "
                                   f"{problem_message(data, status)}")  # fmt: skip
        found = json.loads(data)
        return RemoteVersion(int(found["version"]), found.get("input_schema"))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _send(self, kind: str, model: str, batch: pa.RecordBatch) -> None:
        body = _ipc(batch)
        headers = {"Content-Type": ARROW}
        if self._compress:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            status, data = self._request("POST", f"/api/v1/{kind}:batch?model={quote(model)}", body, headers)
        except (OSError, http.client.HTTPException) as exc:
            raise IngestFailed(f"Charter server {self.url} is unreachable ({type(exc).__name__}: {exc})") from None
        if status == 200:
            return
        if status == 413 and batch.num_rows > 1:
            half = batch.num_rows // 2
            self._send(kind, model, batch.slice(0, half))
            self._send(kind, model, batch.slice(half))
            return
        if status in PERMANENT or status == 413:
            self._reject(kind, model, batch, status, problem_message(data, status))
            return
        raise IngestFailed(f"Charter server {self.url} answered {status}: {problem_message(data, status)}")

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        """One request; a kept-alive connection the server has closed meanwhile is replaced once."""
        for attempt in (0, 1):
            connection, reused = self._take()
            try:
                connection.request(method, self._prefix + path, body=body, headers={**self._headers, **headers})
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                with self._lock:
                    self._idle.append(connection)
            return response.status, data
        raise AssertionError("unreachable")

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._address.connection(self._timeout), False

    def _reject(self, kind: str, model: str, batch: pa.RecordBatch, status: int, message: str) -> None:
        where = ""
        if self._rejected_dir is not None:
            folder = self._rejected_dir / quote(model, safe="")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{new_decision_id()}-{kind}-{status}.arrow"
                with pa.OSFile(str(path), "wb") as out, pa.ipc.new_file(out, batch.schema) as writer:
                    writer.write_batch(batch)
                where = f"; kept in {path}"
            except OSError as exc:
                where = f"; could not be kept in {folder} ({exc})"
        with self._lock:
            self.rejected += batch.num_rows
            self.problems.append(f"{model}: the server refused {batch.num_rows:,} {kind} ({status}: {message}){where}")


def _ipc(batch: pa.RecordBatch) -> bytes:
    stream = pa.BufferOutputStream()
    with pa.ipc.new_stream(stream, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(stream.getvalue().to_pybytes())
