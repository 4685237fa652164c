"""REST API v1: one module per area, each an ``APIRouter`` named ``router``, collected under ``/api/v1``."""

from __future__ import annotations

import importlib

from fastapi import APIRouter
from pydantic import BaseModel

from charter.server.errors import ERRORS
from charter.server.security import Reader
from charter.version import version

#: The API's areas, in the order the OpenAPI document lists them.
AREAS = (
    "models", "datasets", "lineage", "policies", "evaluations", "gates", "approvals", "monitors", "incidents",
    "ledger", "lake", "decisions", "explanations", "tokens",
)  # fmt: skip

router = APIRouter(prefix="/api/v1")


class Health(BaseModel):
    status: str
    version: str


class Me(BaseModel):
    principal: str
    roles: list[str]


@router.get("/health", response_model=Health, tags=["server"])
def health() -> Health:
    """Liveness: the server answers (no token needed)."""
    return Health(status="ok", version=version())


@router.get("/whoami", response_model=Me, tags=["server"], responses=ERRORS)
async def whoami(who: Reader) -> Me:
    """The principal the token acts as, and its roles."""
    return Me(principal=who.principal, roles=list(who.roles))


for _area in AREAS:
    try:
        router.include_router(importlib.import_module(f"charter.server.api.{_area}").router)
    except ModuleNotFoundError as exc:  # an area whose module is not written yet
        if exc.name != f"charter.server.api.{_area}":
            raise
