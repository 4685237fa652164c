"""Postmortem documents: Markdown and HTML say the same things; the SVG chart is valid and to scale."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.services.postmortem_render import (
    ROOT_CAUSE_TODO,
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

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HASH = "1a2b3c4d5e6f" + "0" * 52
HEAD = "ab" * 32
SECTIONS = ["Summary", "Impact", "Timeline", "Monitor charts", "Root cause", "Contributing factors", "Actions",
            "Change requests and approvals", "Evidence"]  # fmt: skip
INCIDENT = IncidentInfo(
    ref="INC-7", title="Drift on credit-risk:prod", severity="high", status="resolved", model="credit-risk",
    monitor="credit-risk-drift", opened_at=T0, assignee="alice", acknowledged_at=T0 + timedelta(minutes=12),
    mitigated_at=T0 + timedelta(hours=1, minutes=5), resolved_at=T0 + timedelta(days=1, hours=3),
    runbook="Data drift runbook",
)  # fmt: skip
SERIES = MetricSeries(
    "drift.share_drifted",
    ((T0 - timedelta(hours=3), 0.1, "ok"), (T0 - timedelta(hours=2), 0.3, "warning"),
     (T0 - timedelta(hours=1), 0.2, "ok"), (T0, 0.5, "critical")),
    Thresholds(warn=0.3, critical=0.5),
)  # fmt: skip
DATA = PostmortemData(
    incident=INCIDENT,
    impact=Impact(window_start=T0 - timedelta(hours=1), window_end=T0 + timedelta(hours=1, minutes=5),
                  decisions=12345, affected_share=0.42,
                  served=(ServedVersion(3, ("prod",), 12000), ServedVersion(2, (), 345))),
    timeline=(
        TimelineEntry(T0, "charter:monitor", "incident.opened", "value 0.5 | critical", 42, HASH),
        TimelineEntry(T0 + timedelta(minutes=12), "alice", "incident.acknowledged", "alice has it", 43, "ff" * 32),
        TimelineEntry(T0 + timedelta(minutes=13), "pagerduty", "page.answered", "outside Charter"),
    ),
    series=(SERIES,),
    root_cause="An upstream job sent amounts in *cents*.\n\nThe schema check did not cover units.",
    contributing_factors=("No quality monitor on `amount`.", "Threshold too loose"),
    actions=(ActionItem("Range check on amount", "carol", date(2026, 3, 20)), ActionItem("Review the threshold")),
    change_requests=(
        ChangeRequestInfo("0195a1b2", "rollback", "executed", "alice",
                          (ApprovalInfo("bob", "approver", "approved", T0 + timedelta(minutes=50)),)),
        ChangeRequestInfo("0195c3d4", "retrain", "pending", "alice"),
    ),
    verification=Verification(ok=True, entries=120, head_hash=HEAD, lake_ok=True),
)  # fmt: skip
BARE = PostmortemData(incident=IncidentInfo("INC-8", "Latency", "low", "triggered", "fraud", "fraud-latency", T0))


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n\n", 1)[1].split("\n\n## ", 1)[0].rstrip("\n")


# ---- Markdown ------------------------------------------------------------------------------------


def test_markdown_has_the_sections_in_order() -> None:
    markdown = render_markdown(DATA)
    assert markdown.startswith("# Postmortem INC-7: Drift on credit-risk:prod\n\n## Summary\n\n")
    assert re.findall(r"^## (.+)$", markdown, re.M) == SECTIONS
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_markdown_summary_and_impact() -> None:
    markdown = render_markdown(DATA)
    assert _section(markdown, "Summary").splitlines() == [
        "| Field | Value |", "|---|---|", "| Incident | `INC-7` |", "| Title | Drift on credit-risk:prod |",
        "| Severity | high |", "| Status | resolved |", "| Model | `credit-risk` |",
        "| Monitor | `credit-risk-drift` |",
        "| Assignee | alice |", "| Runbook | Data drift runbook |", "| Opened | 2026-03-02 09:00:00 UTC |",
        "| Acknowledged | 2026-03-02 09:12:00 UTC (12m after opening) |",
        "| Mitigated | 2026-03-02 10:05:00 UTC (1h 05m after opening) |",
        "| Resolved | 2026-03-03 12:00:00 UTC (1d 3h after opening) |",
    ]  # fmt: skip
    assert _section(markdown, "Impact") == (
        "Affected window: 2026-03-02 08:00:00 UTC to 2026-03-02 10:05:00 UTC. Decisions in it: 12,345. "
        "Share affected: 42.0%.\n\n"
        "- `credit-risk@3` served as prod: 12,000 decisions\n- `credit-risk@2` served as no alias: 345 decisions"
    )


def test_markdown_timeline_links_each_step_to_its_ledger_entry() -> None:
    rows = _section(render_markdown(DATA), "Timeline").splitlines()
    assert rows == [
        "| Time (UTC) | Actor | Action | What happened | Proof |",
        "|---|---|---|---|---|",
        "| 2026-03-02 09:00:00 UTC | charter:monitor | `incident.opened` | value 0.5 \\| critical "
        "| `ledger #42 (hash 1a2b3c4d5e6f…)` |",
        "| 2026-03-02 09:12:00 UTC | alice | `incident.acknowledged` | alice has it "
        "| `ledger #43 (hash ffffffffffff…)` |",
        "| 2026-03-02 09:13:00 UTC | pagerduty | `page.answered` | outside Charter | not on the ledger |",
    ]
    linked = render_markdown(DATA, ledger_url="https://charter.example/audit/{seq}?hash={hash}")
    assert f"| [ledger #42 (hash 1a2b3c4d5e6f…)](https://charter.example/audit/42?hash={HASH}) |" in linked


def test_markdown_embeds_the_chart_files() -> None:
    assert _section(render_markdown(DATA), "Monitor charts") == (
        "![drift.share_drifted per window](chart-drift-share_drifted.svg)\n\n"
        "*drift.share_drifted per window; warn 0.3, critical 0.5, a breach is above a line*"
    )
    named = render_markdown(DATA, chart_files={"drift.share_drifted": "INC-7 drift.svg"})
    assert "![drift.share_drifted per window](<INC-7 drift.svg>)" in named
    assert chart_file_name("latency.p95_ms") == "chart-latency-p95_ms.svg"
    assert chart_file_name("a/b c") == "chart-a-b-c.svg" and chart_file_name("..") == "chart-metric.svg"


def test_markdown_notes_actions_changes_and_evidence() -> None:
    markdown = render_markdown(DATA)
    assert _section(markdown, "Root cause") == DATA.root_cause
    assert _section(markdown, "Contributing factors") == "- No quality monitor on `amount`.\n- Threshold too loose"
    assert _section(markdown, "Actions").splitlines()[2:] == [
        "| Range check on amount | carol | 2026-03-20 | open |",
        "| Review the threshold | *TODO: owner* | none | open |",
    ]
    assert _section(markdown, "Change requests and approvals").splitlines()[2:] == [
        "| `0195a1b2` | rollback | executed | alice | bob (approver) approved 2026-03-02 09:50:00 UTC |",
        "| `0195c3d4` | retrain | pending | alice | none |",
    ]
    assert _section(markdown, "Evidence") == (
        f"Ledger intact when this was written: 120 entries, head hash `{HEAD}`. "
        "The decision lake of credit-risk matches its anchors.\n\nHow to check:\n\n"
        "- `charter audit verify` checks every entry's hash and link, and prints the head (later if it grew).\n"
        "- `charter audit verify --lake credit-risk` also checks every decision row against its anchor.\n"
        "- `charter audit log --oldest-first --since 2026-03-02T09:00:00Z` lists the timeline's entries with their "
        "hashes."
    )


def test_markdown_of_an_incident_with_nothing_else_prompts_for_the_rest() -> None:
    markdown = render_markdown(BARE)
    assert re.findall(r"^## (.+)$", markdown, re.M) == SECTIONS
    assert "| Assignee | unassigned |\n| Runbook | none |\n| Opened | 2026-03-02 09:00:00 UTC |\n\n" in markdown
    assert (
        _section(markdown, "Impact")
        == "Affected window: not recorded. Decisions in it: not counted. Share affected: not known."
    )
    assert _section(markdown, "Timeline") == "No events were recorded."
    assert _section(markdown, "Monitor charts") == "No monitor values were recorded."
    assert _section(markdown, "Root cause") == f"*{ROOT_CAUSE_TODO}*"
    assert _section(markdown, "Contributing factors") == "*TODO: what made it worse or later?*"
    assert _section(markdown, "Actions") == "*TODO: follow-up actions, each with an owner and a due date.*"
    assert _section(markdown, "Change requests and approvals") == "No change requests were opened."
    assert _section(markdown, "Evidence").startswith("*TODO: run charter audit verify and record the ledger's head")


def test_markdown_escapes_text_that_would_format_or_open_html() -> None:
    incident = IncidentInfo("INC-9", "<script>x</script> *bold* [a](b) _x_ a_b", "low", "triggered", "m", "n", T0)
    broken = Verification(ok=False, entries=3, head_hash="00", lake_ok=False)
    markdown = render_markdown(PostmortemData(incident, verification=broken, actions=(ActionItem("a | b\nc", "x"),)))
    assert markdown.startswith("# Postmortem INC-9: \\<script>x\\</script> \\*bold\\* \\[a\\](b) \\_x\\_ a_b\n")
    assert "| a \\| b c | x | none | open |" in markdown
    assert (
        "Ledger NOT intact when this was written: 3 entries, head hash `00`. The decision lake of m does NOT"
        in markdown
    )


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        render_markdown(PostmortemData(IncidentInfo("INC-1", "t", "low", "triggered", "m", "n", datetime(2026, 1, 1))))


# ---- HTML ----------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    """Checks that every tag is closed in order; collects resource attributes."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.resources += [f"{k}={v}" for k, v in attrs if k in ("src", "href") and v and not v.startswith("#")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.resources += [f"{k}={v}" for k, v in attrs if k in ("src", "href") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID:
            assert self.stack.pop() == tag


