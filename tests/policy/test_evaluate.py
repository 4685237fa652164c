"""Evaluating policies: verdicts, effects, fail-closed decisions, messages with actual values, selection."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.policy.context import merge, neutral_context
from charter.policy.document import AppliesTo, Policy, Rule
from charter.policy.evaluate import effect, evaluate_policies, select_policies
from tests.policy.conftest import decide

RULES = """\
- name: auc-baseline
  expr: evaluation.metrics.roc_auc >= 0.80
  message: "ROC AUC {{ evaluation.metrics.roc_auc }} on {{ evaluation.dataset }} is below 0.80"
  references: ["EU AI Act Art. 15"]
- name: no-regression
  expr: "!has(champion.metrics) || evaluation.metrics.roc_auc >= champion.metrics.roc_auc - 0.01"
  message: "ROC AUC {{ evaluation.metrics.roc_auc }} < {{ champion.metrics.roc_auc }} - 0.01"
- name: four-fifths
  expr: fairness.all(a, fairness[a].disparate_impact >= 0.8)
  message: "disparate impact below 0.8 for {{ fairness.filter(a, fairness[a].disparate_impact < 0.8).sort() }}"
  action: warn
- name: risk-officer
  expr: approvals.exists(a, a.role == 'risk-officer' && a.principal != requester)
  action: require_approval
