"""Reading policy documents: every problem located by file, line and field, with the fields that exist."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from charter.errors import PolicyExpressionError, PolicyParseError, all_error_classes
from charter.policy.document import load_policy, parse_policy, read_policy
from tests.policy.conftest import policy_text

ROOT = Path(__file__).resolve().parents[2]

GOOD = policy_text(
    """\
    - name: auc-baseline
      expr: evaluation.metrics.roc_auc >= 0.80
      message: "AUC {{ evaluation.metrics.roc_auc }} is below 0.80"
      severity: high
      references: ["EU AI Act Art. 15"]
    - name: risk-officer
      expr: approvals.exists(a, a.role == 'risk-officer')
      action: require_approval
      advisory: true
    """,
    name="high-risk",
    spec="""\
    appliesTo: {riskTier: [high], stage: prod}
    """,
)


def test_a_policy_is_read_with_its_defaults(write_policy: Callable[..., Path]) -> None:
    policy = load_policy(write_policy(GOOD, "high-risk.yaml"))
    assert policy.name == "high-risk"
    assert policy.applies_to.risk_tier == ("high",) and policy.applies_to.stage == ("prod",)
    auc, officer = policy.rules
    assert (auc.name, auc.action, auc.severity, auc.advisory) == ("auc-baseline", "block", "high", False)
    assert auc.references == ("EU AI Act Art. 15",)
    assert auc.source == "evaluation.metrics.roc_auc >= 0.80"
    assert (auc.line, auc.check_line, auc.message_line) == (8, 9, 10)
    assert (officer.action, officer.severity, officer.advisory) == ("require_approval", "medium", True)
    assert policy.to_dict()["rules"][1]["check"] == "approvals.exists(a, a.role == 'risk-officer')"


@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        (
            "      severity: high\n",
            "      severity: high\n      acton: block\n",
            12,
            "unknown field 'acton' in rule 'auc-baseline' "
            "(known: action, advisory, expr, message, name, references, severity)",
        ),
        (
            "apiVersion: charter.dev/v1",
            "apiVersion: charter.dev/v2",
            1,
            "apiVersion must be 'charter.dev/v1', not 'charter.dev/v2'",
        ),
        ("kind: Policy", "kind: Polcy", 2, "kind must be 'Policy', not 'Polcy'"),
        (
            "  name: high-risk",
            "  name: High Risk",
            4,
            "metadata.name must be a slug such as high-risk-deploy, not 'High Risk'",
        ),
        (
            "  appliesTo:",
            "  appliesTO:",
            6,
            "unknown field 'appliesTO' in spec (known: appliesTo, language, module, rules)",
        ),
        (
            "riskTier: [high]",
            "riskTier: [hgh]",
            6,
            "spec.appliesTo.riskTier: 'hgh' is not one of minimal, limited, high, prohibited",
        ),
        (
            "      severity: high",
            "      severity: hgh",
            11,
            "severity of rule 'auc-baseline' must be one of low, medium, high, critical, not 'hgh'",
        ),
        (
            "      action: require_approval",
            "      action: approve",
            15,
            "action of rule 'risk-officer' must be one of block, warn, require_approval, not 'approve'",
        ),
        (
            "      advisory: true",
            "      advisory: yes please",
            16,
            "advisory of rule 'risk-officer' must be true or false, not 'yes please'",
        ),
        ("- name: risk-officer", "- name: auc-baseline", 13, "rule name 'auc-baseline' appears twice (also on line 8)"),
        (
            'references: ["EU AI Act Art. 15"]',
            "references: [15]",
            12,
            "references of rule 'auc-baseline' must be a list of strings, not [15]",
        ),
        (
            "      expr: evaluation.metrics.roc_auc >= 0.80\n",
            "",
            8,
            "rule 'auc-baseline' needs expr (a CEL expression)",
        ),
        ("  name: high-risk\n", "  name: high-risk\n  name: again\n", 5, "field 'name' appears twice"),
        ("  rules:\n", "  rules: []\n  x:\n", 7, "spec.rules must be a non-empty list of rules"),
    ],
)
def test_format_errors_name_the_line_and_the_fields_that_exist(
    write_policy: Callable[..., Path], replace: str, by: str, line: int, message: str
) -> None:
    assert replace in GOOD
    path = write_policy(GOOD.replace(replace, by, 1), "high-risk.yaml")
    with pytest.raises(PolicyParseError) as caught:
        load_policy(path)
    assert caught.value.code == "policy.parse_error"
    assert str(caught.value) == f"policy {path} line {line}: {message}"


def test_a_cel_syntax_error_is_an_expression_error_with_its_column(write_policy: Callable[..., Path]) -> None:
    path = write_policy(GOOD.replace(">= 0.80\n", ">=\n", 1), "p.yaml")
    with pytest.raises(PolicyExpressionError) as caught:
        load_policy(path)
    assert caught.value.code == "policy.expression_error"
    assert str(caught.value) == (
        f"policy {path} line 9: rule 'auc-baseline': expr does not compile: "
        "Syntax error: mismatched input '<EOF>' (at column 30 of the expression)"
    )


def test_a_bad_message_placeholder_is_an_expression_error(write_policy: Callable[..., Path]) -> None:
    path = write_policy(GOOD.replace("{{ evaluation.metrics.roc_auc }}", "{{ evaluation.metrics. }}"), "p.yaml")
    with pytest.raises(PolicyExpressionError, match=r"line 10: rule 'auc-baseline': message placeholder"):
        load_policy(path)


def test_every_problem_is_collected_in_line_order() -> None:
    text = GOOD.replace("      severity: high", "      severity: hgh").replace("kind: Policy", "kind: Polcy")
    text = text.replace("      advisory: true", "      advisory: 3\n      actoin: warn")
    policy, problems = parse_policy(text, file="p.yaml")
    assert policy is None
    assert [(p.line, p.code) for p in problems] == [
        (2, "policy.parse_error"),
        (11, "policy.parse_error"),
        (16, "policy.parse_error"),
        (17, "policy.parse_error"),
    ]
    assert str(problems[0]) == "p.yaml:2: kind must be 'Policy', not 'Polcy'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p.yaml:1: a policy file holds one Policy document; this file is empty"),
        (GOOD + "---\n" + GOOD, "p.yaml:18: a policy file holds one Policy document; this file holds 2 documents"),
        ("a: [1\n", "p.yaml:2: not valid YAML (expected ',' or ']', but got '<stream end>')"),
        ("- 1\n", "p.yaml:1: a policy must be a mapping with apiVersion, kind, metadata, spec"),
        ("apiVersion: charter.dev/v1\nkind: Policy\n", "p.yaml:1: metadata is required (a mapping)"),
    ],
)
def test_documents_that_are_not_one_policy(text: str, message: str) -> None:
    policy, problems = parse_policy(text, file="p.yaml")
    assert policy is None
    assert str(problems[0]) == message


def test_an_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    policy, problems = read_policy(path)
    assert policy is None and str(problems[0]) == f"{path}: the file is not UTF-8 text"
    policy, problems = read_policy(tmp_path / "missing.yaml")
    assert str(problems[0]) == f"{tmp_path / 'missing.yaml'}: cannot read the file: No such file or directory"
    assert (
        str(problems[0].error())
        == f"policy {tmp_path / 'missing.yaml'}: cannot read the file: No such file or directory"
    )


def test_a_policy_may_be_read_partially_for_lint() -> None:
    text = GOOD.replace("      severity: high", "      severity: hgh")
    assert parse_policy(text, file="p.yaml")[0] is None
    from charter.policy.document import _from_nodes  # the partial read lint uses
    from charter.yamlfile import compose_text

    policy, problems = _from_nodes(compose_text(text, label="p.yaml"), "p.yaml", None, [], partial=True)
    assert policy is not None and [r.name for r in policy.rules] == ["auc-baseline", "risk-officer"]
    assert len(problems) == 1


def test_cel_literal_expressions_from_yaml_scalars(write_policy: Callable[..., Path]) -> None:
    text = policy_text("- name: always\n  expr: true\n")
    policy = load_policy(write_policy(text))
    assert policy.rules[0].source == "true"


def test_every_policy_error_code_is_documented() -> None:
    doc = (ROOT / "docs" / "policy.md").read_text()
    codes = [cls.code for cls in all_error_classes() if cls.code.startswith("policy.")]
    assert len(codes) == 5
    for code in codes:
        assert re.search(rf"^\| `{re.escape(code)}` \|", doc, re.MULTILINE), f"{code} is not in docs/policy.md"
