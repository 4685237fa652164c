"""Policy documents: YAML ``kind: Policy`` read into compiled rules, every problem located.

::

    apiVersion: charter.dev/v1
    kind: Policy
    metadata: {name: high-risk-deploy, description: ..., labels: {team: risk}}
    spec:
      appliesTo: {riskTier: [high], tags: [], models: [], stage: [prod]}
      rules:
        - name: auc-baseline
          expr: evaluation.metrics.roc_auc >= 0.80
          action: block            # block | warn | require_approval
          message: "AUC {{ evaluation.metrics.roc_auc }} is below 0.80"
          severity: high           # low | medium | high | critical
          advisory: false
          references: ["EU AI Act Art. 15"]

Reading collects every problem (:class:`Problem`: file, line, message, code) rather than stopping
at the first, so lint can list them all; :func:`load_policy` raises the first as a
:class:`~charter.errors.PolicyParseError` or :class:`~charter.errors.PolicyExpressionError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from charter.errors import CharterError, PolicyExpressionError, PolicyParseError
from charter.policy.cel import Environment, Outcome, Template, compile_expression, compile_template
from charter.policy.document_fields import Reader
from charter.vocabulary import RISK_TIERS
from charter.yamlfile import compose_file, compose_text, start_line, to_python

API_VERSION = "charter.dev/v1"
KIND = "Policy"
ACTIONS = ("block", "warn", "require_approval")
SEVERITIES = ("low", "medium", "high", "critical")
LANGUAGES = ("cel", "rego")
PARSE = "policy.parse_error"
EXPRESSION = "policy.expression_error"
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?")

TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS = ("name", "description", "labels")
SPEC_FIELDS = ("appliesTo", "rules", "language", "module")
APPLIES_FIELDS = ("riskTier", "tags", "models", "stage")
RULE_FIELDS = {
    "cel": ("name", "expr", "action", "message", "severity", "advisory", "references"),
    "rego": ("name", "query", "action", "message", "severity", "advisory", "references"),
}


class Check(Protocol):
    """What a rule evaluates: a CEL expression or a Rego query."""

    @property
    def source(self) -> str: ...

    def check(self, env: Environment) -> Outcome: ...


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file, where it is, and the error code it raises as."""

    file: str
    line: int
    message: str
    code: str = PARSE

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"

    def error(self) -> CharterError:
        cls = PolicyExpressionError if self.code == EXPRESSION else PolicyParseError
        where = f"{self.file} line {self.line}" if self.line else self.file
        return cls(f"policy {where}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message, "code": self.code}


@dataclass(frozen=True)
class AppliesTo:
    """Which versions a policy gates; an empty list matches anything."""

    risk_tier: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    stage: tuple[str, ...] = ()

    def matches(self, *, risk_tier: str, tags: Sequence[str], model: str, stage: str) -> bool:
        return (
            (not self.risk_tier or risk_tier in self.risk_tier)
            and (not self.tags or any(tag in self.tags for tag in tags))
            and (not self.models or model in self.models)
            and (not self.stage or stage in self.stage)
        )

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "riskTier": list(self.risk_tier),
            "tags": list(self.tags),
            "models": list(self.models),
            "stage": list(self.stage),
        }


@dataclass(frozen=True)
class Rule:
    name: str
    check: Check = field(repr=False, compare=False)
    action: str = "block"
    message: Template | None = field(default=None, repr=False, compare=False)
    severity: str = "medium"
    advisory: bool = False
    references: tuple[str, ...] = ()
    line: int = 0
    #: Lines of the rule's expr (or query) and message, for lint.
    check_line: int = 0
    message_line: int = 0

    @property
    def source(self) -> str:
        return self.check.source

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check.source,
            "action": self.action,
            "message": self.message.text if self.message is not None else "",
            "severity": self.severity,
            "advisory": self.advisory,
            "references": list(self.references),
        }


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    applies_to: AppliesTo = AppliesTo()
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    language: str = "cel"
    module: str = ""
    file: str = ""
    line: int = 0
    module_line: int = 0

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "labels": dict(self.labels),
            "appliesTo": self.applies_to.to_dict(),
            "language": self.language,
            "rules": [rule.to_dict() for rule in self.rules],
            "file": self.file,
        }


