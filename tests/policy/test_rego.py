"""Rego rules through regopy: a real module, the same context as ``input``, the same fail-closed verdicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from charter.errors import PolicyExpressionError
from charter.policy.document import Policy, load_policy, read_policy
from tests.policy.conftest import decide, policy_text

MODULE = """\
language: rego
module: |
  package charter.baseline
  import rego.v1

  default auc_ok := false
  auc_ok if input.evaluation.metrics.roc_auc >= 0.8

  no_regression if not input.champion.metrics
  no_regression if input.evaluation.metrics.roc_auc >= input.champion.metrics.roc_auc - 0.01

  default certified := false
  certified if {
    every d in input.datasets {
      d.certified
      time.parse_rfc3339_ns(d.certification_expires) > time.parse_rfc3339_ns(input.now)
    }
  }

  ratio := input.evaluation.metrics.roc_auc / 0
  score := input.evaluation.metrics.roc_auc
"""

RULES = """\
- name: auc
  query: data.charter.baseline.auc_ok
  message: "ROC AUC {{ evaluation.metrics.roc_auc }} is below 0.8"
- name: no-regression
  query: data.charter.baseline.no_regression
- name: certified
  query: data.charter.baseline.certified
"""


@pytest.fixture
def rego_policy(make_policy: Callable[..., Policy]) -> Policy:
    return make_policy(RULES, name="rego-baseline", spec=MODULE)


def test_a_passing_context(rego_policy: Policy) -> None:
    decision = decide(
        [rego_policy],
        evaluation={"metrics": {"roc_auc": 0.86}},
        datasets=[{"ref": "d@1", "certified": True, "certification_expires": "2027-01-01T00:00:00Z"}],
    )
    assert [(v.rule, v.verdict) for v in decision.verdicts] == [
        ("auc", "pass"),
        ("no-regression", "pass"),
        ("certified", "pass"),
    ]
    assert decision.decision == "passed" and rego_policy.language == "rego"


def test_false_fails_and_the_message_is_a_cel_template(rego_policy: Policy) -> None:
    decision = decide(
        [rego_policy],
        evaluation={"metrics": {"roc_auc": 0.7}},
        datasets=[{"ref": "d@1", "certified": True, "certification_expires": "2025-06-01T00:00:00Z"}],
    )
    auc, _, certified = decision.verdicts
    assert (auc.verdict, auc.message) == ("fail", "ROC AUC 0.7 is below 0.8")
    assert certified.verdict == "fail"
    assert decision.decision == "blocked"


def test_undefined_fails_closed(rego_policy: Policy) -> None:
    decision = decide([rego_policy], evaluation={"metrics": {"roc_auc": 0.86}}, champion={"metrics": {"roc_auc": 0.95}})
    regression = decision.verdicts[1]
    assert (regression.verdict, regression.error_kind, regression.effect) == ("error", "undefined", "block")
    assert regression.reason.startswith("data.charter.baseline.no_regression is undefined: no rule body held")
    assert "default no_regression := false" in regression.reason


def test_a_runtime_error_and_a_non_boolean(make_policy: Callable[..., Policy]) -> None:
    policy = make_policy(
        "- name: ratio\n  query: data.charter.baseline.ratio\n- name: score\n  query: data.charter.baseline.score\n"
        "  advisory: true\n",
        name="odd",
        spec=MODULE,
    )
    ratio, score = decide([policy], evaluation={"metrics": {"roc_auc": 0.86}}).verdicts
    assert (ratio.verdict, ratio.error_kind, ratio.effect) == ("error", "runtime_error", "block")
    assert (score.verdict, score.error_kind, score.effect) == ("error", "not_boolean", "warning")
    assert score.reason == "the query gives double 0.86, not a boolean"


@pytest.mark.parametrize(
    ("change", "by", "message"),
    [
        ("  auc_ok if input", "  auc_ok if {\n    input", "spec.module does not compile (module line"),
        (
            "    package charter.baseline\n",
            "",
            "spec.module does not compile (module line 1): the module has no package",
        ),
        ("query: data.charter.baseline.auc_ok", "query: data.other.auc_ok", "query data.other.auc_ok is not in the"),
        ("query: data.charter.baseline.auc_ok", "query: auc_ok", "query 'auc_ok' must be a rule reference"),
        (
            "  score := input",
            "  score := nosuch(1)\n    x := input",
            "spec.module does not compile (module): Function not",
        ),
    ],
)
def test_rego_that_does_not_compile_is_located(
    write_policy: Callable[..., Path], change: str, by: str, message: str
) -> None:
    text = policy_text(RULES, name="rego-baseline", spec=MODULE)
    assert change in text
    path = write_policy(text.replace(change, by, 1))
    with pytest.raises(PolicyExpressionError) as caught:
        load_policy(path)
    assert message in str(caught.value)


def test_a_module_syntax_error_names_its_file_line(write_policy: Callable[..., Path]) -> None:
    text = policy_text(RULES, name="rego-baseline", spec=MODULE).replace(
        "  auc_ok if input", "  auc_ok if {\n    input"
    )
    path = write_policy(text)
    with pytest.raises(PolicyExpressionError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(
        f"policy {path} line 12: spec.module does not compile (module line 5): this is unclosed"
    )


def test_a_cel_policy_cannot_carry_a_module(write_policy: Callable[..., Path]) -> None:
    from charter.errors import PolicyParseError

    text = policy_text("- name: a\n  expr: 'true'\n", spec="module: 'package x'\n")
    with pytest.raises(PolicyParseError, match=r"spec\.module is only for spec\.language: rego"):
        load_policy(write_policy(text))
    rego_with_expr = policy_text("- name: a\n  expr: 'true'\n", spec=MODULE)
    _, problems = read_policy(write_policy(rego_with_expr))
    assert [p.message for p in problems] == [
        "rule 'a' needs query (a Rego rule reference such as data.charter.example.allow)",
        "unknown field 'expr' in rule 'a' (known: action, advisory, message, name, query, references, severity)",
    ]
