"""Postmortem documents from a postmortem's data: Markdown, one self-contained HTML page, SVG charts.

Pure functions (no database, clock or files): the postmortem service gathers a :class:`PostmortemData` and
writes what these return, the SVG charts next to the Markdown as :func:`chart_file_name`. One outline writes
both documents, in the same order. Times are aware datetimes, shown in UTC. People's notes (root cause,
factors, actions) stay Markdown in the Markdown; all else is escaped there, and everything in HTML and SVG.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from html import escape
from typing import Literal, TypeAlias

from charter.clock import ensure_utc


@dataclass(frozen=True)
class IncidentInfo:
    ref: str  # INC-7
    title: str
    severity: str  # low, medium, high, critical
    status: str  # triggered, acknowledged, mitigated, resolved
    model: str
    monitor: str  # the monitor's name
    opened_at: datetime
    assignee: str = ""  # empty: unassigned
    acknowledged_at: datetime | None = None  # None: the step has not happened
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    runbook: str = ""  # the linked runbook's title


@dataclass(frozen=True)
class ServedVersion:
    version: int  # a version of the incident's model that served in the affected window
    aliases: tuple[str, ...] = ()  # the aliases it served under
    decisions: int | None = None  # decisions it made in the window, if counted


@dataclass(frozen=True)
class Impact:
    window_start: datetime | None = None  # the affected window
    window_end: datetime | None = None
    decisions: int | None = None  # decisions made in it (None: not counted)
    affected_share: float | None = None  # share of them affected, 0-1 (None: not known)
    served: tuple[ServedVersion, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str  # the ledger action, e.g. incident.acknowledged
    summary: str  # what happened, one line
    ledger_seq: int | None = None  # the ledger entry that proves the step (None: not on the ledger)
    entry_hash: str = ""  # that entry's hash


Point = tuple[datetime, float, str]  # one window of a series: (window_end, value, status: ok, warning, critical)


@dataclass(frozen=True)
class Thresholds:
    warn: float | None = None
    critical: float | None = None
    direction: Literal["above", "below"] = "above"  # a breach is a value above (below) a line


@dataclass(frozen=True)
class MetricSeries:
    metric: str  # e.g. drift.share_drifted
    points: tuple[Point, ...]  # oldest first
    thresholds: Thresholds | None = None  # the monitored metric's; None for metrics recorded beside it


@dataclass(frozen=True)
class ActionItem:
    action: str  # Markdown
    owner: str = ""  # empty: rendered as a TODO
    due: date | None = None
    status: str = "open"


@dataclass(frozen=True)
class ApprovalInfo:
    approver: str
    role: str
    decision: str  # approved, rejected
    at: datetime | None = None


@dataclass(frozen=True)
class ChangeRequestInfo:
    id: str
    kind: str  # rollback, retrain, suppress, ...
    state: str  # pending, approved, executed, rejected, expired, revoked
    requester: str
    approvals: tuple[ApprovalInfo, ...] = ()


@dataclass(frozen=True)
class Verification:
    ok: bool  # charter audit verify, when the postmortem was written
    entries: int
    head_hash: str
    lake_ok: bool | None = None  # the model's lake against its anchors; None: not checked


@dataclass(frozen=True)
class PostmortemData:
    """Everything a postmortem shows. Only ``incident`` is required; what is missing is said so."""

    incident: IncidentInfo
    impact: Impact = Impact()
    timeline: tuple[TimelineEntry, ...] = ()  # oldest first
    series: tuple[MetricSeries, ...] = ()  # one chart each
    root_cause: str = ""  # Markdown; empty: rendered as a TODO prompt
    contributing_factors: tuple[str, ...] = ()  # Markdown, one each
    actions: tuple[ActionItem, ...] = ()
    change_requests: tuple[ChangeRequestInfo, ...] = ()
    verification: Verification | None = None  # None: rendered as a TODO


_Writer: TypeAlias = "_Markdown | _Html"  # the two formats, with the same methods
ROOT_CAUSE_TODO = "TODO: what changed, why the monitor caught it when it did, and why nothing caught it earlier."


def _sections(data: PostmortemData, w: _Writer, ledger_url: str) -> list[tuple[str, list[str]]]:
    """The postmortem's sections, in order, as (heading, blocks) in the writer's format."""
    inc, impact, v, p, c = data.incident, data.impact, data.verification, w.plain, w.code
    summary: list[tuple[str, str]] = [
        ("Incident", c(inc.ref)), ("Title", p(inc.title)), ("Severity", p(inc.severity)), ("Status", p(inc.status)),
        ("Model", c(inc.model)), ("Monitor", c(inc.monitor)), ("Assignee", p(inc.assignee or "unassigned")),
        ("Runbook", p(inc.runbook or "none")), ("Opened", p(_ts(inc.opened_at))),
    ]  # fmt: skip
    steps = [("Acknowledged", inc.acknowledged_at), ("Mitigated", inc.mitigated_at), ("Resolved", inc.resolved_at)]
    summary += [(name, p(f"{_ts(at)} ({_after(at - inc.opened_at)} after opening)")) for name, at in steps if at]
    window = f"{_ts(impact.window_start)} to {_ts(impact.window_end)}" if impact.window_start else "not recorded"
    counted = "not counted" if impact.decisions is None else f"{impact.decisions:,}"
    share = "not known" if impact.affected_share is None else f"{impact.affected_share:.1%}"
    served = [c(f"{inc.model}@{s.version}") + p(f" served as {', '.join(s.aliases) or 'no alias'}" + (
        "" if s.decisions is None else f": {s.decisions:,} decisions")) for s in impact.served]  # fmt: skip
    timeline = [[p(_ts(e.at)), p(e.actor), c(e.action), p(e.summary), _proof(e, w, ledger_url)] for e in data.timeline]
    actions = [
        [w.notes(a.action), p(a.owner) if a.owner else w.todo("TODO: owner"), p(str(a.due or "none")), p(a.status)]
        for a in data.actions
    ]
    requests = [
        [c(r.id), p(r.kind), p(r.state), p(r.requester),
         p("; ".join(f"{a.approver} ({a.role}) {a.decision}" + (f" {_ts(a.at)}" if a.at else "") for a in r.approvals)
           or "none")]
        for r in data.change_requests
    ]  # fmt: skip
    state = w.todo("TODO: run charter audit verify and record the ledger's head hash here.")
    if v is not None:
        lake = {None: "was not checked", True: "matches its anchors", False: "does NOT match its anchors"}[v.lake_ok]
        verdict = "intact" if v.ok else "NOT intact"
        state = p(f"Ledger {verdict} when this was written: {v.entries:,} entries, head hash ") + c(v.head_hash)
        state += p(f". The decision lake of {inc.model} {lake}.")
    since = ensure_utc(inc.opened_at).strftime("%Y-%m-%dT%H:%M:%SZ")
    checks = [
        c("charter audit verify") + p(" checks every entry's hash and link, and prints the head (later if it grew)."),
        c(f"charter audit verify --lake {inc.model}") + p(" also checks every decision row against its anchor."),
        c(f"charter audit log --oldest-first --since {since}") + p(" lists the timeline's entries with their hashes."),
    ]  # fmt: skip
    return [
        ("Summary", [w.table(("Field", "Value"), [(p(k), value) for k, value in summary])]),
        ("Impact", [w.para(p(f"Affected window: {window}. Decisions in it: {counted}. Share affected: {share}.")),
                    *([w.bullets(served)] if served else [])]),
        ("Timeline", [w.table(("Time (UTC)", "Actor", "Action", "What happened", "Proof"), timeline)
                      if timeline else w.para(p("No events were recorded."))]),
        ("Monitor charts", [w.chart(s) for s in data.series] or [w.para(p("No monitor values were recorded."))]),
        ("Root cause", [w.para(w.notes(data.root_cause) if data.root_cause.strip() else w.todo(ROOT_CAUSE_TODO))]),
        ("Contributing factors", [w.bullets(list(map(w.notes, data.contributing_factors))) if data.contributing_factors
                                  else w.para(w.todo("TODO: what made it worse or later?"))]),
        ("Actions", [w.table(("Action", "Owner", "Due", "Status"), actions) if actions
                     else w.para(w.todo("TODO: follow-up actions, each with an owner and a due date."))]),
        ("Change requests and approvals", [w.table(("Request", "Kind", "State", "Requested by", "Approvals"), requests)
                                           if requests else w.para(p("No change requests were opened."))]),
        ("Evidence", [w.para(state), w.para(p("How to check:")), w.bullets(checks)]),
    ]  # fmt: skip


def _proof(entry: TimelineEntry, w: _Writer, ledger_url: str) -> str:
    if entry.ledger_seq is None:
        return w.plain("not on the ledger")
    text = f"ledger #{entry.ledger_seq}" + (f" (hash {entry.entry_hash[:12]}…)" if entry.entry_hash else "")
    if ledger_url:
        return w.link(text, ledger_url.format(seq=entry.ledger_seq, hash=entry.entry_hash))
    return w.code(text)


def _caption(series: MetricSeries) -> str:
    th = series.thresholds or Thresholds()
    lines = [f"{name} {value:g}" for name, value in (("warn", th.warn), ("critical", th.critical)) if value is not None]
    return f"{series.metric} per window" + (f"; {', '.join(lines)}, a breach is {th.direction} a line" if lines else "")


def _ts(at: datetime | None) -> str:
    return "-" if at is None else ensure_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def _after(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    return f"{days}d {hours}h" if days else f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def chart_file_name(metric: str) -> str:
    """The file name the Markdown embeds a metric's chart under: ``chart-drift-share_drifted.svg``."""
    return "chart-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", metric).strip("-") or "metric") + ".svg"


