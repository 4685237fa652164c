"""Gates and promotion on SQLite and PostgreSQL: evidence in, verdict out, aliases move only through them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import Conflict, Forbidden, InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import access, aliases, approvals, audit, policies
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.evaluation import record_evaluation
from charter.services.gates import NO_POLICY, run_gate
from charter.services.home import init_home
from charter.services.promotion import promote
from charter.services.registry import ModelSpec, get_model, register_model, register_version

POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: high-risk-deploy}
spec:
  appliesTo: {riskTier: [high], stage: [prod]}
  rules:
    - name: auc-baseline
      expr: evaluation.metrics.roc_auc >= 0.82
      message: "ROC AUC {{ evaluation.metrics.roc_auc }} is below 0.82"
    - name: no-regression
      expr: "!has(champion.metrics) || evaluation.metrics.roc_auc >= champion.metrics.roc_auc - 0.01"
      message: "ROC AUC {{ evaluation.metrics.roc_auc }} regresses on {{ champion.ref }}"
    - name: risk-officer-approval
      expr: approvals.exists(a, a.role == 'risk-officer' && a.decision == 'approved' && a.principal != requester)
      action: require_approval
"""


@pytest.fixture
def context(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        access.grant(opened, "user:tester", "risk-officer")
        access.grant(opened, "local:rita", "risk-officer")
        access.grant(opened, "local:dev", "developer")
        register_model(opened, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        for number, auc in ((1, 0.86), (2, 0.84), (3, 0.80)):
            artifact = tmp_path / f"model-{number}.pkl"
            artifact.write_bytes(f"weights {number}".encode())
            register_version(opened, "credit-risk", digest_path(artifact), framework="sklearn")
            record_evaluation(opened, f"credit-risk@{number}", dataset="holdout", metrics={"roc_auc": auc})
        yield opened


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


@pytest.fixture
def governed(context: Context, tmp_path: Path) -> Path:
    path = tmp_path / "policies" / "high-risk-deploy.yaml"
    path.parent.mkdir()
    path.write_text(POLICY)
    assert [c.action for c in policies.add_policies(context, [path])] == ["create"]
    return path


def test_no_applicable_policy_blocks(context: Context) -> None:
    result = run_gate(context, "credit-risk@1", "prod")
    assert result.outcome == "blocked"
    [verdict] = result.decision.verdicts
    assert verdict.rule == NO_POLICY
    assert verdict.message.startswith("no policy applies to credit-risk@1 for stage 'prod'; add one")


def test_a_version_is_promoted_after_the_gate_and_the_approval(context: Context, governed: Path) -> None:
    dev = as_actor(context, "local:dev")
    first = promote(dev, "credit-risk@1", "prod", justification="first production model")
    assert first.status == "pending_approval"
    assert [v.rule for v in first.gate.decision.approvals] == ["risk-officer-approval"]
    request = first.request
    assert request is not None and request.requirement.roles == ("risk-officer",)
    assert request.payload == {"model": "credit-risk", "version": 1, "alias": "prod",
                               "artifact_sha256": request.payload["artifact_sha256"]}  # fmt: skip
    assert get_model(context, "credit-risk").aliases == {}
    approvals.approve(as_actor(context, "local:rita"), request.id, justification="model risk review done")
    done = promote(dev, "credit-risk@1", "prod")
    assert done.status == "promoted" and done.move is not None
    assert get_model(context, "credit-risk").aliases == {"prod": 1}
    assert done.request is not None and done.request.state == "executed"
    [moved] = list_entries(context.engine, EntryFilter(action="model.alias_moved"))
    assert moved.data["gate"] == done.gate.id and moved.data["change_request"] == request.id
    gates = list_entries(context.engine, EntryFilter(action="gate.evaluated"))
    assert [g.data["decision"] for g in gates] == ["passed", "pending_approval"]
    assert audit.verify_ledger(context).ok


def test_regressions_and_thresholds_block_with_actual_values(context: Context, governed: Path) -> None:
    request = promote(context, "credit-risk@1", "prod", justification="first model").request
    assert request is not None
    approvals.approve(as_actor(context, "local:rita"), request.id, justification="ok")
    assert promote(context, "credit-risk@1", "prod").status == "promoted"
    result = run_gate(context, "credit-risk@3", "prod")
    assert result.outcome == "blocked"
    failed = {v.rule: v.message for v in result.decision.verdicts if v.verdict == "fail"}
    assert failed == {
        "auc-baseline": "ROC AUC 0.8 is below 0.82",
        "no-regression": "ROC AUC 0.8 regresses on credit-risk@1",
        "risk-officer-approval": failed["risk-officer-approval"],
    }
    assert result.context["champion"] == {"version": 1, "ref": "credit-risk@1", "metrics": {"roc_auc": 0.86}}
    blocked = promote(context, "credit-risk@3", "prod")
    assert (blocked.status, blocked.request) == ("blocked", None)
    assert get_model(context, "credit-risk").aliases == {"prod": 1}


def test_a_governed_alias_moves_only_through_promote(context: Context, governed: Path) -> None:
    with pytest.raises(
        Conflict, match=r"credit-risk:prod is governed by high-risk-deploy; move it with `charter promote"
    ):
        aliases.set_alias(context, "credit-risk@1", "prod")
    assert aliases.set_alias(context, "credit-risk@1", "staging").to_version == 1  # no policy governs staging
    assert promote(context, "credit-risk@1", "prod", justification="first model").status == "pending_approval"
    request = approvals.list_requests(context, kind="promote")[0]
    approvals.approve(as_actor(context, "local:rita"), request.id, justification="ok")
    assert promote(context, "credit-risk@1", "prod").status == "promoted"
    with pytest.raises(
        Forbidden, match=r"removing an alias that a policy governs needs the role risk-officer or admin"
    ):
        aliases.remove_alias(as_actor(context, "local:dev"), "credit-risk:prod")  # no champion, no regression check
    assert get_model(context, "credit-risk").aliases == {"prod": 1, "staging": 1}
    aliases.remove_alias(as_actor(context, "local:rita"), "credit-risk:prod")  # taking it out of service: allowed
    aliases.remove_alias(as_actor(context, "local:dev"), "credit-risk:staging")  # ungoverned
    assert get_model(context, "credit-risk").aliases == {}


def test_a_promotion_cannot_replace_a_stored_policy_with_its_own(
    context: Context, governed: Path, tmp_path: Path
) -> None:
    """A gate may try a changed policy (a pull request's); a promotion is weighed against the stored one."""
    lenient = tmp_path / "lenient" / "high-risk-deploy.yaml"
    lenient.parent.mkdir()
    lenient.write_text(POLICY.split("  rules:")[0] + "  rules:\n    - {name: anything, expr: 'true'}\n")
    assert run_gate(context, "credit-risk@3", "prod", files=[lenient]).outcome == "passed"
    dev = as_actor(context, "local:dev")
    refused = (
        r"^policy 'high-risk-deploy' in .*lenient/high-risk-deploy.yaml differs from the stored high-risk-deploy@1: "
        r"a promotion is weighed against the stored policies"
    )
    with pytest.raises(InvalidInput, match=refused):
        promote(dev, "credit-risk@3", "prod", files=[lenient])
    assert get_model(context, "credit-risk").aliases == {}
    gates = list_entries(context.engine, EntryFilter(action="gate.evaluated"))
    assert [g.data["decision"] for g in gates] == ["passed"]  # the refused promotion ran no gate
    same = promote(dev, "credit-risk@3", "prod", files=[governed])  # the stored text itself is fine
    assert same.status == "blocked"


def test_promoting_needs_a_role_and_asking_needs_a_reason(context: Context, governed: Path) -> None:
    with pytest.raises(Forbidden, match=r"promoting a model version needs the role developer or .*; local:nobody"):
        promote(as_actor(context, "local:nobody"), "credit-risk@1", "staging")
    with pytest.raises(InvalidInput, match=r"needs approvals; give a justification \(-j WHY\) to ask for them"):
        promote(as_actor(context, "local:dev"), "credit-risk@1", "prod")


TWO_OFFICERS = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: four-eyes}
spec:
  appliesTo: {riskTier: [high], stage: [prod]}
  rules:
    - name: two-risk-officers
      expr: approvals.filter(a, a.role == 'risk-officer' && a.decision == 'approved').size() >= 2
      action: require_approval
"""
EITHER = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: either}
spec:
  appliesTo: {riskTier: [high], stage: [staging]}
  rules:
    - name: approver-or-officer
      expr: approvals.exists(a, (a.role == 'approver' || a.role == 'risk-officer') && a.decision == 'approved')
      action: require_approval
"""


def test_the_approvals_a_policy_counts_and_names_are_the_ones_asked_for(context: Context, tmp_path: Path) -> None:
    for name, text in (("four-eyes", TWO_OFFICERS), ("either", EITHER)):
        (tmp_path / f"{name}.yaml").write_text(text)
    policies.add_policies(context, [tmp_path / "four-eyes.yaml", tmp_path / "either.yaml"])
    access.grant(context, "local:rob", "risk-officer")
    access.grant(context, "local:ann", "approver")
    dev = as_actor(context, "local:dev")
    asked = promote(dev, "credit-risk@1", "prod", justification="first model").request
    assert asked is not None and (asked.requirement.count, asked.requirement.roles) == (2, ("risk-officer",))
    approvals.approve(as_actor(context, "local:rita"), asked.id, justification="one")
    assert promote(dev, "credit-risk@1", "prod").status == "pending_approval"
    second = approvals.approve(as_actor(context, "local:rob"), asked.id, justification="two")
    assert second.state == "approved"
    assert promote(dev, "credit-risk@1", "prod").status == "promoted"
    either = promote(dev, "credit-risk@2", "staging", justification="try it").request
    assert either is not None and (either.requirement.mode, either.requirement.roles) == (
        "any", ("approver", "risk-officer"),
    )  # fmt: skip
    assert approvals.approve(as_actor(context, "local:ann"), either.id, justification="ok").state == "approved"
    done = promote(dev, "credit-risk@2", "staging")
    assert done.status == "promoted" and done.request is not None and done.request.state == "executed"


def test_break_glass_moves_and_leaves_a_review(context: Context, governed: Path, clock: FixedClock) -> None:
    with pytest.raises(InvalidInput, match=r"break-glass needs a justification"):
        promote(context, "credit-risk@3", "prod", break_glass=True)
    with pytest.raises(Forbidden, match=r"break-glass needs the role admin or risk-officer; local:dev has developer"):
        promote(as_actor(context, "local:dev"), "credit-risk@3", "prod", break_glass=True, justification="outage")
    result = promote(context, "credit-risk@3", "prod", break_glass=True, justification="INC-7: v1 serves garbage")
    assert result.status == "promoted" and result.break_glass and result.gate.outcome == "blocked"
    assert result.request is not None and result.request.state == "executed" and result.request.review_due_at
    assert get_model(context, "credit-risk").aliases == {"prod": 3}
    assert [r.id for r in approvals.list_requests(context, unreviewed=True)] == [result.request.id]
    assert approvals.overdue_reviews(context) == []
    clock.advance(timedelta(hours=73))  # the review was due within 72 hours
    assert [r.id for r in approvals.overdue_reviews(context)] == [result.request.id]
    approvals.review(as_actor(context, "local:rita"), result.request.id, justification="outage was real")
    assert approvals.list_requests(context, unreviewed=True) == approvals.overdue_reviews(context) == []


def test_missing_evidence_fails_closed(context: Context, governed: Path, tmp_path: Path) -> None:
    artifact = tmp_path / "model-4.pkl"
    artifact.write_bytes(b"weights 4")
    register_version(context, "credit-risk", digest_path(artifact))
    result = run_gate(context, "credit-risk@4", "prod")
    assert result.outcome == "blocked"
    errors = {v.rule: v for v in result.decision.verdicts if v.verdict == "error"}
    assert set(errors) == {"auc-baseline"}  # no champion yet, so no-regression passes by its has()
    assert errors["auc-baseline"].message.startswith("could not evaluate:")


def test_the_evaluation_says_who_computed_it_and_whether_on_training_data(context: Context, tmp_path: Path) -> None:
    from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset

    assert {k: run_gate(context, "credit-risk@1", "prod").context["evaluation"][k]
            for k in ("source", "on_training_data")} == {"source": "sdk", "on_training_data": False}  # fmt: skip
    register_dataset(context, DatasetSpec(name="applications", legal_basis="contract"))
    (tmp_path / "applications.csv").write_text("income,age\n1,30\n2,40\n")
    add_dataset_version(context, "applications", tmp_path / "applications.csv")
    artifact = tmp_path / "model-4.pkl"
    artifact.write_bytes(b"weights 4")
    register_version(context, "credit-risk", digest_path(artifact), trained_on=["applications@1"])
    record_evaluation(context, "credit-risk@4", dataset="applications@1", metrics={"roc_auc": 0.99})
    evaluated = run_gate(context, "credit-risk@4", "prod").context["evaluation"]
    assert (evaluated["dataset"], evaluated["on_training_data"]) == ("applications@1", True)


def test_open_incidents_and_monitoring_reach_the_policies(context: Context) -> None:
    from charter.services import incidents
    from charter.services.monitors import define_monitor, monitor_from_spec

    quiet = run_gate(context, "credit-risk@1", "prod").context
    assert (quiet["incidents"], quiet["monitors"]) == ([], {"configured": False, "status": "none"})
    watched = monitor_from_spec("credit-risk-volume", {"model": "credit-risk", "target": "prod", "kind": "volume",
                                                       "window": {"every": "1h"}, "critical": 10})  # fmt: skip
    define_monitor(context, watched)
    assert run_gate(context, "credit-risk@1", "prod").context["monitors"] == {"configured": True, "status": "ok"}
    opened = incidents.alert(context, watched, status="critical", value=0.0, window_end="w", run_id="r")
    evidence = run_gate(context, "credit-risk@1", "prod", packs=["nist-ai-rmf"])
    shown = {"id": opened.ref, "severity": opened.severity, "monitor": "credit-risk-volume",
             "opened_at": opened.opened_at}  # fmt: skip
    assert evidence.context["incidents"] == [shown]
    rules = {v.rule: v.verdict for v in evidence.decision.verdicts if v.policy == "nist-ai-rmf"}
    assert (rules["production-monitoring"], rules["open-incidents"]) == ("pass", "fail")
    incidents.resolve(context, opened.ref, note="fixed")
    assert run_gate(context, "credit-risk@1", "prod").context["incidents"] == []


def test_policies_are_versioned_and_need_a_role(context: Context, governed: Path, tmp_path: Path) -> None:
    assert [c.action for c in policies.add_policies(context, [governed])] == ["unchanged"]
    governed.write_text(POLICY.replace("0.82", "0.85"))
    assert [(c.action, c.version) for c in policies.add_policies(context, [governed])] == [("update", 2)]
    assert [p.version for p in policies.list_policies(context, include_inactive=True)] == [2, 1]
    assert run_gate(context, "credit-risk@2", "prod").outcome == "blocked"  # 0.84 < 0.85 now
    with pytest.raises(Forbidden, match=r"adding, changing or removing a policy needs the role risk-officer or admin"):
        policies.add_policies(as_actor(context, "local:dev"), [governed])
    broken = tmp_path / "broken.yaml"
    broken.write_text(POLICY.replace("action: require_approval", "acton: require_approval"))
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"unknown field 'acton'"):
        policies.add_policies(context, [governed, broken])
    assert audit.ledger_size(context) == head
    policies.remove_policy(context, "high-risk-deploy", reason="replaced by packs")
    assert policies.list_policies(context) == []
    assert run_gate(context, "credit-risk@2", "prod", packs=["baseline"]).decision.policies == ("baseline",)


