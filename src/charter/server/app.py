"""``create_app(settings)``: the FastAPI application, built by a factory (nothing happens at import).

The app holds one store engine and one clock; each request gets a :class:`~charter.services.context.Context`
whose actor is the principal of its API token (or web session), so every write it makes is attributed
to that principal on the ledger. Errors become JSON problem documents with the error's stable code.
CORS is closed unless ``CHARTER_CORS_ORIGINS`` lists origins.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from charter.clock import Clock, SystemClock
from charter.config import Settings, load_settings
from charter.services.context import open_context
from charter.version import version


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    from charter.server.api import router as api_router
    from charter.server.errors import install_error_handlers
    from charter.server.security import AuthFailures, TokenCache

    settings = settings or load_settings()
    context = open_context(settings, clock=clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()

    app = FastAPI(
        title="Charter",
        version=version(),
        description="The governance control plane for machine learning in production: REST API v1.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.context = context
    app.state.auth_failures = AuthFailures()
    app.state.token_cache = TokenCache()
    install_error_handlers(app)
    app.include_router(api_router)
    for extra in _optional_routers():
        app.include_router(extra)
    origins = [o.strip() for o in os.environ.get("CHARTER_CORS_ORIGINS", "").split(",") if o.strip()]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])
    return app


def served_app(settings: Settings | None = None) -> FastAPI:
    """The app as ``charter serve`` runs it: :func:`create_app`, then what it built kept out of the cyclic GC.

    The server's process holds a large, long-lived heap (the store, FastAPI, pydantic, the metric
    libraries), and every full collection walked all of it: 100-125 ms stalls, every few seconds
    under load, which set the API's p99 (``benchmarks/api.py``). ``gc.freeze()`` after building
    the app moves that heap out of the collector's reach, so a collection scans only what requests
    made. Tests build many apps in one process and use :func:`create_app`, which freezes nothing.
    """
    import gc

    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app


def _optional_routers() -> list[Any]:
    """The dashboard and /metrics, registered when their modules exist (they are separate layers of the server)."""
    import importlib

    found = []
    for module in ("charter.server.web", "charter.server.metrics"):
        try:
            found.append(importlib.import_module(module).router)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return found
