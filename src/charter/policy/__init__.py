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

from charter.policy.context import CONTEXT_VERSION, check_context, merge, neutral_context, sample_context
from charter.policy.document import AppliesTo, Policy, Problem, Rule, load_policy, parse_policy, read_policy
from charter.policy.evaluate import Decision, RuleVerdict, evaluate_policies, select_policies
from charter.policy.lint import lint_paths
from charter.policy.packs import list_packs, load_pack
from charter.policy.testing import CasesReport, run_policy_tests

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
