"""Decision ingest: ``POST /api/v1/decisions:batch`` (and ``outcomes:batch``), what the SDK's HTTP sink calls.

A body is JSON — ``{"model" or "reference", "decisions": [{decision_id, ts, inputs, prediction, score,
scores, latency_ms, subject_id, groups, trace_id}]}`` — or an Arrow IPC stream
(``Content-Type: application/vnd.apache.arrow.stream``) of the lake's decision columns (the batch the
SDK builds; ``?model=`` names the model), either optionally gzipped (``Content-Encoding: gzip``).
The batch becomes the lake's columns (:mod:`.payload`), is masked per the model's privacy policy as
the embedded :class:`~charter.services.decisions.LakeSink` masks it, and is written and anchored by
:func:`charter.services.lake.write_batch` (:mod:`.commit`: group commit, duplicates dropped by
decision id). The answer comes once the Delta commit and its ledger anchor are done: rows written,
and rows skipped as duplicates (a retried batch is all duplicates). Developers and admins may write.

A body (or its decompressed content) over ``CHARTER_INGEST_MAX_BYTES`` (default 16 MiB) is refused
with 413; one that cannot be read (not JSON, not Arrow, bad gzip) with 400; content that is wrong
with 422 naming the row and field; another media type with 415.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from charter.errors import CharterError, ConfigError, InvalidInput
from charter.lake.privacy import apply_policy
from charter.server.api.decisions.commit import Item, ModelIngest
from charter.server.api.decisions.payload import (
    ARROW,
    Refused,
    checked,
    decode,
    invalid,
    json_decisions,
    json_document,
    json_outcomes,
    normalise,
    read_arrow,
    too_large,
)
from charter.server.errors import ERRORS, Problem
from charter.server.metrics import IngestMetrics, ingest_metrics
from charter.server.security import Reader, allow, context_for
from charter.services.context import Context
from charter.services.references import Reference, check_name, parse_reference
from charter.services.registry import resolve_version
from charter.services.tokens import Caller

router = APIRouter(tags=["decisions"])
MAX_BYTES = 16 * 1024 * 1024
Writer = Annotated[Caller, Depends(allow("developer", "admin"))]
_CREATE = threading.Lock()
_BODY = {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}}, ARROW: {"schema": {"type": "string", "format": "binary"}},
}}  # fmt: skip
_REFUSALS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    413: {"model": Problem, "description": "The body is over CHARTER_INGEST_MAX_BYTES (input.too_large)."},
    415: {"model": Problem, "description": "Neither JSON nor Arrow, or not gzip (input.unsupported_media_type)."},
}


class Ingested(BaseModel):
    model: str
    received: int  # rows in the request
    written: int  # rows it added to the lake
    duplicates: int  # rows the lake already held (a retry), skipped
    table_version: int | None  # the Delta version of the commit that holds them


class Resolved(BaseModel):
    model: str
    version: int
    alias: str | None
    registered: bool
    input_schema: dict[str, Any] | None


class Ingest:
    """An app's ingest: the body limit and each model's :class:`~.commit.ModelIngest`."""

    def __init__(self) -> None:
        text = os.environ.get("CHARTER_INGEST_MAX_BYTES", str(MAX_BYTES)).strip()
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"CHARTER_INGEST_MAX_BYTES must be a whole number of bytes, not {text!r}")
        self.max_bytes = int(text)
        self._models: dict[str, ModelIngest] = {}
        self._lock = threading.Lock()

    def model(self, name: str) -> ModelIngest:
        with self._lock:
            return self._models.setdefault(name, ModelIngest(name))


def ingest_of(app: Any) -> Ingest:
    """The app's ingest state, made on first use (tests may set ``max_bytes`` on it)."""
    found = getattr(app.state, "ingest", None)
    if found is None:
        with _CREATE:
            found = getattr(app.state, "ingest", None)
            if found is None:
                found = app.state.ingest = Ingest()
    assert isinstance(found, Ingest)
    return found


@router.post("/decisions:batch", response_model=Ingested, responses=_REFUSALS, openapi_extra={"requestBody": _BODY})
async def ingest_decisions(
    request: Request, who: Writer, model: str | None = None, reference: str | None = None
) -> Any:
    """Write a batch of decisions to the model's lake; answered once durable. Retried rows count as duplicates."""
    return await _answer(request, who, "decisions", {"model": model, "reference": reference})


@router.post("/outcomes:batch", response_model=Ingested, responses=_REFUSALS, openapi_extra={"requestBody": _BODY})
async def ingest_outcomes(request: Request, who: Writer, model: str | None = None) -> Any:
    """Write ground truth, ``{"model", "outcomes": [{decision_id, ts, label}]}`` or Arrow, joined by decision id."""
    return await _answer(request, who, "outcomes", {"model": model})


