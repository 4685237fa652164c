"""``charter policy lint|test|packs`` through the real command line: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app
from charter.policy.packs import PACKS_DIR
from tests.policy.conftest import policy_text
from tests.policy.test_testing import CASES, POLICY, folder

runner = CliRunner()


def charter(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_lint_clean_files_exit_0(tmp_path: Path) -> None:
    path = folder(tmp_path, CASES)
    code, out, err = charter("policy", "lint", str(path))
    assert (code, out, err) == (0, "1 policy file checked: no problems\n", "")


def test_lint_prints_every_problem_as_file_line_message_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(policy_text("- name: a\n  expr: evaluation.metrics.auc > 0.5\n  acton: warn\n"))
    code, out, _ = charter("policy", "lint", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}:8: rule 'a': unknown field 'evaluation.metrics.auc' (known: accuracy,")
    assert lines[1].startswith(f"{path}:9: unknown field 'acton' in rule 'a'")
    assert lines[2] == "1 policy file checked: 2 problems"
    code, out, _ = charter("policy", "lint", "--json", str(path))
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and [p["line"] for p in data["problems"]] == [8, 9]


def test_test_exits_0_when_every_case_passes(tmp_path: Path) -> None:
    folder(tmp_path, CASES)
    code, out, _ = charter("policy", "test", str(tmp_path))
    assert (code, out) == (0, "Policy cases: 5 passed, 0 failed (1 policy)\n")
    code, out, _ = charter("policy", "test", "-v", str(tmp_path))
    assert out.splitlines()[0] == f"PASS {tmp_path}/policies/high-risk/cases.yaml:5: high-risk / good and approved"


def test_test_reports_a_failing_case_and_exits_1(tmp_path: Path) -> None:
    folder(
        tmp_path, CASES.replace("expect: {decision: passed, applies: true", "expect: {decision: blocked, applies: true")
    )
    code, out, _ = charter("policy", "test", str(tmp_path))
    assert code == 1
    assert out.splitlines() == [
        f"FAIL {tmp_path}/policies/high-risk/cases.yaml:5: high-risk / good and approved",
        "  decision: expected blocked, got passed (every rule passed)",
        "Policy cases: 4 passed, 1 failed (1 policy)",
    ]
    code, out, _ = charter("policy", "test", "--json", str(tmp_path))
    data = json.loads(out)
    assert code == 1 and (data["ok"], data["passed"], data["failed"]) == (False, 4, 1)


def test_test_without_policy_folders_is_an_error(tmp_path: Path) -> None:
    code, out, err = charter("policy", "test", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == f"Error: no policy folders with a cases.yaml under {tmp_path}\n"


def test_the_builtin_packs_pass_their_own_cases_from_the_command_line() -> None:
    code, out, _ = charter("policy", "test", str(PACKS_DIR))
    assert code == 0 and out.endswith("0 failed (5 policies)\n")


def test_packs_are_listed_with_their_rules() -> None:
    code, out, _ = charter("policy", "packs")
    assert code == 0
    assert "eu-ai-act-high-risk: EU AI Act obligations" in out and "(applies to: riskTier=high)" in out
    assert "EU AI Act Art. 14" in out and "require_approval" in out
    code, out, _ = charter("policy", "packs", "--json")
    packs = json.loads(out)
    assert [p["name"] for p in packs] == [
        "baseline",
        "data-governance",
        "eu-ai-act-high-risk",
        "fairness",
        "nist-ai-rmf",
    ]
    assert packs[3]["rules"][0]["name"] == "four-fifths-rule"


def test_a_broken_policy_in_test_is_a_failing_result_not_a_crash(tmp_path: Path) -> None:
    folder(tmp_path, CASES, policy=POLICY.replace("kind: Policy", "kind: Polcy"))
    code, out, err = charter("policy", "test", str(tmp_path))
    assert code == 1 and err == ""
    assert "policy.parse_error: policy" in out and "kind must be 'Policy', not 'Polcy'" in out
