"""``charter policy test``: cases with expected verdicts, run like ``opa test``; failures located."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from charter.errors import PolicyCasesInvalid
from charter.policy.testing import run_policy_tests
from tests.policy.conftest import policy_text

POLICY = policy_text(
    """\
    - name: auc-baseline
      expr: evaluation.metrics.roc_auc >= 0.80
      message: "ROC AUC {{ evaluation.metrics.roc_auc }} is below 0.80"
    - name: risk-officer
      expr: approvals.exists(a, a.role == 'risk-officer' && a.principal != requester)
      action: require_approval
    """,
    name="high-risk",
    spec="appliesTo: {riskTier: [high]}\n",
)

CASES = """\
defaults:
  model: {risk_tier: high}
  requester: user:alice
cases:
  - name: good and approved
    input:
      evaluation: {metrics: {roc_auc: 0.9}}
      approvals: [{principal: user:carol, role: risk-officer, decision: approved}]
    expect: {decision: passed, applies: true, rules: {auc-baseline: pass, risk-officer: pass}}
  - name: weak
    input: {evaluation: {metrics: {roc_auc: 0.7}}}
    expect:
      decision: blocked
      rules:
        auc-baseline: {verdict: fail, effect: block, message: "ROC AUC 0.7 is below"}
        risk-officer: {verdict: fail, effect: approval}
  - name: nothing known
    input: {}
    expect: {rules: {auc-baseline: {verdict: error, error_kind: evidence_missing}}}
  - name: low risk is out of scope
    input: {model: {risk_tier: minimal}}
    expect: {applies: false}
  - name: a bad metric is refused
    input: {evaluation: {metrics: {roc_auc: high}}}
    expect: {error: policy.context_invalid}
"""


def folder(root: Path, cases: str, *, policy: str = POLICY, name: str = "high-risk") -> Path:
    path = root / "policies" / name
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{name}.yaml").write_text(policy)
    (path / "cases.yaml").write_text(textwrap.dedent(cases))
    return path


def test_passing_cases(tmp_path: Path) -> None:
    folder(tmp_path, CASES)
    report = run_policy_tests(tmp_path / "policies")
    assert [(r.case, r.passed, r.line) for r in report.results] == [
        ("good and approved", True, 5),
        ("weak", True, 10),
        ("nothing known", True, 17),
        ("low risk is out of scope", True, 20),
        ("a bad metric is refused", True, 23),
    ]
    assert (report.passed, report.failed, report.ok) == (5, 0, True)
    assert report.to_dict()["results"][0] == {
        "policy": "high-risk",
        "case": "good and approved",
        "file": f"{tmp_path / 'policies' / 'high-risk'}/cases.yaml",
        "line": 5,
        "passed": True,
        "failures": [],
    }


def test_a_failing_case_is_reported_with_its_file_line_and_what_differed(tmp_path: Path) -> None:
    wrong = CASES.replace("expect: {decision: passed, applies: true", "expect: {decision: blocked, applies: false")
    wrong = wrong.replace('message: "ROC AUC 0.7 is below"', 'message: "ROC AUC 0.75"')
    wrong = wrong.replace("evidence_missing}", "type_error}").replace(
        "{error: policy.context_invalid}", "{decision: passed}"
    )
    folder(tmp_path, wrong)
    report = run_policy_tests(tmp_path / "policies")
    failed = {r.case: (r.line, r.failures) for r in report.results if not r.passed}
    assert failed == {
        "good and approved": (
            5,
            ("applies: expected false, got true", "decision: expected blocked, got passed (every rule passed)"),
        ),
        "weak": (
            10,
            ("rule 'auc-baseline': expected the message to contain 'ROC AUC 0.75', got 'ROC AUC 0.7 is below 0.80'",),
        ),
        "nothing known": (17, ("rule 'auc-baseline': expected error_kind type_error, got evidence_missing",)),
        "a bad metric is refused": (
            23,
            (
                "unexpected error policy.context_invalid: context: evaluation.metrics.roc_auc: expected number, "
                "got string 'high'",
            ),
        ),
    }
    assert (report.passed, report.failed) == (1, 4)


def test_verdict_mismatches_say_why(tmp_path: Path) -> None:
    cases = """\
    cases:
      - name: c
        input: {}
        expect: {rules: {auc-baseline: pass, nope: fail}, error: policy.context_invalid}
    """
    folder(tmp_path, cases)
    (result,) = run_policy_tests(tmp_path).results
    assert result.failures == (
        "expected error policy.context_invalid, but the context was accepted",
        "rule 'auc-baseline': expected pass, got error (missing evidence: evaluation is empty, so evaluation.metrics "
        "is missing)",
        "rule 'nope': the policy has no such rule (rules: auc-baseline, risk-officer)",
    )


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ("cases: []\n", "line 1: cases must be a non-empty list"),
        ("case: []\n", "line 1: unknown field 'case' (known: cases, defaults)"),
        (
            "cases:\n  - name: a\n    expect: {decision: fine}\n",
            "line 3: decision must be one of passed, pending_approval, blocked",
        ),
        (
            "cases:\n  - name: a\n    expected: {}\n",
            "line 3: unknown field 'expected' in case 1 (known: expect, input, name)",
        ),
        (
            "cases:\n  - name: a\n    expect: {rules: {x: maybe}}\n",
            "line 3: verdict of rule 'x' must be pass, fail or error",
        ),
        (
            "cases:\n  - name: a\n    expect: {}\n",
            "line 3: case 'a' needs expect with decision, rules, applies or error",
        ),
        (
            "cases:\n  - {name: a, expect: {applies: true}}\n  - {name: a, expect: {applies: true}}\n",
            "line 3: case 2 needs a name of its own",
        ),
        ("cases: [\n", "line 2: not valid YAML"),
    ],
)
def test_a_broken_cases_file_is_one_failing_result(tmp_path: Path, cases: str, message: str) -> None:
    folder(tmp_path, cases)
    (result,) = run_policy_tests(tmp_path).results
    assert not result.passed
    (failure,) = result.failures
    assert failure.startswith(f"policy.cases_invalid: {tmp_path / 'policies' / 'high-risk'}/cases.yaml {message}")


def test_a_broken_policy_is_one_failing_result(tmp_path: Path) -> None:
    folder(tmp_path, CASES, policy=POLICY.replace("action: require_approval", "acton: x"))
    (result,) = run_policy_tests(tmp_path).results
    assert result.failures[0].startswith("policy.parse_error: policy ")
    assert "line 13: unknown field 'acton' in rule 'risk-officer'" in result.failures[0]


def test_a_folder_without_its_policy_file(tmp_path: Path) -> None:
    path = folder(tmp_path, CASES)
    (path / "high-risk.yaml").rename(path / "other.yaml")
    (result,) = run_policy_tests(tmp_path).results
    assert result.failures == ("no policy file high-risk.yaml beside cases.yaml",)


def test_no_policy_folders_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyCasesInvalid, match=r"no policy folders with a cases\.yaml under"):
        run_policy_tests(tmp_path)
    with pytest.raises(PolicyCasesInvalid, match="is not a folder"):
        run_policy_tests(tmp_path / "nowhere")