def test_a_policy_change_under_approval(context: Context, governed: Path, tmp_path: Path) -> None:
    """A developer asks; another risk-officer approves; the same call then stores exactly the approved text."""
    dev, rita = as_actor(context, "local:dev"), as_actor(context, "local:rita")
    stricter = tmp_path / "stricter" / "high-risk-deploy.yaml"
    stricter.parent.mkdir()
    stricter.write_text(POLICY.replace("0.82", "0.85"))
    with pytest.raises(Forbidden, match=r"local:dev has developer"):
        policies.add_policies(dev, [stricter])  # not a risk-officer: asking is the way
    with pytest.raises(InvalidInput, match=r"a change request needs a justification"):
        policies.propose_policies(dev, [stricter])
    asked = policies.propose_policies(dev, [stricter], justification="the regulator asks for 0.85")
    assert (asked.status, asked.request.kind, asked.request.subject) == ("pending_approval", "policy_change",
                                                                         "policy:high-risk-deploy")  # fmt: skip
    [entry] = asked.request.payload["policies"]
    assert (entry["source"], entry["origin"]) == (stricter.read_text(), str(stricter))
    assert asked.request.requirement.roles == ("risk-officer",)
    assert policies.propose_policies(dev, [stricter]).request.id == asked.request.id  # the same change: same request
    assert policies.get_policy(context, "high-risk-deploy").version == 1  # nothing stored yet
    with pytest.raises(Forbidden, match=r"separation of duties"):
        approvals.approve(as_actor(context, "local:dev"), asked.request.id, justification="mine")
    other = tmp_path / "other" / "high-risk-deploy.yaml"
    other.parent.mkdir()
    other.write_text(POLICY.replace("0.82", "0.5"))
    approvals.approve(rita, asked.request.id, justification="reviewed the threshold")
    # The approval binds the text: another text is another request, still pending.
    assert policies.propose_policies(dev, [other], justification="lower").status == "pending_approval"
    done = policies.propose_policies(dev, [stricter])
    assert done.status == "applied" and done.request.state == "executed"
    assert [(c.name, c.action, c.version) for c in done.changes] == [("high-risk-deploy", "update", 2)]
    stored = policies.get_policy(context, "high-risk-deploy")
    assert (stored.version, stored.created_by, stored.source) == (2, "local:dev", stricter.read_text())
    [updated] = list_entries(context.engine, EntryFilter(action="policy.updated"))
    assert (updated.actor, updated.data["change_request"]) == ("local:dev", asked.request.id)
    [executed] = list_entries(context.engine, EntryFilter(action="change.executed"))
    assert executed.data["policies"] == ["high-risk-deploy@2"]
    with pytest.raises(Conflict, match=r"already hold exactly these texts"):
        policies.propose_policies(dev, [stricter], justification="again")
    assert run_gate(context, "credit-risk@2", "prod").outcome == "blocked"  # 0.84 < 0.85 now
    assert audit.verify_ledger(context).ok


