"""Postmortems: an incident's summary, impact, timeline, charts and evidence, written from the store.

:func:`write_postmortem` gathers what Charter holds about an incident — its timeline from the
ledger (each step linked to the entry that proves it), the monitor's series around it with its
thresholds, the decisions served in the affected window (by version and alias, from the lake),
the change requests and approvals of its remediation, and a fresh ``charter audit verify`` of
the ledger and the model's lake — adds the people's part (root cause, contributing factors,
actions with owners), and writes Markdown, a self-contained HTML page and one SVG chart per
metric (:mod:`charter.services.postmortem_render`). Writing it is itself recorded
(``incident.postmortem_written`` with the files' SHA-256).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from charter.clock import parse_timestamp
from charter.errors import InvalidInput
from charter.services import approvals, audit
from charter.services.context import Context
from charter.services.incidents import Incident, get_incident, record, timeline
from charter.services.postmortem_render import (
    ActionItem,
    ApprovalInfo,
    ChangeRequestInfo,
    Impact,
    IncidentInfo,
    MetricSeries,
    PostmortemData,
    ServedVersion,
    Thresholds,
    TimelineEntry,
    Verification,
    chart_file_name,
    render_chart_svg,
    render_html,
    render_markdown,
)


@dataclass(frozen=True)
class Written:
    incident: str
    files: dict[str, str]  # kind (markdown, html, chart:<metric>) -> path

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident, "files": dict(self.files)}


def gather(
    context: Context,
    reference: str,
    *,
    root_cause: str = "",
    factors: Sequence[str] = (),
    actions: Sequence[tuple[str, str, date | None]] = (),
) -> PostmortemData:
    incident = get_incident(context, reference)
    steps = timeline(context, reference)
    when = {s["action"]: parse_timestamp(s["ts"]) for s in steps}
    info = IncidentInfo(
        ref=incident.ref, title=incident.title, severity=incident.severity, status=incident.status,
        model=incident.model, monitor=incident.monitor or "", opened_at=parse_timestamp(incident.opened_at),
        assignee=incident.assignee or "", acknowledged_at=when.get("incident.acknowledged"),
        mitigated_at=when.get("incident.mitigated"), resolved_at=when.get("incident.resolved"),
        runbook=next((line.lstrip("# ").strip() for line in incident.runbook.splitlines() if line.strip()), ""),
    )  # fmt: skip
    return PostmortemData(
        incident=info,
        impact=_impact(context, incident),
        timeline=tuple(_entry(s) for s in steps),
        series=_series(context, incident),
        root_cause=root_cause,
        contributing_factors=tuple(factors),
        actions=tuple(ActionItem(action=a, owner=o, due=d) for a, o, d in actions),
        change_requests=_changes(context, steps),
        verification=_verification(context, incident.model),
    )


def write_postmortem(context: Context, reference: str, folder: Path, **notes: Any) -> Written:
    data = gather(context, reference, **notes)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {folder}: {exc.strerror}") from None
    stem = data.incident.ref
    charts = {s.metric: render_chart_svg(s.metric, s.points, s.thresholds) for s in data.series}
    names = {metric: f"{stem}-{chart_file_name(metric)}" for metric in charts}
    files: dict[str, str] = {}
    for metric, svg in charts.items():
        files[f"chart:{metric}"] = _write(folder / names[metric], svg)
    files["markdown"] = _write(folder / f"{stem}.md", render_markdown(data, chart_files=names))
    files["html"] = _write(folder / f"{stem}.html", render_html(data, charts))
    digests = {kind: hashlib.sha256(Path(path).read_bytes()).hexdigest() for kind, path in files.items()}
    record(context, get_incident(context, reference), "incident.postmortem_written", {"files": digests})
    return Written(stem, files)


def render_postmortem(context: Context, reference: str, fmt: str = "markdown") -> str:
    """The incident's postmortem as it stands, rendered and not written anywhere: ``markdown`` (charts left
    out) or ``html`` (one page, charts inline). A draft to read; ``charter postmortem`` writes and records one."""
    data = gather(context, reference)
    if fmt == "markdown":
        return render_markdown(data)
    if fmt == "html":
        return render_html(data, {s.metric: render_chart_svg(s.metric, s.points, s.thresholds) for s in data.series})
    raise InvalidInput(f"postmortem format {fmt!r} is not markdown or html")


def _write(path: Path, text: str) -> str:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    return str(path)


def _entry(step: dict[str, Any]) -> TimelineEntry:
    data = step["data"]
    keys = ("ref", "severity", "value", "note", "level", "role", "justification", "alias", "to_version", "reason")
    summary = ", ".join(f"{k} {data[k]}" for k in keys if k in data and data[k] not in (None, ""))
    if step["action"] == "incident.notified":
        delivery = data.get("delivery", {})
        summary = f"{data.get('event')} to {delivery.get('target')}: {'delivered' if delivery.get('ok') else 'failed'}"
    return TimelineEntry(
        at=parse_timestamp(step["ts"]), actor=step["actor"], action=step["action"], summary=summary or step["action"],
        ledger_seq=step["seq"], entry_hash=step["hash"],
    )  # fmt: skip


def _series(context: Context, incident: Incident) -> tuple[MetricSeries, ...]:
    from charter.services.monitoring import series
    from charter.services.monitors import get_monitor

    if incident.monitor is None:
        return ()
    monitor = get_monitor(context, incident.monitor)
    points = tuple(
        (parse_timestamp(p["window_end"]), float(p["value"]), p["status"] if p["status"] != "info" else "ok")
        for p in series(context, monitor.name, metric=monitor.metric, limit=200)
    )  # fmt: skip
    if not points:
        return ()
    thresholds = Thresholds(warn=monitor.warn, critical=monitor.critical, direction=monitor.direction)
    return (MetricSeries(metric=monitor.metric, points=points, thresholds=thresholds),)


def _impact(context: Context, incident: Incident) -> Impact:
    from charter.lake.table import DecisionLake
    from charter.services.monitoring import series

    if incident.monitor is None:
        return Impact()
    breached = [p for p in series(context, incident.monitor, limit=1000) if p["status"] in ("warning", "critical")]
    if not breached:
        return Impact()
    from charter.services.monitors import get_monitor

    monitor = get_monitor(context, incident.monitor)
    end = parse_timestamp(breached[-1]["window_end"])
    start = parse_timestamp(breached[0]["window_end"]) - (monitor.every or timedelta(0))
    lake = DecisionLake(context.settings.lake)
    if not lake.exists(incident.model):
        return Impact(window_start=start, window_end=end)
    served: dict[tuple[int, str], int] = {}
    total = 0
    for batch in lake.read(incident.model, start=start, end=end, columns=["model_version", "alias"]):
        for version, alias in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            served[(int(version or 0), str(alias or ""))] = served.get((int(version or 0), str(alias or "")), 0) + 1
            total += 1
    aliases: dict[int, set[str]] = {}
    counts: dict[int, int] = {}
    for (version, alias), count in served.items():
        aliases.setdefault(version, set()).update([alias] if alias else [])
        counts[version] = counts.get(version, 0) + count
    versions = tuple(ServedVersion(v, tuple(sorted(aliases[v])), counts[v]) for v in sorted(counts))
    return Impact(window_start=start, window_end=end, decisions=total, served=versions)


def _changes(context: Context, steps: Sequence[dict[str, Any]]) -> tuple[ChangeRequestInfo, ...]:
    ids = list(dict.fromkeys(s["data"]["change_request"] for s in steps if s["data"].get("change_request")))
    found = []
    for request_id in ids:
        request = approvals.get_request(context, request_id)
        found.append(ChangeRequestInfo(
            id=request.id, kind=request.kind, state=request.state, requester=request.requester,
            approvals=tuple(ApprovalInfo(a.principal, a.role, a.decision + "d", parse_timestamp(a.at))
                            for a in request.approvals),
        ))  # fmt: skip
    return tuple(found)


def _verification(context: Context, model: str) -> Verification:
    from charter.services.lake import verify_lake

    report = audit.verify_ledger(context)
    try:
        lake_ok: bool | None = verify_lake(context, model).ok
    except Exception:  # no lake for the model (alerts from the serving stack): not checked
        lake_ok = None
    return Verification(ok=report.ok, entries=report.entries, head_hash=report.head_hash, lake_ok=lake_ok)