def read_policy(path: Path, *, label: str | None = None, partial: bool = False) -> tuple[Policy | None, list[Problem]]:
    """The policy in a file and every problem found.

    The policy is None when there are problems, unless ``partial``: then it holds what could be
    read (the rules that compiled), for lint to check further.
    """
    name = str(path) if label is None else label
    captured: list[Problem] = []

    def capture(where: str, line: int | None, message: str) -> CharterError:
        # A file-level message names the file itself; the problem names it already.
        text = message if line is not None else message.replace(where, "the file", 1)
        captured.append(Problem(where, line or 0, text))
        return captured[-1].error()

    try:
        nodes = compose_file(path, label=name, error=capture)
    except CharterError:
        return None, captured[-1:]
    return _from_nodes(nodes, name, capture, captured, partial)


def parse_policy(text: str, *, file: str = "<policy>") -> tuple[Policy | None, list[Problem]]:
    """The policy in YAML ``text``; ``file`` names it in problems."""
    captured: list[Problem] = []

    def capture(where: str, line: int | None, message: str) -> CharterError:
        captured.append(Problem(where, line or 0, message))
        return captured[-1].error()

    try:
        nodes = compose_text(text, label=file, error=capture)
    except CharterError:
        return None, captured[-1:]
    return _from_nodes(nodes, file, capture, captured)


def load_policy(path: Path, *, label: str | None = None) -> Policy:
    """The policy in a file; the first problem raises (PolicyParseError or PolicyExpressionError)."""
    policy, problems = read_policy(path, label=label)
    if problems or policy is None:
        raise (problems[0] if problems else Problem(str(path), 1, "no policy")).error()
    return policy


def _from_nodes(
    nodes: list[Any], file: str, capture: Any, captured: list[Problem], partial: bool = False
) -> tuple[Policy | None, list[Problem]]:
    if len(nodes) != 1:
        found = "is empty" if not nodes else f"holds {len(nodes)} documents"
        line = start_line(nodes[1]) if len(nodes) > 1 else 1
        return None, [Problem(file, line, f"a policy file holds one Policy document; this file {found}")]
    try:
        value, lines = to_python(nodes[0], label=file, error=capture)
    except CharterError:
        return None, captured[-1:]
    reader = Reader(file, lines, start_line(nodes[0]))
    policy = _policy(value, reader)
    problems = sorted((Problem(*p) for p in reader.problems), key=lambda p: p.line)
    return (policy if partial or not problems else None), problems