@router.get("/decisions:resolve", response_model=Resolved, responses=ERRORS)
def resolve(request: Request, who: Reader, reference: str) -> Resolved:
    """The version a reference names now, with its input schema (the SDK's HTTP sink names features by it)."""
    found = resolve_version(context_for(request, who), reference)
    return Resolved(model=found.model, version=found.version, alias=parse_reference(reference).alias,
                    registered=True, input_schema=found.input_schema)  # fmt: skip


async def _answer(request: Request, who: Caller, kind: str, given: dict[str, str | None]) -> Any:
    meter = ingest_metrics(request.app)
    started = time.perf_counter()
    media = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    meter.requests.labels(kind, "arrow" if media == ARROW else "json").inc()
    try:
        if media not in (ARROW, "application/json"):
            raise Refused(415, f"Content-Type {media!r} is not taken: send application/json or {ARROW}",
                          "input.unsupported_media_type")  # fmt: skip
        ingest = ingest_of(request.app)
        raw = await _read(request, ingest.max_bytes)
        encoding = request.headers.get("content-encoding", "").strip().lower()
        work = (ingest, context_for(request, who), kind, media, raw, encoding, given, meter)
        found: Ingested = await run_in_threadpool(_ingest, *work)
    except Refused as exc:
        meter.errors.labels(kind, str(exc.status)).inc()
        return JSONResponse({"code": exc.code, "status": exc.status, "message": exc.message}, status_code=exc.status)
    except CharterError as exc:
        meter.errors.labels(kind, str(exc.status)).inc()
        raise
    except Exception:
        meter.errors.labels(kind, "500").inc()
        raise
    finally:
        meter.seconds.labels(kind).observe(time.perf_counter() - started)
    meter.rows.labels(kind, "written").inc(found.written)
    meter.rows.labels(kind, "duplicate").inc(found.duplicates)
    return found


async def _read(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes (or says it will)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _ingest(ingest: Ingest, context: Context, kind: str, media: str, body: bytes, encoding: str,
            given: dict[str, str | None], meter: IngestMetrics) -> Ingested:  # fmt: skip
    """Parse, check, mask and commit one request's batch (on a worker thread: this is the CPU and I/O part)."""
    data = decode(body, encoding, ingest.max_bytes)
    rows = None
    if media != ARROW:
        given, rows = json_document(data, kind, given)
    ref = _reference(given.get("reference"))
    name = given.get("model") or (ref.model if ref is not None else None)
    _check_model(name, ref)
    assert name is not None
    ref = ref or Reference(name)  # a bare model name: its latest registered version, as the SDK resolves it
    target = ingest.model(name)
    try:
        if kind == "outcomes":
            batch = checked(json_outcomes(rows) if rows is not None else read_arrow(data), "outcomes")
            written, duplicates, version = target.write_outcomes(context, batch)
            return Ingested(model=name, received=batch.num_rows, written=written, duplicates=duplicates,
                            table_version=version)  # fmt: skip
        facts = target.facts(context)
        registry = facts.registry
        features = registry.schemas.get(registry.version(ref) or 0, {})
        batch = normalise(json_decisions(rows, features) if rows is not None else read_arrow(data), ref, registry)
        if facts.masks:
            batch = apply_policy(batch, facts.policy, facts.keys)
    except InvalidInput as exc:
        raise invalid(str(exc)) from None
    item = Item(batch, context)
    with target.lock:
        target.queue.append(item)
    meter.queued.inc(batch.num_rows)
    try:
        target.commit(item)
    finally:
        meter.queued.dec(batch.num_rows)
        with target.lock:  # not taken by any commit (an error before it could be): out of the queue
            if item in target.queue:
                target.queue.remove(item)
    if item.error is not None:
        raise item.error
    return Ingested(model=name, received=batch.num_rows, written=item.written, duplicates=item.duplicates,
                    table_version=item.version)  # fmt: skip


def _reference(text: str | None) -> Reference | None:
    if text is None:
        return None
    try:
        return parse_reference(text)
    except InvalidInput as exc:
        raise invalid(f"reference: {exc}") from None


def _check_model(name: str | None, ref: Reference | None) -> None:
    if name is None:
        raise invalid("model: name the model (?model=credit-risk, or model or reference in a JSON body)")
    try:
        check_name(name)
    except InvalidInput as exc:
        raise invalid(f"model: {exc}") from None
    if ref is not None and ref.model != name:
        raise invalid(f"reference {ref} names model {ref.model!r}, not {name!r}")
