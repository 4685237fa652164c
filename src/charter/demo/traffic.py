"""Production, replayed: applications scored through the SDK, outcomes later, monitors and on-call on the hour.

:func:`serve_hours` plays hours of traffic in time order. Each hour's applicants come in
batches (a scoring service's calls), each scored by the model the ``prod`` alias points at,
wrapped with the SDK so every decision lands in the lake with its inputs (name and e-mail
pseudonymised), its score, the applicant's id (for erasure) and their sex (for fairness
monitoring, never shown to the model). An hour's outcomes arrive at the end of the next hour.
Five minutes after each hour the worker runs both monitors on it, and between batches it
escalates what is due; the on-call lead acknowledges an incident five minutes after being
paged. Nothing sleeps: the demo's clock is moved to each event's time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from charter.demo.modelling import load
from charter.demo.population import LABEL, PROTECTED, Population, applicants
from charter.demo.world import ALIAS, LEAD, MODEL, SERVING, Demo

Progress = Callable[[int, int], None]

WORKER = "demo:worker"
MONITORS = ("credit-risk-drift", "credit-risk-fairness")
#: Scoring calls an hour, each a batch of that hour's applications.
CALLS_PER_HOUR = 30
ACKNOWLEDGE_AFTER = timedelta(minutes=5)
MONITOR_DELAY = timedelta(minutes=5)


@dataclass(frozen=True)
class Hour:
    start: datetime
    population: Population
    decisions: int


@dataclass
class _Replay:
    demo: Demo
    governed: Any
    charter: Any
    done: int = 0
    total: int = 0
    outcomes: dict[datetime, tuple[list[str], list[int]]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def serve_hours(demo: Demo, hours: list[Hour], progress: Progress) -> list[str]:
    """Play ``hours`` of traffic with the monitors and the on-call duties (module docstring); findings as lines."""
    import charter

    model = _prod_model(demo)
    events: list[tuple[datetime, int, Callable[[_Replay], None]]] = []
    order = 0
    for hour in hours:
        batch = applicants(hour.decisions, hour.population, demo.rng, first_id=int(demo.facts.get("next_id", 1)))
        demo.facts["next_id"] = int(demo.facts.get("next_id", 1)) + hour.decisions
        step = timedelta(hours=1) / CALLS_PER_HOUR
        for i, rows in enumerate(_split(batch, CALLS_PER_HOUR)):
            events.append((hour.start + step * i + step / 2, order, _score(hour.start, rows)))
            order += 1
        end = hour.start + timedelta(hours=1)
        events.append((end + timedelta(hours=1), order, _arrive(hour.start)))
        events.append((end + MONITOR_DELAY, order + 1, _monitor(hour)))
        order += 2
    heapq.heapify(events)
    sdk = charter.Charter(demo.settings_for(SERVING), clock=demo.clock)
    try:
        replay = _Replay(demo, sdk.wrap(model, f"{MODEL}:{ALIAS}", groups=[PROTECTED]), sdk,
                         total=sum(h.decisions for h in hours))  # fmt: skip
        while events:
            when, _, run = heapq.heappop(events)
            demo.at(when)
            _on_call(replay)
            run(replay)
            progress(replay.done, replay.total)
        if not sdk.flush(timeout=60):
            raise RuntimeError("the decision logger did not write everything within 60 s")
    finally:
        sdk.close()
    return replay.lines


def _prod_model(demo: Demo) -> Any:
    """What the scoring service loads: the artifact ``prod`` points at, once its SHA-256 matches the registry's."""
    from charter.services.evaluation import verify_artifact
    from charter.services.registry import resolve_version

    context = demo.as_(SERVING)
    return load(verify_artifact(context, resolve_version(context, f"{MODEL}:{ALIAS}")))


def _split(frame: Any, parts: int) -> list[Any]:
    size = -(-len(frame) // parts)
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def _score(hour: datetime, rows: Any) -> Callable[[_Replay], None]:
    def run(replay: _Replay) -> None:
        request = rows.drop(columns=["applicant_id", PROTECTED, LABEL])
        with replay.governed.context(subject_ids=list(rows["applicant_id"]), groups={PROTECTED: list(rows[PROTECTED])}):
            replay.governed.predict_proba(request)
            ids = replay.governed.last_decision_ids
        known, labels = replay.outcomes.setdefault(hour, ([], []))
        known.extend(ids)
        labels.extend(int(v) for v in rows[LABEL])
        replay.done += len(rows)

    return run


def _arrive(hour: datetime) -> Callable[[_Replay], None]:
    def run(replay: _Replay) -> None:
        ids, labels = replay.outcomes.pop(hour, ([], []))
        if ids:
            replay.charter.log_outcomes(MODEL, ids, labels)

    return run


def _monitor(hour: Hour) -> Callable[[_Replay], None]:
    def run(replay: _Replay) -> None:
        from charter.services.monitoring import run_monitor

        if not replay.charter.flush(timeout=60):
            raise RuntimeError("the decision logger did not write the hour's decisions within 60 s")
        demo = replay.demo
        worker = demo.as_(WORKER)
        end = hour.start + timedelta(hours=1)
        parts = []
        for name in MONITORS:
            found = run_monitor(worker, name, worker="demo")
            demo.facts.setdefault("windows", []).append({
                "monitor": name, "window_end": found.window_end, "population": hour.population.name,
                "status": found.status, "value": found.value, "rows": found.rows, "incident": found.incident,
            })  # fmt: skip
            shown = "n/a" if found.value is None else f"{found.value:.2f}"
            what = "drift share" if name.endswith("drift") else "disparate impact"
            opened = f" -> {found.incident}" if found.incident and found.incident not in _known(demo) else ""
            if opened:
                demo.facts.setdefault("incidents", []).append(found.incident)
            parts.append(f"{what} {shown} {found.status}{opened}")
        replay.lines.append(
            f"{hour.start:%H:%M}-{end:%H:%M} {hour.population.name}, {hour.decisions:,} decisions: " + "; ".join(parts)
        )

    return run


def _known(demo: Demo) -> list[str]:
    return list(demo.facts.get("incidents", []))


def _on_call(replay: _Replay) -> None:
    """The worker escalates what is due; the lead acknowledges an incident a few minutes after being paged."""
    from charter.services.escalation import escalate_due
    from charter.services.incidents import acknowledge, get_incident

    demo = replay.demo
    now = demo.clock.now()
    paged: dict[str, str] = demo.facts.setdefault("paged", {})
    if any(get_incident(demo.as_(WORKER), ref).status == "triggered" for ref in _known(demo)):
        for incident in escalate_due(demo.as_(WORKER)):
            paged[incident.ref] = now.isoformat()
            replay.lines.append(f"{now:%H:%M} {incident.ref} unacknowledged: escalated to level "
                                f"{incident.escalation_level} ({_targets(demo, incident)})")  # fmt: skip
    for ref, since in list(paged.items()):
        if now - datetime.fromisoformat(since) >= ACKNOWLEDGE_AFTER:
            del paged[ref]
            if get_incident(demo.as_(LEAD), ref).status == "triggered":
                acknowledge(demo.as_(LEAD), ref, note="paged by the escalation; looking into it")
                replay.lines.append(f"{now:%H:%M} {ref} acknowledged by {LEAD}")


def _targets(demo: Demo, incident: Any) -> str:
    from charter.services.escalation import policy_levels

    assert demo.context is not None
    with demo.context.engine.connect() as connection:
        levels = policy_levels(connection, incident.escalation_policy)
    return ", ".join(levels[incident.escalation_level].targets) if incident.escalation_level < len(levels) else ""