def test_a_policy_that_lint_refuses_is_not_stored(context: Context, tmp_path: Path) -> None:
    """It would block every gate it applies to: unknown fields, a non-boolean rule."""
    path = tmp_path / "typo.yaml"
    path.write_text(POLICY.replace("evaluation.metrics.roc_auc >= 0.82", "evaluation.metric.roc_auc >= 0.82"))
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"typo.yaml line 8: rule 'auc-baseline': unknown field 'evaluation.metric'"):
        policies.add_policies(context, [path])
    with pytest.raises(InvalidInput, match=r"unknown field 'evaluation.metric'"):
        policies.add_policy_text(context, path.read_text(), origin="api:x")
    assert policies.list_policies(context) == [] and audit.ledger_size(context) == head
    assert run_gate(context, "credit-risk@1", "prod", files=[path]).outcome == "blocked"  # a gate may still try it


def test_policies_apply_declaratively(context: Context, tmp_path: Path) -> None:
    from charter.errors import PolicyParseError
    from charter.services import apply as applying

    manifest = tmp_path / "governance.yaml"
    model = (
        "apiVersion: charter.dev/v1\nkind: Model\nmetadata: {name: fraud}\n"
        "spec: {task: regression, riskTier: minimal}\n"
    )
    manifest.write_text(model + "---\n" + POLICY)
    documents = applying.load([manifest])
    assert [(c.kind, c.action) for c in applying.plan(context, documents)] == [
        ("Model", "create"),
        ("Policy", "create"),
    ]
    applying.apply(context, documents)
    stored = policies.get_policy(context, "high-risk-deploy")
    assert (stored.version, stored.origin, stored.source) == (1, "apply:high-risk-deploy", POLICY)
    assert [c.action for c in applying.plan(context, applying.load([manifest]))] == ["unchanged", "unchanged"]
    manifest.write_text(model + "---\n" + POLICY.replace("0.82", "0.9"))
    [_, change] = applying.plan(context, applying.load([manifest]))
    assert change.action == "change" and set(change.diffs) == {"sha256", "source"}
    applying.apply(context, applying.load([manifest]))
    assert policies.get_policy(context, "high-risk-deploy").version == 2
    manifest.write_text(model + "---\n" + POLICY.replace("action: require_approval", "acton: require_approval"))
    with pytest.raises(PolicyParseError) as caught:
        applying.load([manifest])
    assert str(caught.value).startswith(f"policy {manifest} line 20: ")  # the line in the manifest, not the document
    assert "unknown field 'acton'" in str(caught.value)


