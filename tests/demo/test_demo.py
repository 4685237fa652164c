"""``charter demo --no-serve`` tells the whole story; what it leaves in the store is checked, not what it prints.

One run with the default traffic (so the monitors' windows are as large as in a user's run);
each ``check_`` function reads one part of the evidence back from the home. They are called
from one test, so that ``pytest -n auto`` runs the story once, not once per worker.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from charter.cli.main import app
from charter.demo import world
from charter.demo.home import MARKER
from charter.demo.world import ENGINEER, LEAD, MODEL, RISK_OFFICER, demo_settings
from charter.lake.table import DecisionLake
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import approvals, audit
from charter.services.aliases import history
from charter.services.context import Context, open_context
from charter.services.evaluation import list_evaluations
from charter.services.gates import gate_history
from charter.services.incidents import get_incident, timeline
from charter.services.lake import verify_lake
from charter.services.monitoring import series

runner = CliRunner()


def test_the_demo_leaves_the_whole_loop_in_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = runner.invoke(app, ["demo", "--no-serve", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.stderr
    evidence = json.loads(result.stdout)
    with open_context(demo_settings(home)) as store:
        check_gates(store)
        check_approvals(store)
        check_monitors(store)
        check_incident(store)
        check_alias(store)
        check_postmortems(home, evidence, store)
        check_audit(store)
    check_lake(home, evidence)
    check_evidence(evidence)
    check_refusals(home, tmp_path)


def check_gates(store: Context) -> None:
    """Version 1 passes (after the sign-off); version 2 is blocked by the four-fifths rule, with its value."""
    assert [g["decision"] for g in reversed(gate_history(store, f"{MODEL}@1"))] == ["pending_approval", "passed"]
    [blocked] = gate_history(store, f"{MODEL}@2")
    assert blocked["decision"] == "blocked"
    failing = {(v["policy"], v["rule"]): v for v in blocked["verdicts"] if v["effect"] == "block"}
    assert set(failing) == {("fairness", "four-fifths-rule")}
    v1, v2 = (list_evaluations(store, f"{MODEL}@{n}")[-1] for n in (1, 2))
    impact = v2.fairness["sex"]["disparate_impact"]
    assert impact < 0.8 <= v1.fairness["sex"]["disparate_impact"]
    assert failing["fairness", "four-fifths-rule"]["message"].endswith(f"sex={round(impact, 4)}")  # 4 decimals
    assert v2.metrics["roc_auc"] > v1.metrics["roc_auc"] and v2.metrics["accuracy"] > v1.metrics["accuracy"]


def check_approvals(store: Context) -> None:
    """Every change was approved by someone other than who asked, holding the role the policy names."""
    found: dict[str, list[Any]] = {}
    for request in reversed(approvals.list_requests(store)):
        found.setdefault(request.kind, []).append(request)
    assert [r.state for r in found["promote"]] == ["executed", "executed"]
    for request in found["promote"]:
        assert request.requester == ENGINEER
        assert [(a.principal, a.role, a.decision) for a in request.approvals] == [(RISK_OFFICER, "risk-officer",
                                                                                   "approve")]  # fmt: skip
    [retrain] = found["retrain"]
    assert (retrain.state, retrain.requester) == ("executed", ENGINEER)
    assert [(a.principal, a.role) for a in retrain.approvals] == [(LEAD, "approver")]


def check_monitors(store: Context) -> None:
    """Both monitors are quiet before the shift, critical after it, quiet again on the retrained version."""
    hours = world.HOURS_BEFORE + world.HOURS_AFTER + world.HOURS_RETRAINED
    for name, metric in (("credit-risk-drift", "drift.share_drifted"),
                         ("credit-risk-fairness", "fairness.disparate_impact")):  # fmt: skip
        statuses = [v["status"] for v in series(store, name, metric=metric)]
        assert statuses == ["ok"] * world.HOURS_BEFORE + ["critical"] * world.HOURS_AFTER + ["ok"], name
        assert len(statuses) == hours


def check_incident(store: Context) -> None:
    """INC-1: triggered, escalated (delivered to the lead's webhook), retrained with approval, resolved."""
    incident = get_incident(store, "INC-1")
    assert (incident.monitor, incident.status, incident.escalation_level) == ("credit-risk-drift", "resolved", 1)
    steps = timeline(store, "INC-1")
    actions = [s["action"] for s in steps]
    for action in ("incident.triggered", "incident.escalated", "incident.acknowledged", "change.requested",
                   "change.approved", "change.executed", "incident.remediated", "incident.mitigated",
                   "incident.resolved", "incident.postmortem_written"):  # fmt: skip
        assert action in actions, action
    assert actions.index("incident.triggered") < actions.index("incident.escalated") < actions.index("change.approved")
    delivered = [s["data"] for s in steps if s["action"] == "incident.notified"]
    escalated = [d for d in delivered if d["event"] == "incident.escalated"]
    assert [(d["level"], d["delivery"]["target"], d["delivery"]["ok"]) for d in escalated] == [(1, "lead", True)]
    assert all(d["delivery"]["ok"] for d in delivered)
    retrained = next(s["data"] for s in steps if s["action"] == "incident.remediated")
    assert retrained["action"] == "retrain" and retrained["exit_code"] == 0


def check_alias(store: Context) -> None:
    """prod went to version 1, then to the retrained version 3, each through a passing gate."""
    moves = [(m.from_version, m.to_version, m.actor) for m in history(store, MODEL, "prod")]
    assert moves == [(None, 1, ENGINEER), (1, 3, ENGINEER)]
    v3 = [g["decision"] for g in reversed(gate_history(store, f"{MODEL}@3"))]
    assert v3 == ["pending_approval", "passed"]


def check_postmortems(home: Path, evidence: dict[str, Any], store: Context) -> None:
    """The postmortems' files are those whose SHA-256 the ledger recorded; the gate reports exist."""
    written = list_entries(store.engine, EntryFilter(action="incident.postmortem_written"), limit=None)
    assert len(written) == 2
    for ref, files in evidence["files"]["postmortems"].items():
        entry = next(e for e in written if e.subject == f"incident:{get_incident(store, ref).id}")
        for kind in ("markdown", "html"):
            path = Path(files[kind])
            assert path.is_relative_to(home) and path.suffix in (".md", ".html")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.data["files"][kind]
    assert all(Path(p).is_file() for p in evidence["files"]["gate_reports"])


def check_audit(store: Context) -> None:
    """`charter audit verify --lake credit-risk`: the ledger (with its checkpoint) and the lake."""
    ledger = audit.verify_ledger(store)
    assert ledger.ok and ledger.checkpoints == 1
    assert verify_lake(store, MODEL).ok


def check_lake(home: Path, evidence: dict[str, Any]) -> None:
    """Every decision and outcome is in the lake, by version, with e-mail addresses pseudonymised."""
    lake = DecisionLake(demo_settings(home).lake)
    decisions = lake.read_table(MODEL, "decisions", columns=["model_version", "email", "name"])
    before, after, retrained = world.HOURS_BEFORE, world.HOURS_AFTER, world.HOURS_RETRAINED
    hourly = world.DEFAULT_HOURLY
    assert decisions.num_rows == hourly * (before + 2 * after + 2 * retrained)
    counted = {int(v): decisions["model_version"].to_pylist().count(v) for v in (1, 3)}
    assert counted == {1: hourly * (before + 2 * after), 3: hourly * 2 * retrained}
    assert lake.read_table(MODEL, "outcomes", columns=["decision_id"]).num_rows == decisions.num_rows
    emails = decisions["email"].to_pylist()
    assert all(e.startswith("p1:") for e in emails) and not any("@" in e for e in emails)
    assert evidence["lake"]["decisions"] == decisions.num_rows


def check_evidence(evidence: dict[str, Any]) -> None:
    """The printed evidence says what the store says; every webhook delivery carried a valid signature."""
    assert evidence["verified"]["ledger"]["ok"] and evidence["verified"]["lake"]["ok"]
    assert evidence["webhooks"] and all(d["verified"] for d in evidence["webhooks"])
    assert {d["path"] for d in evidence["webhooks"]} == {"/ops", "/lead"}
    assert evidence["dashboard"] is None


def check_refusals(home: Path, tmp_path: Path) -> None:
    """A second run into the demo's home is refused without --fresh; a home the demo did not make, even with it."""
    again = runner.invoke(app, ["demo", "--no-serve", "--home", str(home)])
    assert again.exit_code == 1 and "already holds a demo" in again.stderr and "--fresh" in again.stderr
    other = tmp_path / "mine"
    other.mkdir()
    (other / "charter.db").write_text("not the demo's")
    refused = runner.invoke(app, ["demo", "--no-serve", "--fresh", "--home", str(other)])
    assert refused.exit_code == 1 and "was not made by `charter demo`" in refused.stderr
    assert (other / "charter.db").read_text() == "not the demo's" and not (other / MARKER).exists()
