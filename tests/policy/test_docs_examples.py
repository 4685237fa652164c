"""The examples of docs/policy.md are real: the policies lint clean and the cases pass."""

from __future__ import annotations

import re
from pathlib import Path

from charter.policy.lint import lint_paths
from charter.policy.testing import run_policy_tests

ROOT = Path(__file__).resolve().parents[2]


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "policy.md").read_text(), re.DOTALL)


def test_the_example_policy_lints_clean_and_its_cases_pass(tmp_path: Path) -> None:
    policy, cases, rego = yaml_blocks()
    folder = tmp_path / "high-risk-deploy"
    folder.mkdir()
    (folder / "high-risk-deploy.yaml").write_text(policy)
    (folder / "cases.yaml").write_text(cases)
    assert lint_paths([folder]) == []
    report = run_policy_tests(tmp_path)
    assert (report.passed, report.failed) == (3, 0)
    (tmp_path / "rego.yaml").write_text(rego)
    assert lint_paths([tmp_path / "rego.yaml"]) == []