def test_documents_are_evidence(context: Context, tmp_path: Path) -> None:
    from charter.services.documents import attach, documents_for
    from charter.services.gates import gate_context
    from charter.services.registry import resolve_version

    card, risk = tmp_path / "card.md", tmp_path / "risk.pdf"
    card.write_text("# credit-risk v2\n")
    risk.write_bytes(b"%PDF risk assessment")
    version = resolve_version(context, "credit-risk@2")
    assert gate_context(context, version, "prod")["documentation"] == {
        "model_card": False, "intended_use": False, "limitations": False, "risk_assessment": False,
    }  # fmt: skip
    attach(context, "credit-risk", "model_card", card)  # a model card for no version in particular counts for none
    attach(context, "credit-risk", "risk_assessment", risk, title="DPIA-lite 2026")
    assert gate_context(context, version, "prod")["documentation"]["risk_assessment"] is True
    assert gate_context(context, version, "prod")["documentation"]["model_card"] is False
    found = attach(context, "credit-risk@2", "model_card", card)
    assert (found.version, found.title, found.sha256) == (2, "card.md", digest_path(card).sha256)
    assert gate_context(context, version, "prod")["documentation"]["model_card"] is True
    assert [d.kind for d in documents_for(context, "credit-risk@1")] == ["risk_assessment", "model_card"]
    assert [d.version for d in documents_for(context, "credit-risk")] == [2, None, None]
    with pytest.raises(InvalidInput, match=r"document kind 'memo' is not one of model_card"):
        attach(context, "credit-risk", "memo", card)
    with pytest.raises(InvalidInput, match=r"is a folder; attach a document file"):
        attach(context, "credit-risk", "other", tmp_path)
    [entry, *_] = list_entries(context.engine, EntryFilter(action="model.document_attached"))
    assert entry.data["kind"] == "model_card" and entry.data["version"] == 2
