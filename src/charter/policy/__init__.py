"""Policy as code: YAML policy documents, CEL (or Rego) rules, the evaluation context, policy tests.

- :mod:`~charter.policy.document`: reading ``kind: Policy`` files, every problem located;
- :mod:`~charter.policy.context`: the versioned evaluation context a rule sees;
- :mod:`~charter.policy.evaluate`: verdicts per rule and the gate's decision (fail closed);
- :mod:`~charter.policy.lint`, :mod:`~charter.policy.testing`: ``charter policy lint`` and ``test``;
- :mod:`~charter.policy.packs`: the packs shipped with Charter;
- :mod:`~charter.policy.rego`: Rego modules through regopy.

This layer sits below the services: it reads files and evaluates, and never touches the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from charter.policy.context import CONTEXT_VERSION, check_context, merge, neutral_context, sample_context
    from charter.policy.document import AppliesTo, Policy, Problem, Rule, load_policy, parse_policy, read_policy
    from charter.policy.evaluate import Decision, RuleVerdict, evaluate_policies, select_policies
    from charter.policy.lint import lint_paths
    from charter.policy.packs import list_packs, load_pack
    from charter.policy.testing import CasesReport, run_policy_tests

#: Where each exported name lives: loaded on first use, so that a submodule (the reports a
#: remote gate prints, the file finder) can be imported without the YAML and CEL machinery.
_EXPORTS = {
    "context": ("CONTEXT_VERSION", "check_context", "merge", "neutral_context", "sample_context"),
    "document": ("AppliesTo", "Policy", "Problem", "Rule", "load_policy", "parse_policy", "read_policy"),
    "evaluate": ("Decision", "RuleVerdict", "evaluate_policies", "select_policies"),
    "lint": ("lint_paths",),
    "packs": ("list_packs", "load_pack"),
    "testing": ("CasesReport", "run_policy_tests"),
}
_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _MODULE:
        raise AttributeError(f"module 'charter.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(f"charter.policy.{_MODULE[name]}"), name)


__all__ = [
    "CONTEXT_VERSION",
    "AppliesTo",
    "CasesReport",
    "Decision",
    "Policy",
    "Problem",
    "Rule",
    "RuleVerdict",
    "check_context",
    "evaluate_policies",
    "lint_paths",
    "list_packs",
    "load_pack",
    "load_policy",
    "merge",
    "neutral_context",
    "parse_policy",
    "read_policy",
    "run_policy_tests",
    "sample_context",
    "select_policies",
]