def test_html_is_one_self_contained_page() -> None:
    page = render_html(DATA)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Postmortem INC-7: ')
    parser = _Tags()
    parser.feed(page)
    assert parser.stack == [] and parser.resources == []
    assert "<script" not in page and "<link" not in page and "<style>" in page
    assert re.findall(r"https?://[^\s\"'<>)]+", page) == ["http://www.w3.org/2000/svg"]
    assert re.findall(r"<h2>(.+?)</h2>", page) == SECTIONS
    assert '<section id="change-requests-and-approvals"><h2>' in page


def test_html_says_what_the_markdown_says() -> None:
    page = render_html(DATA)
    for fragment in (
        "<tr><td>Severity</td><td>high</td></tr>",
        "<tr><td>Acknowledged</td><td>2026-03-02 09:12:00 UTC (12m after opening)</td></tr>",
        "<li><code>credit-risk@3</code> served as prod: 12,000 decisions</li>",
        "<td>value 0.5 | critical</td><td><code>ledger #42 (hash 1a2b3c4d5e6f…)</code></td>",
        '<td><span class="notes">Review the threshold</span></td><td><em class="todo">TODO: owner</em></td>',
        "<td>bob (approver) approved 2026-03-02 09:50:00 UTC</td>",
        f"head hash <code>{HEAD}</code>. The decision lake of credit-risk matches its anchors.",
        "<figcaption>drift.share_drifted per window; warn 0.3, critical 0.5, a breach is above a line</figcaption>",
        '<span class="notes">An upstream job sent amounts in *cents*.\n\nThe schema check did not cover units.</span>',
    ):
        assert fragment in page