def _policy(value: Any, r: Reader) -> Policy | None:
    if not isinstance(value, dict):
        r.problem((), "a policy must be a mapping with apiVersion, kind, metadata, spec")
        return None
    r.fields(value, (), TOP_FIELDS, "")
    if value.get("apiVersion") != API_VERSION:
        r.problem(("apiVersion",), f"apiVersion must be {API_VERSION!r}, not {value.get('apiVersion')!r}")
    if value.get("kind") != KIND:
        r.problem(("kind",), f"kind must be {KIND!r}, not {value.get('kind')!r}")
    metadata = r.mapping(value.get("metadata"), ("metadata",), "metadata", required=True)
    r.fields(metadata, ("metadata",), METADATA_FIELDS, " in metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not SLUG.fullmatch(name):
        r.problem(("metadata", "name"), f"metadata.name must be a slug such as high-risk-deploy, not {name!r}")
        name = ""
    description = r.string(metadata.get("description", ""), ("metadata", "description"), "metadata.description")
    labels = r.mapping(metadata.get("labels"), ("metadata", "labels"), "metadata.labels")
    for key, label in labels.items():
        if not isinstance(label, str):
            r.problem(("metadata", "labels", key), f"label {key!r} must be a string, not {label!r}")
    spec = r.mapping(value.get("spec"), ("spec",), "spec", required=True)
    r.fields(spec, ("spec",), SPEC_FIELDS, " in spec")
    language = spec.get("language", "cel")
    if language not in LANGUAGES:
        r.problem(("spec", "language"), f"spec.language must be cel or rego, not {language!r}")
        language = "cel"
    module = _module(spec, language, r)
    rules = _rules(spec, language, module, r)
    return Policy(
        name=name,
        rules=tuple(rules),
        applies_to=_applies_to(spec, r),
        description=description,
        labels={k: str(v) for k, v in labels.items()},
        language=language,
        module=spec.get("module", "") if isinstance(spec.get("module"), str) else "",
        file=r.file,
        line=r.start,
        module_line=r.line(("spec", "module")) if "module" in spec else 0,
    )


def _applies_to(spec: dict[str, Any], r: Reader) -> AppliesTo:
    path = ("spec", "appliesTo")
    applies = r.mapping(spec.get("appliesTo"), path, "spec.appliesTo")
    r.fields(applies, path, APPLIES_FIELDS, " in spec.appliesTo")
    lists = {key: r.strings(applies.get(key, []), (*path, key), f"spec.appliesTo.{key}") for key in APPLIES_FIELDS}
    for tier in lists["riskTier"]:
        if tier not in RISK_TIERS:
            r.problem((*path, "riskTier"), f"spec.appliesTo.riskTier: {tier!r} is not one of {', '.join(RISK_TIERS)}")
    return AppliesTo(lists["riskTier"], lists["tags"], lists["models"], lists["stage"])


def _module(spec: dict[str, Any], language: str, r: Reader) -> Any:
    source = spec.get("module")
    if language == "cel":
        if source is not None:
            r.problem(("spec", "module"), "spec.module is only for spec.language: rego")
        return None
    if not isinstance(source, str) or not source.strip():
        r.problem(("spec",), "a Rego policy needs spec.module: the Rego module, as a block (module: |)")
        return None
    from charter.policy.rego import RegoCompileError, RegoModule

    try:
        return RegoModule(source, name=f"{r.file}.rego")
    except RegoCompileError as exc:
        at = r.line(("spec", "module")) + (exc.line or 0)
        where = f"module line {exc.line}" if exc.line else "module"
        r.problem_at(at, f"spec.module does not compile ({where}): {exc.message}", EXPRESSION)
        return None


def _rules(spec: dict[str, Any], language: str, module: Any, r: Reader) -> list[Rule]:
    items = spec.get("rules")
    if not isinstance(items, list) or not items:
        r.problem(("spec", "rules") if "rules" in spec else ("spec",), "spec.rules must be a non-empty list of rules")
        return []
    known = RULE_FIELDS[language]
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = ("spec", "rules", str(i))
        if not isinstance(item, dict):
            r.problem(path, f"rule {i + 1} must be a mapping with {', '.join(known[:3])}, ...")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            r.problem((*path, "name") if "name" in item else path, f"rule {i + 1} needs a name (a slug), not {name!r}")
            name = f"#{i + 1}"
        elif name in seen:
            r.problem((*path, "name"), f"rule name {name!r} appears twice (also on line {seen[name]})")
        seen.setdefault(name, r.line(path))
        r.fields(item, path, known, f" in rule {name!r}")
        rule = _rule(item, name, path, language, module, r)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(item: dict[str, Any], name: str, path: tuple[str, ...], language: str, module: Any, r: Reader) -> Rule | None:
    action = r.choice(item.get("action", "block"), (*path, "action"), f"action of rule {name!r}", ACTIONS)
    severity = r.choice(item.get("severity", "medium"), (*path, "severity"), f"severity of rule {name!r}", SEVERITIES)
    advisory = item.get("advisory", False)
    if not isinstance(advisory, bool):
        r.problem((*path, "advisory"), f"advisory of rule {name!r} must be true or false, not {advisory!r}")
        advisory = False
    references = r.strings(item.get("references", []), (*path, "references"), f"references of rule {name!r}")
    message_text = r.string(item.get("message", ""), (*path, "message"), f"message of rule {name!r}")
    try:
        message = compile_template(message_text)
    except ValueError as exc:
        r.problem((*path, "message"), f"rule {name!r}: message {exc}", EXPRESSION)
        message = None
    check = _check(item, name, path, language, module, r)
    if check is None:
        return None
    key = "expr" if language == "cel" else "query"
    return Rule(
        name,
        check,
        action,
        message,
        severity,
        advisory,
        references,
        line=r.line(path),
        check_line=r.line((*path, key)),
        message_line=r.line((*path, "message")),
    )


def _check(item: dict[str, Any], name: str, path: tuple[str, ...], language: str, module: Any, r: Reader) -> Any:
    key = "expr" if language == "cel" else "query"
    source = item.get(key)
    if isinstance(source, bool | int | float) and language == "cel":
        source = str(source).lower()
    if not isinstance(source, str) or not source.strip():
        what = "a CEL expression" if language == "cel" else "a Rego rule reference such as data.charter.example.allow"
        r.problem((*path, key) if key in item else path, f"rule {name!r} needs {key} ({what})")
        return None
    if language == "cel":
        try:
            return compile_expression(source)
        except ValueError as exc:
            r.problem((*path, key), f"rule {name!r}: expr does not compile: {exc}", EXPRESSION)
            return None
    if module is None:
        return None
    from charter.policy.rego import RegoCompileError, compile_query

    try:
        return compile_query(source, module)
    except RegoCompileError as exc:
        r.problem((*path, key), f"rule {name!r}: {exc.message}", EXPRESSION)
        return None
