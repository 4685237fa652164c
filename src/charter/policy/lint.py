"""``charter policy lint``: every problem of every policy file, located, without stopping at the first.

Beyond what reading a policy checks (unknown fields, wrong types, CEL that does not parse,
Rego that does not compile), lint checks each expression against the context schema:

- every field path it reads must exist: ``unknown field 'evaluation.metrics.auc' (known:
  accuracy, ...)``; dotted metric names must be ones Charter computes (index a metric of your
  own: ``evaluation.metrics['my_metric']``);
- it must evaluate to a boolean on a fully populated sample context: a type error
  (``model.name > 3``) or a non-boolean result is reported;
- message placeholders get the same checks;
- a Rego rule's query must name a rule its module defines, and ``input.`` paths in the module
  must exist in the context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from charter.policy.cel import Environment, Expression
from charter.policy.context import SCHEMA, sample_context
from charter.policy.document import EXPRESSION, Policy, Problem, read_policy
from charter.policy.files import find_policy_files
from charter.policy.paths import extend_sample, schema_problems

_INPUT_PATH = re.compile(r"\binput((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def policy_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """The policy files named or found under folders (``cases.yaml`` files are not policies)."""
    files, missing = find_policy_files(paths)
    return files, [Problem(str(path), 0, reason) for path, reason in missing]


def lint_paths(paths: Sequence[Path]) -> list[Problem]:
    """Every problem in the policy files and folders given, in file and line order."""
    files, problems = policy_files(paths)
    names: dict[str, str] = {}
    for file in files:
        policy, found = _lint(file, None)
        problems.extend(found)
        if policy is not None and policy.name:
            if policy.name in names:
                problems.append(
                    Problem(str(file), policy.line, f"policy name {policy.name!r} is also used by {names[policy.name]}")
                )
            names.setdefault(policy.name, str(file))
    return problems


def lint_file(file: Path, *, label: str | None = None) -> list[Problem]:
    """Every problem of one policy file, in line order."""
    return _lint(file, label)[1]


def _lint(file: Path, label: str | None) -> tuple[Policy | None, list[Problem]]:
    policy, problems = read_policy(file, label=label, partial=True)
    if policy is not None:
        problems.extend(lint_policy(policy))
    return policy, sorted(problems, key=lambda p: p.line)


def lint_policy(policy: Policy) -> list[Problem]:
    """The context checks of one (parsed) policy."""
    problems: list[Problem] = _module_problems(policy) if policy.language == "rego" else []
    for rule in policy.rules:
        where = f"rule {rule.name!r}"
        if isinstance(rule.check, Expression):
            for message in expression_problems(rule.check, must_be_bool=True):
                problems.append(Problem(policy.file, rule.check_line, f"{where}: {message}", EXPRESSION))
        else:
            problems.extend(_query_problems(policy, rule.name, rule.source, rule.check_line))
        for part in rule.message.parts if rule.message is not None else ():
            if isinstance(part, Expression):
                for message in expression_problems(part, must_be_bool=False):
                    text = f"{where}: message placeholder {{{{ {part.source} }}}}: {message}"
                    problems.append(Problem(policy.file, rule.message_line, text, EXPRESSION))
    return problems


def expression_problems(expression: Expression, *, must_be_bool: bool) -> list[str]:
    """Unknown context fields in ``expression``, then what evaluating it on a full sample context gives."""
    found = schema_problems(expression.source, SCHEMA)
    if found:
        return found
    context = sample_context()
    extend_sample(context, expression.source, SCHEMA)
    env = Environment(context)
    if must_be_bool:
        outcome = expression.check(env)
        if outcome.status == "error":
            return [f"does not evaluate on a complete context: {outcome.reason}"]
        return []
    try:
        expression.value(env)
    except Exception as exc:
        from charter.policy.cel import explain

        return [f"does not evaluate on a complete context: {explain(exc, expression.source, context).reason}"]
    return []


def _query_problems(policy: Policy, rule: str, query: str, line: int) -> list[Problem]:
    from charter.policy.rego import package_of, rule_names

    package = package_of(policy.module) or ""
    defined = rule_names(policy.module)
    name = query[len(f"data.{package}.") :].split(".")[0]
    if not name or name in defined:
        return []
    known = ", ".join(sorted(defined)) or "none"
    message = f"rule {rule!r}: {query} names no rule of the module (rules: {known})"
    return [Problem(policy.file, line, message, EXPRESSION)]


def _module_problems(policy: Policy) -> list[Problem]:
    """``input.`` paths of a Rego module that the context does not have."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for match in _INPUT_PATH.finditer(policy.module):
        path = match.group(1)[1:]
        for message in schema_problems(path, SCHEMA):
            text = "spec.module: " + message.replace("'", "'input.", 1)
            if text not in seen:
                seen.add(text)
                # The module's block starts on the line after `module: |`.
                module_line = policy.module.count("\n", 0, match.start()) + 1
                problems.append(Problem(policy.file, policy.module_line + module_line, text, EXPRESSION))
    return problems