def test_html_escapes_every_text() -> None:
    incident = IncidentInfo("INC-9", "<script>alert('x')</script>", "low", "triggered", "m&m", "n", T0)
    data = PostmortemData(incident, root_cause="<img src=x onerror=alert(1)>", contributing_factors=("a < b & c",))
    page = render_html(data, ledger_url="https://x.example/{seq}")
    assert "<script" not in page and "<img" not in page
    assert "<title>Postmortem INC-9: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</title>" in page
    assert '<span class="notes">&lt;img src=x onerror=alert(1)&gt;</span>' in page
    assert '<li><span class="notes">a &lt; b &amp; c</span></li>' in page and "<code>m&amp;m</code>" in page


def test_html_embeds_the_given_charts_and_draws_the_others() -> None:
    given_svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"><desc>mine</desc></svg>'
    )
    page = render_html(DATA, {"drift.share_drifted": given_svg})
    assert '<figure><svg xmlns="http://www.w3.org/2000/svg"><desc>mine</desc></svg><figcaption>' in page
    assert "<?xml" not in page
    drawn = render_html(DATA)
    assert drawn.count("<svg ") == 1 and '<polyline class="series"' in drawn
    linked = render_html(DATA, ledger_url="https://charter.example/audit/{seq}")
    assert '<a href="https://charter.example/audit/42">ledger #42 (hash 1a2b3c4d5e6f…)</a>' in linked


# ---- SVG chart -----------------------------------------------------------------------------------


def _chart(svg: str) -> dict[str, list[ET.Element]]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("version") == "1.1"
    found: dict[str, list[ET.Element]] = {}
    for element in root.iter():
        for name in (element.get("class") or "").split():
            found.setdefault(name, []).append(element)
    return found


def _points(chart: dict[str, list[ET.Element]]) -> list[tuple[float, float]]:
    text = chart["series"][0].get("points") or ""
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in text.split())]