"""

GOOD = {
    "evaluation": {"dataset": "holdout@2", "metrics": {"roc_auc": 0.86}},
    "fairness": {"sex": {"disparate_impact": 0.9}},
    "requester": "user:alice",
    "approvals": [{"principal": "user:carol", "role": "risk-officer", "decision": "approved"}],
}


def test_everything_passes(make_policy: Callable[..., Policy]) -> None:
    decision = decide([make_policy(RULES)], **GOOD)
    assert decision.decision == "passed"
    assert [(v.rule, v.verdict, v.effect) for v in decision.verdicts] == [
        ("auc-baseline", "pass", "none"),
        ("no-regression", "pass", "none"),
        ("four-fifths", "pass", "none"),
        ("risk-officer", "pass", "none"),
    ]
    assert all(v.message == "" and v.reason == "" for v in decision.verdicts)


def test_a_failing_block_rule_blocks_and_its_message_shows_the_values(make_policy: Callable[..., Policy]) -> None:
    given_ = merge(GOOD, {"evaluation": {"metrics": {"roc_auc": 0.7612}}})
    decision = decide([make_policy(RULES)], **given_)
    assert decision.decision == "blocked"
    (auc,) = decision.blocking
    assert auc.message == "ROC AUC 0.7612 on holdout@2 is below 0.80"
    assert auc.reason == "evaluation.metrics.roc_auc >= 0.80 is false"
    assert (auc.policy, auc.file.endswith("test-policy.yaml"), auc.line) == ("test-policy", True, 7)
    assert auc.references == ("EU AI Act Art. 15",)


def test_a_regression_against_the_champion(make_policy: Callable[..., Policy]) -> None:
    decision = decide([make_policy(RULES)], **merge(GOOD, {"champion": {"metrics": {"roc_auc": 0.9}}}))
    assert [v.message for v in decision.blocking] == ["ROC AUC 0.86 < 0.9 - 0.01"]


def test_warn_and_require_approval(make_policy: Callable[..., Policy]) -> None:
    given_ = merge(GOOD, {"fairness": {"sex": {"disparate_impact": 0.7}, "age": {"disparate_impact": 0.75}}})
    given_["approvals"] = [{"principal": "user:alice", "role": "risk-officer", "decision": "approved"}]
    decision = decide([make_policy(RULES)], **given_)
    assert decision.decision == "pending_approval"
    assert [v.message for v in decision.warnings] == ["disparate impact below 0.8 for age, sex"]
    assert [v.rule for v in decision.approvals] == ["risk-officer"]


def test_missing_evidence_errors_and_the_gate_fails_closed(make_policy: Callable[..., Policy]) -> None:
    decision = decide([make_policy(RULES)], **merge(GOOD, {"champion": {"metrics": {"accuracy": 0.9}}}))
    assert decision.decision == "blocked"
    (regression,) = decision.blocking
    assert (regression.verdict, regression.error_kind) == ("error", "evidence_missing")
    assert regression.reason == "missing evidence: champion.metrics.roc_auc is missing (champion.metrics has: accuracy)"
    assert regression.message == f"could not evaluate: {regression.reason}"


def test_no_evaluation_at_all_names_what_is_missing(make_policy: Callable[..., Policy]) -> None:
    decision = decide([make_policy(RULES)])
    auc = decision.verdicts[0]
    assert auc.reason == "missing evidence: evaluation is empty, so evaluation.metrics is missing"
    # No champion yet: the regression rule passes, written with has().
    assert decision.verdicts[1].verdict == "pass"


@pytest.mark.parametrize(
    ("expr", "kind", "reason"),
    [
        ("evaluation.metrics", "not_boolean", "the expression gives map roc_auc=0.86, not a boolean"),
        ("model.name > 3", "type_error", "type error: an operator or function got operand types"),
        ("1 / 0 == 1", "runtime_error", "division by zero"),
        ("datasets.all(d, d.certified)", "evidence_missing", "missing evidence: datasets[0].certified is missing"),
        ("nosuch > 1", "evidence_missing", "missing evidence: the context has no field 'nosuch'"),
        ("evaluation.slices['age'].x > 1.0", "evidence_missing", "missing evidence: evaluation.slices is missing"),
    ],
)
def test_error_kinds(make_policy: Callable[..., Policy], expr: str, kind: str, reason: str) -> None:
    policy = make_policy(f"- name: r\n  expr: {expr!r}\n")
    given_ = merge(GOOD, {"datasets": [{"ref": "d@1", "role": "training"}]})
    (verdict,) = decide([policy], **given_).verdicts
    assert (verdict.verdict, verdict.error_kind, verdict.effect) == ("error", kind, "block")
    assert verdict.reason.startswith(reason)


@pytest.mark.parametrize(
    ("verdict", "action", "advisory", "expected"),
    [
        ("pass", "block", False, "none"),
        ("pass", "require_approval", True, "none"),
        ("fail", "block", False, "block"),
        ("fail", "warn", False, "warning"),
        ("fail", "require_approval", False, "approval"),
        ("error", "block", False, "block"),
        ("error", "warn", False, "block"),
        ("error", "require_approval", False, "block"),
        ("fail", "block", True, "warning"),
        ("error", "block", True, "warning"),
        ("fail", "require_approval", True, "warning"),
    ],
)
def test_effects(verdict: str, action: str, advisory: bool, expected: str) -> None:
    assert effect(verdict, action, advisory) == expected  # type: ignore[arg-type]


def test_an_advisory_rule_that_errors_only_warns(make_policy: Callable[..., Policy]) -> None:
    policy = make_policy("- name: r\n  expr: champion.metrics.roc_auc > 0.5\n  advisory: true\n")
    decision = decide([policy])
    assert decision.decision == "passed"
    assert [(v.verdict, v.effect) for v in decision.warnings] == [("error", "warning")]


RULE_OUTCOMES = {"pass": "true", "fail": "false", "error": "evaluation.metrics.roc_auc > 0.5"}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["pass", "fail", "error"]),
            st.sampled_from(["block", "warn", "require_approval"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_blocked_iff_a_non_advisory_rule_fails_a_block_or_errors(rules: list[tuple[str, str, bool]]) -> None:
    from charter.policy.cel import compile_expression

    policy = Policy(
        "p",
        tuple(
            Rule(f"r{i}", compile_expression(RULE_OUTCOMES[outcome]), action, None, advisory=advisory)
            for i, (outcome, action, advisory) in enumerate(rules)
        ),
    )
    decision = evaluate_policies([policy], neutral_context())
    assert [v.verdict for v in decision.verdicts] == [outcome for outcome, _, _ in rules]
    blocks = any(not adv and (out == "error" or (out == "fail" and act == "block")) for out, act, adv in rules)
    approvals = any(not adv and out == "fail" and act == "require_approval" for out, act, adv in rules)
    assert (decision.decision == "blocked") == blocks
    assert (decision.decision == "pending_approval") == (not blocks and approvals)


def test_selection_by_applies_to() -> None:
    def policy(name: str, **applies: tuple[str, ...]) -> Policy:
        return Policy(name, (), AppliesTo(**applies))

    policies = [
        policy("z-any"),
        policy("high", risk_tier=("high",)),
        policy("prod", stage=("prod",)),
        policy("lending", tags=("lending", "credit")),
        policy("credit-risk", models=("credit-risk",)),
        policy("high-prod", risk_tier=("high",), stage=("prod",)),
    ]

    def names(**target: object) -> list[str]:
        return [p.name for p in select_policies(policies, **target)]  # type: ignore[arg-type]

    assert names(risk_tier="high", stage="prod", model="m", tags=[]) == ["high", "high-prod", "prod", "z-any"]
    assert names(risk_tier="minimal", stage="staging", model="credit-risk", tags=["credit"]) == [
        "credit-risk",
        "lending",
        "z-any",
    ]


def test_only_applicable_policies_are_evaluated_in_name_order(make_policy: Callable[..., Policy]) -> None:
    high = make_policy("- name: r\n  expr: 'false'\n", name="b-high", spec="appliesTo: {riskTier: [high]}\n")
    everyone = make_policy("- name: r\n  expr: 'true'\n", name="a-all")
    low = decide([high, everyone], model={"risk_tier": "minimal"})
    assert (low.decision, low.policies) == ("passed", ("a-all",))
    high_risk = decide([high, everyone], model={"risk_tier": "high"})
    assert (high_risk.decision, high_risk.policies) == ("blocked", ("a-all", "b-high"))
    assert [v.policy for v in high_risk.verdicts] == ["a-all", "b-high"]


def test_decisions_serialise(make_policy: Callable[..., Policy]) -> None:
    data = decide([make_policy(RULES)], **GOOD).to_dict()
    assert data["decision"] == "passed" and data["context_version"] == "charter.dev/context/v1"
    assert data["counts"] == {"pass": 4, "fail": 0, "error": 0}
    assert data["verdicts"][0]["rule"] == "auc-baseline" and data["verdicts"][0]["references"] == ["EU AI Act Art. 15"]


def test_a_context_that_breaks_the_schema_is_refused_before_evaluation(make_policy: Callable[..., Policy]) -> None:
    from charter.errors import PolicyContextInvalid

    with pytest.raises(PolicyContextInvalid):
        evaluate_policies([make_policy(RULES)], {**neutral_context(), "evaluaton": {}})
