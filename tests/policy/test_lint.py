"""``charter policy lint``: every problem of every file, with file and line, never raising."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from charter.policy.lint import lint_paths
from tests.policy.conftest import policy_text

BROKEN = policy_text(
    """\
    - name: auc
      expr: evaluation.metrics.auc >= 0.80
      severty: high
    - name: officer
      expr: approvals.exists(a, a.rol == 'risk-officer')
      message: "{{ evalution.x }} and {{ model.name }}"
    - name: types
      expr: model.name > 3
    - name: not-bool
      expr: evaluation.metrics
    - name: syntax
      expr: evaluation.metrics.roc_auc >=
    - name: custom-metric
      expr: evaluation.metrics['my_metric'] > 0.5 && fairness.race.disparate_impact >= 0.8
    """,
    name="broken",
)


def test_every_problem_is_reported_with_its_line(write_policy: Callable[..., Path]) -> None:
    path = write_policy(BROKEN, "broken.yaml")
    lines = [str(p) for p in lint_paths([path])]
    known_metrics = "accuracy, brier, ece, f1, log_loss, mae, mape, pr_auc, precision, r2, recall, rmse, roc_auc"
    assert lines == [
        f"{path}:8: rule 'auc': unknown field 'evaluation.metrics.auc' (known: {known_metrics})",
        f"{path}:9: unknown field 'severty' in rule 'auc' "
        "(known: action, advisory, expr, message, name, references, severity)",
        f"{path}:11: rule 'officer': unknown field 'approvals[].rol' (known: at, decision, principal, role)",
        f"{path}:12: rule 'officer': message placeholder {{{{ evalution.x }}}}: unknown field 'evalution' "
        "(known: approvals, champion, context_version, datasets, documentation, evaluation, explanations, fairness, "
        "incidents, logging, model, monitors, now, requester, stage, version)",
        f"{path}:14: rule 'types': does not evaluate on a complete context: type error: "
        "an operator or function got operand types it does not take (is one of them null?)",
        f"{path}:16: rule 'not-bool': does not evaluate on a complete context: the expression gives map "
        "accuracy=0.5, brier=0.5, ece=0.5, f1=0.5, log_loss=0.5, mae…, not a boolean",
        f"{path}:18: rule 'syntax': expr does not compile: Syntax error: mismatched input '<EOF>' "
        "(at column 30 of the expression)",
    ]
    assert {p.code for p in lint_paths([path])} == {"policy.parse_error", "policy.expression_error"}


def test_a_clean_policy_has_no_problems(write_policy: Callable[..., Path]) -> None:
    clean = policy_text("- name: a\n  expr: evaluation.metrics.roc_auc >= 0.8\n  message: '{{ evaluation.dataset }}'\n")
    assert lint_paths([write_policy(clean)]) == []


def test_folders_are_searched_and_cases_files_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "policies" / "p"
    folder.mkdir(parents=True)
    (folder / "p.yaml").write_text(policy_text("- name: a\n  expr: 'true'\n", name="p"))
    (folder / "cases.yaml").write_text("cases: not a policy\n")
    (tmp_path / "policies" / "q.yml").write_text(policy_text("- name: a\n  expr: 'true'\n", name="p"))
    problems = [
        str(p) for p in lint_paths([tmp_path / "policies", tmp_path / "nowhere", tmp_path / "policies" / "p" / "x"])
    ]
    assert problems == [
        f"{tmp_path / 'nowhere'}: no such file or folder",
        f"{tmp_path / 'policies' / 'p' / 'x'}: no such file or folder",
        f"{tmp_path / 'policies' / 'q.yml'}:1: policy name 'p' is also used by {folder / 'p.yaml'}",
    ]


def test_an_empty_folder_is_a_problem(tmp_path: Path) -> None:
    assert [str(p) for p in lint_paths([tmp_path])] == [f"{tmp_path}: no policy files (*.yaml, *.yml) in this folder"]


def test_rego_queries_and_input_paths_are_checked(write_policy: Callable[..., Path]) -> None:
    text = policy_text(
        """\
        - name: ok
          query: data.charter.t.auc_ok
        - name: missing
          query: data.charter.t.nope
        """,
        name="rego",
        spec="""\
        language: rego
        module: |
          package charter.t
          import rego.v1

          default auc_ok := false
          auc_ok if input.evaluation.metrics.auc >= 0.8
        """,
    )
    path = write_policy(text)
    assert [str(p) for p in lint_paths([path])] == [
        f"{path}:12: spec.module: unknown field 'input.evaluation.metrics.auc' (known: accuracy, brier, ece, f1, "
        "log_loss, mae, mape, pr_auc, precision, r2, recall, rmse, roc_auc)",
        f"{path}:17: rule 'missing': data.charter.t.nope names no rule of the module (rules: auc_ok)",
    ]