def _area(chart: dict[str, list[ET.Element]]) -> tuple[float, float, float, float]:
    rect = chart["plot-area"][0]
    x, y, w, h = (float(rect.get(k) or "nan") for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def test_the_chart_is_valid_svg_with_one_point_per_value() -> None:
    svg = render_chart_svg(SERIES.metric, SERIES.points, SERIES.thresholds)
    chart = _chart(svg)
    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("720", "240", "0 0 720 240")
    assert root.find(f"{SVG}title") is not None and root.findtext(f"{SVG}title") == "drift.share_drifted per window"
    points = _points(chart)
    assert len(points) == 4
    assert [x for x, _ in points] == sorted(x for x, _ in points) and points[0][0] == 64 and points[-1][0] == 684
    assert [e.get("class") for e in chart["breach"]] == ["breach warning", "breach critical"]
    assert [e.text for e in chart["y-label"]] == ["0.08", "0.19", "0.3", "0.41", "0.52"]
    assert [e.text for e in chart["x-label"]] == [
        "03-02 06:00",
        "03-02 06:45",
        "03-02 07:30",
        "03-02 08:15",
        "03-02 09:00",
    ]


def test_the_threshold_lines_sit_on_the_scale() -> None:
    chart = _chart(render_chart_svg(SERIES.metric, SERIES.points, Thresholds(warn=0.3, critical=0.45)))
    y_of = {value: y for (_, y), (_, value, _) in zip(_points(chart), SERIES.points, strict=True)}
    warn, critical = chart["warn"][0], chart["critical"][0]
    assert warn.get("y1") == warn.get("y2") and float(warn.get("y1") or "nan") == y_of[0.3]
    between = y_of[0.3] + (0.45 - 0.3) / (0.5 - 0.3) * (y_of[0.5] - y_of[0.3])
    assert float(critical.get("y1") or "nan") == pytest.approx(between, abs=0.011)
    left, _, right, _ = _area(chart)
    assert (float(warn.get("x1") or 0), float(warn.get("x2") or 0)) == (left, right)


def test_threshold_labels_say_the_direction() -> None:
    svg = render_chart_svg("performance.accuracy", SERIES.points, Thresholds(warn=0.3, direction="below"))
    assert ">warn &lt; 0.3</text>" in svg and 'class="threshold critical"' not in svg


def test_times_are_labelled_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    points = [
        (datetime(2026, 3, 2, 11, 0, tzinfo=paris), 1.0, "ok"),
        (datetime(2026, 3, 12, 11, 0, tzinfo=paris), 2.0, "ok"),
    ]
    labels = [e.text for e in _chart(render_chart_svg("m", points))["x-label"]]
    assert labels[0] == "2026-03-02" and labels[-1] == "2026-03-12"
    assert [e.text for e in _chart(render_chart_svg("m", points[:1]))["x-label"]] == ["03-02 09:00"]


def test_a_constant_series_is_drawn_across_the_middle() -> None:
    for value in (0.0, 7.5, -1e-300):
        chart = _chart(render_chart_svg("m", [(T0 + timedelta(hours=i), value, "ok") for i in range(3)]))
        _, top, _, bottom = _area(chart)
        assert {y for _, y in _points(chart)} == {(top + bottom) / 2}


def test_values_that_are_not_finite_are_left_out_and_no_values_say_so() -> None:
    points = [(T0, 1.0, "ok"), (T0 + timedelta(hours=1), math.nan, "ok"), (T0 + timedelta(hours=2), math.inf, "ok")]
    assert len(_points(_chart(render_chart_svg("m", points)))) == 1
    empty = render_chart_svg("m <&>", [], Thresholds(warn=1.0))
    assert "series" not in _chart(empty) and ">no values</text>" in empty and ">m &lt;&amp;&gt;</text>" in empty
    with pytest.raises(ValueError, match="at least 240x120 pixels, not 100x100"):
        render_chart_svg("m", points, width=100, height=100)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(values=st.lists(finite, min_size=1, max_size=40), warn=st.none() | finite, critical=st.none() | finite)
def test_every_point_and_line_is_inside_the_plot_area(values: list[float], warn: float | None,
                                                      critical: float | None) -> None:  # fmt: skip
    points = [(T0 + timedelta(minutes=5 * i), v, "critical" if i % 3 == 0 else "ok") for i, v in enumerate(values)]
    chart = _chart(render_chart_svg("m", points, Thresholds(warn=warn, critical=critical)))
    left, top, right, bottom = _area(chart)
    drawn = _points(chart)
    assert len(drawn) == len(values)
    assert all(left <= x <= right and top <= y <= bottom for x, y in drawn)
    for a, (_, ya) in zip(values, drawn, strict=True):
        assert all(ya >= yb for b, (_, yb) in zip(values, drawn, strict=True) if a < b)  # higher value, higher up
    for line in chart.get("threshold", []):
        assert top <= float(line.get("y1") or "nan") <= bottom
    if len(set(values)) == 1 and warn is None and critical is None:  # a constant series: across the middle
        assert {y for _, y in drawn} == {(top + bottom) / 2}
