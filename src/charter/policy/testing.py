"""``charter policy test``: run each policy's cases with their expected verdicts, as ``opa test`` does.

A policy folder holds ``<id>.yaml`` (the policy) and ``cases.yaml``::

    defaults:                      # optional: merged into every case's input first
      model: {risk_tier: high}
    cases:
      - name: good-model-passes
        input:                     # merged over the neutral base context
          evaluation: {metrics: {roc_auc: 0.91}}
        expect:
          decision: passed         # passed | pending_approval | blocked
          rules:
            auc-baseline: pass     # pass | fail | error
            no-regression: {verdict: error, error_kind: evidence_missing, message: "champion"}
          applies: true            # whether appliesTo matches this context
      - name: a metric must be a number
        input: {evaluation: {metrics: {roc_auc: high}}}
        expect: {error: policy.context_invalid}

A case's context is ``merge(merge(neutral_context(), defaults), input)``
(:func:`charter.policy.context.merge`: mappings merge key by key, anything else replaces).
Every rule of the policy is evaluated, whether or not ``appliesTo`` matches; ``applies``
checks the match. ``message`` expects a substring of the rendered message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.errors import CharterError, PolicyCasesInvalid
from charter.policy.cel import ERROR_KINDS, Environment
from charter.policy.context import check_context, merge, neutral_context
from charter.policy.document import Policy, load_policy
from charter.policy.evaluate import OUTCOMES, RuleVerdict, applies, decide, evaluate_policy
from charter.policy.files import CASES
from charter.yamlfile import Lines, compose_file, known, to_python

FILE_FIELDS = ("defaults", "cases")
CASE_FIELDS = ("name", "input", "expect")
EXPECT_FIELDS = ("decision", "rules", "applies", "error")
RULE_EXPECT_FIELDS = ("verdict", "error_kind", "effect", "message")
VERDICTS = ("pass", "fail", "error")


@dataclass(frozen=True)
class CaseResult:
    policy: str
    case: str
    file: str
    line: int
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "case": self.case,
            "file": self.file,
            "line": self.line,
            "passed": self.passed,
            "failures": list(self.failures),
        }


@dataclass(frozen=True)
class CasesReport:
    results: tuple[CaseResult, ...]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "passed": self.passed,
            "failed": self.failed,
            "results": [r.to_dict() for r in self.results],
        }


def policy_folders(paths: Sequence[Path]) -> list[Path]:
    """Every folder under ``paths`` (or named by them) that holds a cases file, in path order."""
    folders: set[Path] = set()
    for path in paths:
        if not path.is_dir():
            raise PolicyCasesInvalid(f"{path} is not a folder")
        for name in CASES:
            folders.update(found.parent for found in path.rglob(name))
    if not folders:
        raise PolicyCasesInvalid(f"no policy folders with a cases.yaml under {', '.join(map(str, paths))}")
    return sorted(folders)


def run_policy_tests(*paths: Path) -> CasesReport:
    """Run the cases of every policy folder under ``paths``."""
    results: list[CaseResult] = []
    for folder in policy_folders(paths):
        results.extend(run_folder(folder))
    return CasesReport(tuple(results))


def run_folder(folder: Path, *, label: str | None = None) -> list[CaseResult]:
    """The cases of one policy folder; a policy or cases file that cannot be read is one failing result."""
    shown = label or str(folder)
    cases_file = next(folder / name for name in CASES if (folder / name).is_file())
    policy_file = next(
        (folder / f"{folder.name}{s}" for s in (".yaml", ".yml") if (folder / f"{folder.name}{s}").is_file()), None
    )
    if policy_file is None:
        return [CaseResult(folder.name, "", shown, 0, (f"no policy file {folder.name}.yaml beside {cases_file.name}",))]
    try:
        policy = load_policy(policy_file, label=f"{shown}/{policy_file.name}")
        defaults, cases, lines = _read_cases(cases_file, f"{shown}/{cases_file.name}")
    except CharterError as exc:
        return [CaseResult(folder.name, "", shown, 0, (f"{exc.code}: {exc}",))]
    file = f"{shown}/{cases_file.name}"
    return [_run_case(policy, defaults, case, file, lines, i) for i, case in enumerate(cases)]


def _read_cases(file: Path, label: str) -> tuple[dict[str, Any], list[dict[str, Any]], Lines]:
    def error(where: str, line: int | None, message: str) -> CharterError:
        return PolicyCasesInvalid(message if line is None else f"{where} line {line}: {message}")

    nodes = compose_file(file, label=label, error=error)
    if len(nodes) != 1:
        raise PolicyCasesInvalid(f"{label}: expected one YAML document with cases, found {len(nodes)}")
    value, lines = to_python(nodes[0], label=label, error=error)

    def fail(path: tuple[str, ...], message: str) -> PolicyCasesInvalid:
        return PolicyCasesInvalid(f"{label} line {lines.get(path, 1)}: {message}")

    if not isinstance(value, dict):
        raise fail((), "cases.yaml must be a mapping with cases (and optionally defaults)")
    for key in value:
        if key not in FILE_FIELDS:
            raise fail((key,), f"unknown field {key!r} {known(FILE_FIELDS)}")
    defaults = value.get("defaults") or {}
    cases = value.get("cases")
    if not isinstance(defaults, dict):
        raise fail(("defaults",), "defaults must be a mapping (merged into every case's input)")
    if not isinstance(cases, list) or not cases:
        raise fail(("cases",) if "cases" in value else (), "cases must be a non-empty list")
    names: set[str] = set()
    for i, case in enumerate(cases):
        path = ("cases", str(i))
        if not isinstance(case, dict):
            raise fail(path, f"case {i + 1} must be a mapping with name, input, expect")
        for key in case:
            if key not in CASE_FIELDS:
                raise fail((*path, key), f"unknown field {key!r} in case {i + 1} {known(CASE_FIELDS)}")
        name = case.get("name")
        if not isinstance(name, str) or not name or name in names:
            raise fail(path, f"case {i + 1} needs a name of its own, not {name!r}")
        names.add(name)
        if not isinstance(case.get("input", {}), dict):
            raise fail((*path, "input"), f"input of case {name!r} must be a mapping (merged over the base context)")
        _check_expect(case.get("expect"), (*path, "expect"), name, fail)
    return defaults, cases, lines


def _check_expect(expect: Any, path: tuple[str, ...], name: str, fail: Any) -> None:
    if not isinstance(expect, dict) or not expect:
        raise fail(path, f"case {name!r} needs expect with decision, rules, applies or error")
    for key in expect:
        if key not in EXPECT_FIELDS:
            raise fail((*path, key), f"unknown field {key!r} in expect of case {name!r} {known(EXPECT_FIELDS)}")
    if "decision" in expect and expect["decision"] not in OUTCOMES:
        raise fail((*path, "decision"), f"decision must be one of {', '.join(OUTCOMES)}, not {expect['decision']!r}")
    if "applies" in expect and not isinstance(expect["applies"], bool):
        raise fail((*path, "applies"), "applies must be true or false")
    rules = expect.get("rules", {})
    if not isinstance(rules, dict):
        raise fail((*path, "rules"), "rules must map rule names to pass, fail or error")
    for rule, wanted in rules.items():
        spec = wanted if isinstance(wanted, dict) else {"verdict": wanted}
        for key in spec:
            if key not in RULE_EXPECT_FIELDS:
                raise fail(
                    (*path, "rules", rule, key), f"unknown field {key!r} for rule {rule!r} {known(RULE_EXPECT_FIELDS)}"
                )
        if spec.get("verdict") not in VERDICTS:
            raise fail((*path, "rules", rule), f"verdict of rule {rule!r} must be pass, fail or error")
        if spec.get("error_kind") not in (None, *ERROR_KINDS):
            raise fail((*path, "rules", rule), f"error_kind of rule {rule!r} must be one of {', '.join(ERROR_KINDS)}")


def _run_case(
    policy: Policy, defaults: dict[str, Any], case: dict[str, Any], file: str, lines: Lines, index: int
) -> CaseResult:
    expect: dict[str, Any] = case["expect"]
    line = lines.get(("cases", str(index)), 1)
    failures: list[str] = []
    try:
        context = check_context(merge(merge(neutral_context(), defaults), case.get("input") or {}))
    except CharterError as exc:
        if expect.get("error") != exc.code:
            failures.append(f"unexpected error {exc.code}: {exc}")
        return CaseResult(policy.name, case["name"], file, line, tuple(failures))
    if "error" in expect:
        failures.append(f"expected error {expect['error']}, but the context was accepted")
    verdicts = {v.rule: v for v in evaluate_policy(policy, Environment(context))}
    if "applies" in expect and applies(policy, context) != expect["applies"]:
        failures.append(f"applies: expected {str(expect['applies']).lower()}, got {str(not expect['applies']).lower()}")
    for rule, wanted in (expect.get("rules") or {}).items():
        failures.extend(_rule_failures(rule, wanted if isinstance(wanted, dict) else {"verdict": wanted}, verdicts))
    if "decision" in expect:
        decision = decide(verdicts.values())
        if decision != expect["decision"]:
            why = ", ".join(f"{v.rule}: {v.verdict} -> {v.effect}" for v in verdicts.values() if v.effect != "none")
            failures.append(f"decision: expected {expect['decision']}, got {decision} ({why or 'every rule passed'})")
    return CaseResult(policy.name, case["name"], file, line, tuple(failures))


def _rule_failures(rule: str, wanted: dict[str, Any], verdicts: dict[str, RuleVerdict]) -> list[str]:
    got = verdicts.get(rule)
    if got is None:
        return [f"rule {rule!r}: the policy has no such rule (rules: {', '.join(verdicts)})"]
    failures: list[str] = []
    if got.verdict != wanted["verdict"]:
        detail = f" ({got.reason})" if got.reason else ""
        failures.append(f"rule {rule!r}: expected {wanted['verdict']}, got {got.verdict}{detail}")
    for key in ("error_kind", "effect"):
        if key in wanted and getattr(got, key) != wanted[key]:
            failures.append(f"rule {rule!r}: expected {key} {wanted[key]}, got {getattr(got, key)}")
    if "message" in wanted and str(wanted["message"]) not in got.message:
        failures.append(f"rule {rule!r}: expected the message to contain {wanted['message']!r}, got {got.message!r}")
    return failures