def render_markdown(data: PostmortemData, *, chart_files: Mapping[str, str] | None = None, ledger_url: str = "") -> str:
    """The postmortem as Markdown; each chart is an image of ``chart_files[metric]`` (default :func:`chart_file_name`)
    that the caller writes next to it. ``ledger_url`` (``{seq}``, ``{hash}``) makes each ledger entry a link."""
    w = _Markdown(chart_files or {})
    parts = [f"# Postmortem {data.incident.ref}: {w.plain(data.incident.title)}"]
    for heading, blocks in _sections(data, w, ledger_url):
        parts += [f"## {heading}", *blocks]
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class _Markdown:
    """GitHub-flavoured Markdown: plain text escaped, people's notes kept, charts as images of files."""

    files: Mapping[str, str]

    def plain(self, text: str) -> str:
        # Escapes what would format, link or open HTML; an underscore inside a word is literal in GFM.
        return re.sub(r"([\\`*\[\]<|]|(?<!\w)_|_(?!\w))", r"\\\1", re.sub(r"\s+", " ", text))

    def code(self, text: str) -> str:
        fence = "``" if "`" in text else "`"
        return fence + text.replace("|", "\\|") + fence  # a | ends a table cell even inside code

    def link(self, text: str, url: str) -> str:
        return f"[{self.plain(text)}]({url.replace(' ', '%20').replace(')', '%29')})"

    def todo(self, text: str) -> str:
        return f"*{self.plain(text)}*"

    def notes(self, text: str) -> str:
        return text.strip().replace("|", "\\|")

    def para(self, text: str) -> str:
        return text

    def bullets(self, items: Sequence[str]) -> str:
        return "\n".join("- " + " ".join(item.splitlines()) for item in items)

    def table(self, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(" ".join(c.splitlines()) for c in row) + " |" for row in rows])

    def chart(self, series: MetricSeries) -> str:
        name = self.files.get(series.metric) or chart_file_name(series.metric)
        target = f"<{name}>" if re.search(r"[\s()<>]", name) else name
        return f"![{self.plain(series.metric)} per window]({target})\n\n*{self.plain(_caption(series))}*"


_CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}table{border-collapse:collapse}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f6}
code{background:#f4f4f6;padding:0 .2rem;border-radius:3px}.todo{color:#a15c00}.notes{white-space:pre-wrap}
svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9rem}"""


def render_html(data: PostmortemData, charts: Mapping[str, str] | None = None, *, ledger_url: str = "") -> str:
    """The postmortem as one self-contained HTML page: inline CSS and SVG, no script, no external resource.
    ``charts`` maps a metric to its SVG (:func:`render_chart_svg`); a series without one is drawn here."""
    title = escape(f"Postmortem {data.incident.ref}: {data.incident.title}")
    body = [f"<h1>{title}</h1>"]
    for heading, blocks in _sections(data, _Html(charts or {}), ledger_url):
        anchor = heading.lower().replace(" ", "-")
        body.append(f'<section id="{anchor}"><h2>{heading}</h2>\n' + "\n".join(blocks) + "\n</section>")
    head = f'<head><meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head>'
    return f'<!DOCTYPE html>\n<html lang="en">{head}\n<body>\n' + "\n".join(body) + "\n</body></html>\n"


@dataclass(frozen=True)
class _Html:
    """HTML: every text escaped, charts inline as SVG."""

    charts: Mapping[str, str]

    def plain(self, text: str) -> str:
        return escape(text)

    def code(self, text: str) -> str:
        return f"<code>{escape(text)}</code>"

    def link(self, text: str, url: str) -> str:
        return f'<a href="{escape(url)}">{escape(text)}</a>'

    def todo(self, text: str) -> str:
        return f'<em class="todo">{escape(text)}</em>'

    def notes(self, text: str) -> str:
        return f'<span class="notes">{escape(text.strip())}</span>'

    def para(self, text: str) -> str:
        return f"<p>{text}</p>"

    def bullets(self, items: Sequence[str]) -> str:
        return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"

    def table(self, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr></thead><tbody>{cells}</tbody></table>"

    def chart(self, series: MetricSeries) -> str:
        svg = self.charts.get(series.metric) or render_chart_svg(series.metric, series.points, series.thresholds)
        svg = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
        return f"<figure>{svg}<figcaption>{escape(_caption(series))}</figcaption></figure>"


_MAX = Fraction(sys.float_info.max)  # a tick past the largest float is labelled with it
_COLOURS = {"warn": "#d98c00", "warning": "#d98c00", "critical": "#c62828", "grid": "#e4e4e8"}


def render_chart_svg(
    metric: str, points: Sequence[Point], thresholds: Thresholds | None = None, *, width: int = 720, height: int = 240
) -> str:
    """A line chart (SVG 1.1) of a metric per window, its warn/critical lines and breaches marked. Values
    that are not finite are left out; the value axis spans values and thresholds plus 5% (a band if constant)."""
    if width < 240 or height < 120:
        raise ValueError(f"a chart needs at least 240x120 pixels, not {width}x{height}")
    pts = sorted(((ensure_utc(t), float(v), s) for t, v, s in points if math.isfinite(v)), key=lambda p: p[0])
    left, top, right, bottom = 64, 28, width - 36, height - 44  # room for the last time label
    th = thresholds or Thresholds()
    lines = [(n, v) for n, v in (("warn", th.warn), ("critical", th.critical)) if v is not None and math.isfinite(v)]
    lo, hi = _domain([v for _, v, _ in pts] + [v for _, v in lines])
    first, span = (pts[0][0], pts[-1][0] - pts[0][0]) if pts else (datetime.min, timedelta(0))

    def y(value: float | Fraction) -> str:
        return _num(bottom - float((Fraction(value) - lo) / (hi - lo)) * (bottom - top))

    def x(at: datetime) -> str:
        return _num(left + (at - first) / span * (right - left) if span else (left + right) / 2)

    grid, mid = _COLOURS["grid"], (left + right) // 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(metric)} per window</title>",
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(metric)}</text>',
        f'<rect class="plot-area" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        f'fill="none" stroke="{grid}"/>',
        f'<text x="{mid}" y="{height - 8}" text-anchor="middle" fill="#555">window end (UTC)</text>',
    ]
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    for tick, label in zip(ticks, _labels([float(max(-_MAX, min(t, _MAX))) for t in ticks]), strict=True):
        out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y(tick)}" y2="{y(tick)}" stroke="{grid}"/>')
        out.append(f'<text class="y-label" x="{left - 6}" y="{y(tick)}" dy="4" text-anchor="end">{label}</text>')
    fmt = "%Y-%m-%d" if span > timedelta(days=2) else "%m-%d %H:%M"
    for at in sorted({first + span * i / 4 for i in range(5)} if pts else ()):
        out.append(f'<text class="x-label" x="{x(at)}" y="{bottom + 16}" text-anchor="middle">{at:{fmt}}</text>')
    sign = "&gt;" if th.direction == "above" else "&lt;"
    for name, value in lines:
        out.append(f'<line class="threshold {name}" x1="{left}" x2="{right}" y1="{y(value)}" y2="{y(value)}" '
                   f'stroke="{_COLOURS[name]}" stroke-dasharray="6 4"/>')  # fmt: skip
        out.append(f'<text x="{right - 4}" y="{y(value)}" dy="-4" text-anchor="end" fill="{_COLOURS[name]}">'
                   f"{name} {sign} {value:g}</text>")  # fmt: skip
    coords = " ".join(f"{x(t)},{y(v)}" for t, v, _ in pts)
    polyline = f'<polyline class="series" points="{coords}" fill="none" stroke="#1f5f99" stroke-width="2"/>'
    out.append(polyline if pts else f'<text x="{mid}" y="{(top + bottom) // 2}" text-anchor="middle">no values</text>')
    out += [f'<circle class="breach {status}" cx="{x(t)}" cy="{y(v)}" r="4" fill="{_COLOURS[status]}">'
            f"<title>{t:%Y-%m-%d %H:%M} UTC: {v:g} ({status})</title></circle>"
            for t, v, status in pts if status in ("warning", "critical")]  # fmt: skip
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _domain(values: list[float]) -> tuple[Fraction, Fraction]:
    """The value axis: the values' range plus 5% each side, in exact arithmetic (no overflow, no collapse)."""
    if not values:
        return Fraction(0), Fraction(1)
    lo, hi = Fraction(min(values)), Fraction(max(values))
    pad = (hi - lo) / 20 if hi > lo else (abs(lo) / 10 or Fraction(1))
    return lo - pad, hi + pad


def _labels(values: list[float]) -> list[str]:
    # Just enough significant digits to tell the tick labels apart.
    digits = next((d for d in range(3, 18) if len({f"{v:.{d}g}" for v in values}) == len(values)), 17)
    return [f"{v:.{digits}g}" for v in values]


def _num(value: float) -> str:
    return f"{round(value, 2) + 0.0:.2f}".rstrip("0").rstrip(".")
