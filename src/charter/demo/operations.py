"""The story in production: monitoring and on-call, traffic with a shift, retraining, the new version, evidence.

Like :mod:`charter.demo.setup`, each function is one step that calls the services as the
person who would act, and returns what it found. The remediation is a retraining, not a
rollback: ``prod`` has only ever served version 1 (the gate kept version 2 out), so there is
no earlier good version to roll back to, and the population itself changed, which only a
model trained on the new applicants can answer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta

from charter.demo.population import BRANCH, BROKER, FEATURES, PROTECTED
from charter.demo.setup import evaluation_line, promote_with_sign_off
from charter.demo.traffic import MONITORS, Hour, serve_hours
from charter.demo.world import (
    ADMIN,
    ALIAS,
    ENGINEER,
    HOURS_AFTER,
    HOURS_BEFORE,
    HOURS_RETRAINED,
    LEAD,
    MODEL,
    NOW_ENV,
    RISK_OFFICER,
    SECRET_ENV,
    Demo,
)
from charter.errors import DemoFailed
from charter.services import approvals, audit, datasets, incidents, remediation
from charter.services.escalation import define_policy, define_target
from charter.services.lake import verify_lake
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.postmortems import write_postmortem
from charter.services.registry import list_versions

Progress = Callable[[int, int], None]
DRIFT, FAIRNESS = MONITORS
ESCALATE_AFTER = "15m"


def prepare_monitoring(demo: Demo, progress: Progress) -> list[str]:
    """Two webhook targets (signed), an escalation policy, and the drift and fairness monitors on prod."""
    lead = demo.as_(LEAD)
    for name in ("ops", "lead"):
        define_target(lead, name, {"kind": "webhook", "url": demo.receiver.url(f"/{name}"), "secret_env": SECRET_ENV})
    define_policy(lead, "on-call", [{"targets": ["ops"]}, {"targets": ["lead"], "after": ESCALATE_AFTER}])
    retrain = [sys.executable, "-m", "charter.demo.retrain", "--home", str(demo.home)]
    engineer = demo.as_(ENGINEER)
    define_monitor(engineer, monitor_from_spec(DRIFT, {
        "model": MODEL, "target": ALIAS, "kind": "data_drift", "features": list(FEATURES), "window": {"every": "1h"},
        "warn": 0.3, "critical": 0.5, "severity": "high", "escalation": "on-call",
        "options": {"retrain_command": retrain},
    }))  # fmt: skip
    define_monitor(engineer, monitor_from_spec(FAIRNESS, {
        "model": MODEL, "target": ALIAS, "kind": "fairness", "group": PROTECTED, "window": {"every": "1h"},
        "critical": 0.8, "severity": "high", "escalation": "on-call",
    }))  # fmt: skip
    progress(1, 1)
    return [
        f"webhooks: ops and lead at {demo.receiver.url('/')} (HMAC-SHA256 signed); escalation on-call: ops at once, "
        f"lead after {ESCALATE_AFTER} unacknowledged",
        f"{DRIFT}: share of drifting features of {MODEL}:{ALIAS} per hour, warn above 0.3, critical above 0.5",
        f"{FAIRNESS}: disparate impact by {PROTECTED} per hour, critical below 0.8",
    ]


def serve_production(demo: Demo, progress: Progress) -> list[str]:
    """Hours of branch applications, then the broker channel starts: more applicants, and different ones."""
    first = demo.start + timedelta(hours=1)
    hourly = demo.options.hourly
    hours = [Hour(first + timedelta(hours=i), BRANCH, hourly) for i in range(HOURS_BEFORE)]
    shift = first + timedelta(hours=HOURS_BEFORE)
    hours += [Hour(shift + timedelta(hours=i), BROKER, 2 * hourly) for i in range(HOURS_AFTER)]
    demo.facts["shift_at"] = shift.isoformat()
    lines = serve_hours(demo, hours, progress)
    return [f"the broker channel starts at {shift:%H:%M}", *lines]


def retrain(demo: Demo, progress: Progress) -> list[str]:
    """The engineer asks to retrain on the drift incident; the on-call lead approves; the job runs."""
    ref = _incident_of(demo, DRIFT)
    demo.wait(5)
    engineer = demo.as_(ENGINEER)
    asked = remediation.retrain(engineer, ref, justification="the broker's applicants differ from the training data")
    demo.wait(10)
    approvals.approve(demo.as_(LEAD), asked.request.id,
                      justification="labelled broker decisions are in; retrain on them")  # fmt: skip
    demo.wait(1)
    progress(1, 2)
    demo.set_env(NOW_ENV, demo.clock.now().isoformat())
    done = remediation.retrain(engineer, ref, justification="")
    if done.result.get("exit_code") != 0:
        raise DemoFailed(
            f"the story cannot go on: retraining failed: {done.result.get('errors') or done.result.get('error')}"
        )
    demo.wait(1)
    progress(2, 2)
    latest = list_versions(engineer, MODEL)[-1]
    recent = datasets.list_dataset_versions(engineer, "credit-recent")[-1]
    holdout = datasets.list_dataset_versions(engineer, "credit-recent-holdout")[-1]
    demo.facts.update(v3=latest.ref, recent=recent.ref, recent_holdout=holdout.ref, retrain_request=asked.request.id)
    return [
        f"change request {asked.request.id}: retrain for {ref}, asked by {ENGINEER}, approved by {LEAD}",
        f"the job read the labelled decisions since the drift began: {recent.ref} ({recent.row_count:,} rows) "
        f"to train, {holdout.ref} ({holdout.row_count:,} rows) to evaluate",
        f"registered {latest.ref}, trained on {recent.ref}",
    ]


def gate_retrained(demo: Demo, progress: Progress) -> list[str]:
    """The retraining data is certified; both versions are evaluated on the recent holdout; the gate decides."""
    reference, recent, holdout = (str(demo.facts[k]) for k in ("v3", "recent", "recent_holdout"))
    certified = datasets.certify(demo.as_(RISK_OFFICER), recent, purpose="training credit-risk models",
                                 expires=demo.clock.now() + timedelta(days=90),
                                 note="decisions of the broker channel with their outcomes")  # fmt: skip
    suite = demo.folder("suites") / "credit-edge-cases.yaml"
    lines = [f"{recent} certified by {certified.certified_by}"]
    lines += [evaluation_line(demo, str(demo.facts[k]), holdout, suite) for k in ("v1", "v3")]
    progress(1, 2)
    found, promoted = promote_with_sign_off(demo, reference, f"retrained after {_incident_of(demo, DRIFT)}")
    lines += found
    progress(2, 2)
    if not promoted:
        return [*lines, f"{reference} stays out of {ALIAS}; the incidents stay open"]
    demo.wait(2)
    for ref in _incidents(demo):
        incidents.mitigate(demo.as_(LEAD), ref, note=f"{reference} serves {MODEL}:{ALIAS} now")
    return [*lines, f"{', '.join(_incidents(demo))} mitigated by {LEAD}"]


def watch_retrained(demo: Demo, progress: Progress) -> list[str]:
    """An hour of broker traffic on the new version; when both monitors are quiet, the incidents are resolved."""
    now = demo.clock.now()
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hours = [Hour(start + timedelta(hours=i), BROKER, 2 * demo.options.hourly) for i in range(HOURS_RETRAINED)]
    lines = serve_hours(demo, hours, progress)
    last = {w["monitor"]: w for w in demo.facts["windows"][-len(MONITORS) :]}
    if all(w["status"] == "ok" for w in last.values()):
        note = "; ".join(f"{name} {w['status']} ({w['value']:.2f}) in the window to {w['window_end']}"
                         for name, w in sorted(last.items()))  # fmt: skip
        for ref in _incidents(demo):
            incidents.resolve(demo.as_(LEAD), ref, note=note)
        lines.append(f"{', '.join(_incidents(demo))} resolved by {LEAD}: {note}")
    else:
        lines.append("the monitors are not quiet yet; the incidents stay open")
    return lines


def write_postmortems(demo: Demo, progress: Progress) -> list[str]:
    """The on-call lead writes a postmortem per incident: Markdown, HTML and charts, from the store."""
    shift = datetime.fromisoformat(str(demo.facts["shift_at"]))
    v1, v3 = demo.facts["v1"], demo.facts["v3"]
    cause = (
        f"At {shift:%H:%M} UTC a broker channel began sending applications. Its applicants have lower incomes and "
        f"take larger loans, and its women have short credit histories, which {v1} weighs heavily although for "
        "applicants new to credit the length of a history says little about repayment."
    )
    factors = [
        "the application feed does not say which channel an application came from",
        f"{v1} was trained on branch applications only",
    ]
    due = (demo.clock.now() + timedelta(days=14)).date()
    actions: list[tuple[str, str, date | None]] = [
        ("add the channel to the application feed and watch drift per channel", ENGINEER, due),
        (f"review whether credit_history_years belongs in {v3}'s successors", RISK_OFFICER, due),
    ]
    folder = demo.folder("reports") / "postmortems"
    lines = []
    for i, ref in enumerate(_incidents(demo), start=1):
        written = write_postmortem(demo.as_(LEAD), ref, folder, root_cause=cause, factors=factors, actions=actions)
        demo.facts.setdefault("postmortems", {})[ref] = written.files
        charts = sum(kind.startswith("chart:") for kind in written.files)
        lines.append(f"{ref}: {written.files['markdown']} and {written.files['html']}, {charts} chart(s)")
        progress(i, len(_incidents(demo)))
    return lines


def verify_audit(demo: Demo, progress: Progress) -> list[str]:
    """A signed checkpoint, then ``charter audit verify --lake credit-risk``: the ledger and the lake."""
    admin = demo.as_(ADMIN)
    checkpoint = audit.sign_checkpoint(admin)
    ledger = audit.verify_ledger(admin)
    progress(1, 2)
    lake = verify_lake(admin, MODEL)
    progress(2, 2)
    demo.facts["verified"] = {"ledger": ledger.to_dict(), "lake": lake.to_dict()}
    if not ledger.ok or not lake.ok:
        problems = [*(p.message for p in ledger.problems), *(p.detail for p in lake.problems)]
        raise DemoFailed(f"the story cannot go on: the audit does not verify: {'; '.join(problems[:3])}")
    return [
        f"checkpoint at seq {checkpoint.seq} signed with key {checkpoint.key_id}",
        f"ledger intact: {ledger.entries:,} entries up to seq {ledger.head_seq}, {ledger.checkpoints} checkpoint(s)",
        f"lake intact: {lake.rows:,} rows in {lake.batches:,} batches, each matching its anchor on the ledger",
    ]


def _incident_of(demo: Demo, monitor: str) -> str:
    for window in demo.facts.get("windows", []):
        if window["monitor"] == monitor and window["incident"]:
            return str(window["incident"])
    raise DemoFailed(
        f"the story cannot go on: the monitor {monitor} opened no incident, so there is nothing to remediate"
    )


def _incidents(demo: Demo) -> list[str]:
    return [str(ref) for ref in demo.facts.get("incidents", [])]
