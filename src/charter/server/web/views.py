"""What each page shows, gathered from the services (and only from them): no rule is decided here.

Health is the open incidents and the latest status of each monitor's own metric; charts are the
monitors' stored series; the decisions sample is the newest rows the lake holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from charter.errors import NotFound
from charter.services import aliases, gates, incidents, lineage, monitoring, monitors, registry
from charter.services.context import Context
from charter.services.registry import Model

#: Worst first: the status a model's health shows is the worst of its monitors' latest.
SEVERITY_ORDER = ("critical", "warning", "error", "no_data", "ok")
SAMPLE_ROWS = 20
#: The lake is read over growing windows back from now until the sample is full (None: everything).
SAMPLE_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=30), None)
EXPLANATION_PREFIXES = ("explanation", "attribution", "shap_", "lime_")


@dataclass(frozen=True)
class Health:
    open_incidents: int
    status: str  # the worst latest monitor status, or "" when nothing is monitored
    monitors: dict[str, str] = field(default_factory=dict)  # monitor -> its latest status


def latest_status(context: Context, monitor: monitors.Monitor) -> str:
    found = monitoring.series(context, monitor.name, metric=monitor.metric, limit=1)
    return str(found[-1]["status"]) if found else "no_data"


def health(context: Context, model: str, open_count: int) -> Health:
    statuses = {m.name: latest_status(context, m) for m in monitors.list_monitors(context, model=model)}
    worst = min(statuses.values(), key=_rank, default="")
    return Health(open_count, worst, statuses)


def _rank(status: str) -> int:
    return SEVERITY_ORDER.index(status) if status in SEVERITY_ORDER else len(SEVERITY_ORDER)


def inventory(context: Context) -> list[tuple[Model, Health]]:
    open_by_model: dict[str, int] = {}
    for incident in incidents.list_incidents(context, open_only=True):
        open_by_model[incident.model] = open_by_model.get(incident.model, 0) + 1
    return [(m, health(context, m.name, open_by_model.get(m.name, 0))) for m in registry.list_models(context)]


def charts(context: Context, model: str) -> list[dict[str, Any]]:
    """One line chart per monitor: its metric over window ends, with the warn and critical thresholds."""
    found = []
    for number, monitor in enumerate(monitors.list_monitors(context, model=model)):
        points = monitoring.series(context, monitor.name, metric=monitor.metric, limit=500)
        times = [str(p["window_end"]).replace("T", " ").rstrip("Z") for p in points]  # plotly reads naive UTC
        found.append({
            "id": f"chart-{number}", "monitor": monitor.name, "metric": monitor.metric, "kind": monitor.kind,
            "target": monitor.target, "x": times, "y": [p["value"] for p in points],
            "status": [p["status"] for p in points], "warn": monitor.warn, "critical": monitor.critical,
            "latest": points[-1]["status"] if points else "no_data",
        })  # fmt: skip
    return found


def gate_history(context: Context, versions: list[registry.ModelVersion], limit: int = 20) -> list[dict[str, Any]]:
    """The newest gate results over all of a model's versions, failing rules first in each."""
    rows = [row for version in versions for row in gates.gate_history(context, version.ref)]
    rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    for row in rows:
        row["failed"] = [v for v in row.get("verdicts") or [] if v.get("verdict") != "pass"]
    return rows[:limit]


def lineage_tree(context: Context, reference: str) -> lineage.LineageNode | None:
    try:
        return lineage.upstream(context, reference)
    except NotFound:
        return None


def alias_moves(context: Context, model: str, limit: int = 10) -> list[aliases.AliasMove]:
    return aliases.history(context, model)[::-1][:limit]


@dataclass(frozen=True)
class Sample:
    columns: list[str]
    rows: list[list[Any]]
    explanations: list[str]  # per row, the explanation columns in words ("" when none)
    total: int  # decisions in the lake
    ids: list[str] = field(default_factory=list)  # per row, its decision id (the Explain button)


def decisions_sample(context: Context, model: str, size: int = SAMPLE_ROWS) -> Sample | None:
    """The newest ``size`` decisions in the lake (None when the model has logged none)."""
    import pyarrow.compute as pc

    from charter.services.lake import lake_of

    lake = lake_of(context)
    if not lake.exists(model):
        return None
    now = context.clock.now()
    table = None
    for window in SAMPLE_WINDOWS:
        table = lake.read_table(model, start=None if window is None else now - window)
        if table.num_rows >= size:
            break
    assert table is not None
    if table.num_rows:
        newest = pc.sort_indices(table, sort_keys=[("ts", "descending")])[:size]
        table = table.take(newest)
    shown = [c for c in table.column_names if not c.startswith("_") and not c.startswith(EXPLANATION_PREFIXES)]
    explained = [c for c in table.column_names if c.startswith(EXPLANATION_PREFIXES)]
    data = table.to_pylist()
    shown = [c for c in shown if any(row[c] is not None for row in data)]  # columns the model never fills
    rows = [[_cell(row[c]) for c in shown] for row in data]
    notes = ["; ".join(f"{c}: {_cell(row[c])}" for c in explained if row[c] is not None) for row in data]
    ids = [str(row.get("decision_id") or "") for row in data]
    return Sample(shown, rows, notes, int(lake.table(model).count()), ids)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return str(value)


def dataset_upstream(context: Context, reference: str) -> Any:
    """The laid-out tree of what a dataset version was derived from (None when it has no recorded inputs)."""
    from charter.server.web.graph import layout

    tree = lineage.upstream(context, reference, kind="dataset")
    return layout(tree) if tree.inputs else None
