"""The demo's evidence summary: what the store, the lake and the files now hold, read back from them.

Nothing here comes from the story's own notes except the paths of the files it wrote: gate
verdicts, change requests with who asked and who approved, incidents with their timelines
and the webhook deliveries that reached the receiver, the alias's history, the decisions and
outcomes in the lake by version, and a fresh verification of the ledger and the lake.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from charter.demo.world import ADMIN, ALIAS, MODEL, RISK_OFFICER, Demo


def collect(demo: Demo) -> dict[str, Any]:
    """The evidence as plain data (``charter demo --json`` prints it as it is)."""
    from charter.services import approvals, audit
    from charter.services.aliases import history
    from charter.services.gates import gate_history
    from charter.services.incidents import list_incidents, timeline
    from charter.services.lake import verify_lake
    from charter.services.registry import list_versions

    context = demo.as_(ADMIN)
    gates = {
        version.ref: [{"decision": g["decision"], "created_at": g["created_at"], "failed": _failed(g)}
                      for g in reversed(gate_history(context, version.ref))]
        for version in list_versions(context, MODEL)
    }  # fmt: skip
    requests = [
        {"id": r.id, "kind": r.kind, "state": r.state, "requester": r.requester,
         "approved_by": [a.principal for a in r.approvals if a.decision == "approve"]}
        for r in reversed(approvals.list_requests(context))
    ]  # fmt: skip
    found_incidents = []
    for incident in reversed(list_incidents(context, model=MODEL)):
        steps = Counter(step["action"] for step in timeline(context, incident.ref))
        found_incidents.append({
            "ref": incident.ref, "title": incident.title, "status": incident.status, "alerts": incident.alerts,
            "escalation_level": incident.escalation_level, "timeline": dict(sorted(steps.items())),
        })  # fmt: skip
    ledger = audit.verify_ledger(context)
    lake = verify_lake(context, MODEL)
    return {
        "home": str(demo.home),
        "dashboard_principal": RISK_OFFICER,
        "gates": gates,
        "change_requests": requests,
        "incidents": found_incidents,
        "webhooks": [d.to_dict() for d in demo.receiver.deliveries],
        "alias_history": [
            {"from": m.from_version, "to": m.to_version, "actor": m.actor, "at": m.at}
            for m in history(context, MODEL, ALIAS)
        ],
        "lake": _lake_counts(demo),
        "verified": {"ledger": ledger.to_dict(), "lake": lake.to_dict()},
        "files": {
            "gate_reports": list(demo.facts.get("gate_reports", [])),
            "postmortems": dict(demo.facts.get("postmortems", {})),
        },
    }


def _failed(gate: dict[str, Any]) -> list[str]:
    return [f"{v['policy']}/{v['rule']}" for v in gate.get("verdicts", []) if v.get("effect") == "block"]


def _lake_counts(demo: Demo) -> dict[str, Any]:
    import pyarrow.compute as pc

    from charter.lake.table import DecisionLake

    lake = DecisionLake(demo.settings.lake)
    decisions = lake.read_table(MODEL, "decisions", columns=["model_version"])
    outcomes = lake.read_table(MODEL, "outcomes", columns=["decision_id"])
    counted = pc.value_counts(decisions["model_version"]).to_pylist()
    by_version = {f"{MODEL}@{item['values']}": int(item["counts"]) for item in counted}
    return {"decisions": decisions.num_rows, "by_version": dict(sorted(by_version.items())),
            "outcomes": outcomes.num_rows}  # fmt: skip
