"""Evaluating policies on a context: a verdict per rule and one decision.

Each rule gives ``pass``, ``fail`` or ``error`` (it could not be evaluated: missing evidence, a
type error, a result that is not a boolean). What a verdict does to the gate, its *effect*:

========================  ===========  ==========  =================
verdict                   block        warn        require_approval
========================  ===========  ==========  =================
pass                      none         none        none
fail                      block        warning     approval
error                     block        block       block
fail or error, advisory   warning      warning     warning
========================  ===========  ==========  =================

Gates fail closed (DESIGN invariant 4): an error blocks unless the rule is advisory. The
decision is ``blocked`` when any verdict blocks, else ``pending_approval`` when any needs an
approval, else ``passed`` (possibly with warnings). Policies are taken in name order, rules in
the order they are written, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from charter.policy.cel import Environment, Status
from charter.policy.context import CONTEXT_VERSION, check_context
from charter.policy.document import Policy, Rule

Effect = Literal["none", "block", "approval", "warning"]
DecisionOutcome = Literal["passed", "pending_approval", "blocked"]
OUTCOMES: tuple[DecisionOutcome, ...] = ("passed", "pending_approval", "blocked")


@dataclass(frozen=True)
class RuleVerdict:
    policy: str
    rule: str
    verdict: Status
    effect: Effect
    action: str
    severity: str
    advisory: bool
    #: For a fail, the rule's message with its placeholders filled in; for an error, what went wrong.
    message: str
    #: Why it failed or errored: the check that was false, or what was missing.
    reason: str
    error_kind: str | None
    check: str
    references: tuple[str, ...]
    file: str
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "rule": self.rule,
            "verdict": self.verdict,
            "effect": self.effect,
            "action": self.action,
            "severity": self.severity,
            "advisory": self.advisory,
            "message": self.message,
            "reason": self.reason,
            "error_kind": self.error_kind,
            "check": self.check,
            "references": list(self.references),
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True)
class Decision:
    decision: DecisionOutcome
    policies: tuple[str, ...]
    verdicts: tuple[RuleVerdict, ...]
    context_version: str = CONTEXT_VERSION

    def by_effect(self, effect: Effect) -> tuple[RuleVerdict, ...]:
        return tuple(v for v in self.verdicts if v.effect == effect)

    @property
    def blocking(self) -> tuple[RuleVerdict, ...]:
        return self.by_effect("block")

    @property
    def approvals(self) -> tuple[RuleVerdict, ...]:
        return self.by_effect("approval")

    @property
    def warnings(self) -> tuple[RuleVerdict, ...]:
        return self.by_effect("warning")

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "context_version": self.context_version,
            "policies": list(self.policies),
            "counts": {
                status: sum(1 for v in self.verdicts if v.verdict == status) for status in ("pass", "fail", "error")
            },
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def effect(verdict: Status, action: str, advisory: bool) -> Effect:
    """What a verdict does to the gate (the table in this module's docstring)."""
    if verdict == "pass":
        return "none"
    if advisory:
        return "warning"
    if verdict == "error" or action == "block":
        return "block"
    return "approval" if action == "require_approval" else "warning"


def decide(verdicts: Iterable[RuleVerdict]) -> DecisionOutcome:
    effects = {v.effect for v in verdicts}
    if "block" in effects:
        return "blocked"
    return "pending_approval" if "approval" in effects else "passed"


def select_policies(
    policies: Iterable[Policy], *, risk_tier: str, tags: Sequence[str] = (), model: str = "", stage: str = ""
) -> list[Policy]:
    """The policies whose appliesTo matches, in name order."""
    chosen = [p for p in policies if p.applies_to.matches(risk_tier=risk_tier, tags=tags, model=model, stage=stage)]
    return sorted(chosen, key=lambda p: p.name)


def applies(policy: Policy, context: Mapping[str, Any]) -> bool:
    """Whether ``policy``'s appliesTo matches the model and stage of ``context``."""
    model = context.get("model") if isinstance(context.get("model"), dict) else {}
    assert isinstance(model, dict)
    return policy.applies_to.matches(
        risk_tier=str(model.get("risk_tier", "")),
        tags=[str(t) for t in model.get("tags", []) or []],
        model=str(model.get("name", "")),
        stage=str(context.get("stage", "")),
    )


def evaluate_rule(policy: Policy, rule: Rule, env: Environment) -> RuleVerdict:
    outcome = rule.check.check(env)
    status = outcome.status
    message = ""
    reason = outcome.reason
    if status == "fail":
        reason = f"{rule.source} is false"
        message = (rule.message.render(env) if rule.message is not None else "") or reason
    elif status == "error":
        # A template filled from missing evidence would mislead ("AUC n/a is below ..."): say what went wrong.
        message = f"could not evaluate: {reason}"
    return RuleVerdict(
        policy=policy.name,
        rule=rule.name,
        verdict=status,
        effect=effect(status, rule.action, rule.advisory),
        action=rule.action,
        severity=rule.severity,
        advisory=rule.advisory,
        message=message,
        reason=reason,
        error_kind=outcome.error_kind,
        check=rule.source,
        references=rule.references,
        file=policy.file,
        line=rule.line,
    )


def evaluate_policy(policy: Policy, env: Environment) -> list[RuleVerdict]:
    """Every rule of one policy, whether or not it applies."""
    return [evaluate_rule(policy, rule, env) for rule in policy.rules]


def evaluate_policies(policies: Iterable[Policy], context: Mapping[str, Any], *, checked: bool = False) -> Decision:
    """The decision of the applicable policies on ``context`` (checked against the schema unless ``checked``).

    Raises PolicyContextInvalid for a context with undeclared fields or values of the wrong type.
    """
    ready = dict(context) if checked else check_context(context)
    chosen = sorted((p for p in policies if applies(p, ready)), key=lambda p: p.name)
    env = Environment(ready)
    verdicts = tuple(v for policy in chosen for v in evaluate_policy(policy, env))
    return Decision(decide(verdicts), tuple(p.name for p in chosen), verdicts)
