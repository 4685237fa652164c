"""Monitors: what is watched on which model, running one now, and the series of values it stored.

Monitors are declared as ``kind: Monitor`` documents (``charter apply``); the API reads them,
runs one on demand (the window due now, or the one ending at ``at``) and serves its series.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from charter.server.api.access import roles
from charter.server.api.schemas import NAME, Body, Ident, Items, reply
from charter.server.errors import ERRORS
from charter.server.security import context_for
from charter.services import monitoring, monitors
from charter.services.tokens import Caller

router = APIRouter(tags=["monitors"])

MonitorPath = Annotated[str, Path(pattern=NAME, description="A monitor's name, e.g. credit-risk-drift.")]


class MonitorOut(BaseModel):
    name: str
    active: bool
    spec: dict[str, Any] = Field(description="The declared spec: model, target, kind, window, thresholds, ...")


class RunIn(Body):
    at: AwareDatetime | None = Field(None, description="Run the window due at this time (default: now).")


class RunOut(BaseModel):
    monitor: str
    model: str
    window_start: str | None
    window_end: str
    status: str = Field(description="ok, warning, critical, no_data or error.")
    rows: int
    value: float | None = Field(description="The monitored metric's value.")
    values: dict[str, float]
    notes: list[str]
    incident: str | None = Field(description="The incident the breach opened or joined, e.g. INC-3.")
    skipped: bool = Field(description="True when this window had already been computed.")


class PointOut(BaseModel):
    window_end: str
    metric: str
    value: float | None
    status: str
    rows: int


def _monitor(found: monitors.Monitor) -> MonitorOut:
    return MonitorOut(name=found.name, active=found.active, spec=found.to_spec())


@router.get("/monitors", response_model=Items[MonitorOut], responses=ERRORS, summary="List monitors")
def list_monitors(
    request: Request,
    who: Annotated[Caller, roles("GET /monitors")],
    model: Annotated[str | None, Query(pattern=NAME, description="Only this model's monitors.")] = None,
    include_inactive: bool = False,
) -> Any:
    """Monitors by model and name (removed ones too with ``include_inactive``)."""
    found = monitors.list_monitors(context_for(request, who), model=model, include_inactive=include_inactive)
    return reply(Items[MonitorOut](items=[_monitor(m) for m in found]))


@router.get("/monitors/{name}", response_model=MonitorOut, responses=ERRORS, summary="Show a monitor")
def get_monitor(request: Request, who: Annotated[Caller, roles("GET /monitors/{name}")], name: MonitorPath) -> Any:
    """One monitor's spec."""
    return reply(_monitor(monitors.get_monitor(context_for(request, who), name)))


@router.post("/monitors/{name}/runs", response_model=RunOut, responses=ERRORS, summary="Run a monitor now")
def run_monitor(
    request: Request,
    who: Annotated[Caller, roles("POST /monitors/{name}/runs")],
    name: MonitorPath,
    body: RunIn | None = None,
) -> Any:
    """Compute the window due now (or at ``at``), store its values and alert on a breach; a window runs once."""
    at = None if body is None else body.at
    found = monitoring.run_monitor(context_for(request, who), name, at=at, worker="api")
    return RunOut.model_validate(found.to_dict())


@router.get("/monitors/{name}/series", response_model=Items[PointOut], responses=ERRORS, summary="A monitor's series")
def series(
    request: Request,
    who: Annotated[Caller, roles("GET /monitors/{name}/series")],
    name: MonitorPath,
    metric: Annotated[Ident | None, Query(description="Only this metric, e.g. drift.share_drifted.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="The most recent this many values.")] = 1000,
) -> Any:
    """The stored values, oldest first: window end, metric, value, status and rows."""
    found = monitoring.series(context_for(request, who), name, metric=metric, limit=limit)
    return reply(Items[PointOut].model_validate({"items": found}))
