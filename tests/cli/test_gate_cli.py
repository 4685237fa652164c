"""Policies, gates, promotion and approvals from the command line, and the CI jobs shipped in ci/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from typer.testing import CliRunner

from charter.cli.main import app
from charter.config import load_settings
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.evaluation import record_evaluation
from charter.services.registry import ModelSpec, register_model, register_version
from tests.services.test_gates import POLICY

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def charter(home: Path, *args: str, actor: str = "local:ada") -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args], env={"CHARTER_ACTOR": actor})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert charter(home, "init")[0] == 0
    for principal, role in (("local:ada", "risk-officer"), ("local:rita", "risk-officer")):
        assert charter(home, "role", "grant", principal, role)[0] == 0
    settings = load_settings(env={}, home=home, actor="local:ada")
    with open_context(settings) as context:
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        for number, auc in ((1, 0.86), (2, 0.80)):
            artifact = tmp_path / f"model-{number}.pkl"
            artifact.write_bytes(f"weights {number}".encode())
            register_version(context, "credit-risk", digest_path(artifact), framework="sklearn")
            record_evaluation(context, f"credit-risk@{number}", dataset="holdout", metrics={"roc_auc": auc})
    return home


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "policies" / "high-risk-deploy"
    folder.mkdir(parents=True)
    (folder / "high-risk-deploy.yaml").write_text(POLICY)
    return folder.parent


def test_gate_reports_for_ci(home: Path, policies: Path, tmp_path: Path) -> None:
    junit, sarif, md = (tmp_path / f"gate.{ext}" for ext in ("xml", "sarif", "md"))
    code, out, err = charter(home, "gate", "credit-risk@2", "--stage", "prod", "--policy", str(policies),
                             "--junit", str(junit), "--sarif", str(sarif), "--markdown", str(md))  # fmt: skip
    assert code == 1, err
    assert out.startswith("Gate credit-risk@2 -> prod: BLOCKED\n")
    assert "BLOCKS high-risk-deploy/auc-baseline: ROC AUC 0.8 is below 0.82" in out
    suites = ET.parse(junit).getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors")) == ("3", "2", "0")
    failed = [
        (c.get("name"), c.find("failure").get("type")) for c in suites.iter("testcase") if c.find("failure") is not None
    ]  # type: ignore[union-attr]
    assert failed == [("auc-baseline", "block"), ("risk-officer-approval", "require_approval")]
    report = json.loads(sarif.read_text())
    assert report["version"] == "2.1.0"
    levels = {r["ruleId"]: r["level"] for r in report["runs"][0]["results"]}
    assert levels == {"high-risk-deploy/auc-baseline": "error", "high-risk-deploy/risk-officer-approval": "warning"}
    location = report["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("high-risk-deploy.yaml") and location["region"]["startLine"] > 1
    assert md.read_text().startswith("### ⛔ Gate `credit-risk@2` → `prod`: BLOCKED")
    code, out, _ = charter(
        home, "gate", "credit-risk@1", "--stage", "prod", "--policy", str(policies), "--format", "json"
    )
    assert code == 1 and json.loads(out)["decision"] == "pending_approval"
    assert (
        charter(home, "gate", "credit-risk@1", "--stage", "prod", "--policy", str(policies), "--allow-pending")[0] == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "yaml"), "Error: --format 'yaml' is not one of text, json, junit, sarif, markdown"),
        (("--policy", "missing.yaml"), "missing.yaml: no such file or folder"),
        (("--policy", "broken.yaml"), "broken.yaml line 3: not valid YAML"),
        (("--pack", "no-such-pack"), "no-such-pack"),
        (("--junit", "no/such/folder/gate.xml"), "cannot write the junit report to no/such/folder/gate.xml"),
    ],
)
def test_a_gate_that_cannot_run_exits_2_not_1(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    """Exit 1 is the verdict "blocked"; a gate that cannot run (usage or configuration) exits 2, failing closed."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text("kind: Policy\nspec: [\n")
    code, out, err = charter(home, "gate", "credit-risk@1", "--stage", "prod", *args)
    assert (code, out) == (2, ""), err
    assert err.startswith("Error: ") and message in err
    code, _, err = charter(home, "gate", "credit-risk@9", "--stage", "prod")
    assert code == 2 and "credit-risk has no version 9" in err
    assert charter(tmp_path / "no-home", "gate", "credit-risk@1", "--stage", "prod")[0] == 2
    assert charter(home, "model", "show", "nope")[0] == 1  # other commands keep exit 1 for errors


def test_promote_through_an_approval(home: Path, policies: Path) -> None:
    code, out, err = charter(home, "policy", "add", str(policies))
    assert code == 0 and out.strip().startswith("high-risk-deploy@1 added"), err
    code, out, _ = charter(home, "promote", "credit-risk@1", "--to", "prod", "-j", "first model", actor="local:dev")
    assert code == 1 and "waits for 1 more approval from risk-officer" in out
    code, out, _ = charter(home, "approvals", "list", "--mine", "--json", actor="local:rita")
    [request] = json.loads(out)
    assert (request["kind"], request["requester"], request["state"]) == ("promote", "local:dev", "pending")
    code, _, err = charter(home, "approvals", "approve", request["id"], "-j", "mine", actor="local:dev")
    assert code == 1 and "(separation of duties)" in err
    code, out, err = charter(home, "approvals", "approve", request["id"], "-j", "reviewed the gate",
                             "--sha256", request["payload_sha256"], actor="local:rita")  # fmt: skip
    assert code == 0 and "approved by local:rita (risk-officer)" in out, err
    code, out, _ = charter(home, "promote", "credit-risk@1", "--to", "prod", actor="local:dev")
    assert code == 0 and "Promoted credit-risk@1 to credit-risk:prod" in out
    code, out, _ = charter(home, "approvals", "show", request["id"], "--json")
    assert json.loads(out)["state"] == "executed"
    code, _, err = charter(home, "alias", "set", "credit-risk@2", "prod")
    assert code == 1 and "is governed by high-risk-deploy" in err
    code, out, _ = charter(home, "policy", "show", "high-risk-deploy")
    assert out.splitlines()[0].startswith("# high-risk-deploy@1 from ") and "auc-baseline" in out
    code, out, _ = charter(home, "policy", "list", "--json")
    assert [p["name"] for p in json.loads(out)] == ["high-risk-deploy"]
    assert charter(home, "policy", "remove", "high-risk-deploy", "--reason", "replaced")[0] == 0
    assert charter(home, "audit", "verify")[0] == 0


def _script(lines: list[str]) -> str:
    return "\n".join(line for line in lines if not line.startswith("pip install"))


@pytest.mark.parametrize("template", ["github", "gitlab"])
def test_the_ci_templates_run_the_gate(home: Path, policies: Path, template: str) -> None:
    """Run the template's gate step the way the CI runner would: bash, in the repository, with its variables."""
    if template == "github":
        steps = yaml.safe_load((ROOT / "ci/github/charter-gate.yml").read_text())["jobs"]["gate"]["steps"]
        script = _script(next(s for s in steps if s.get("name") == "Run the gate")["run"].splitlines())
    else:
        job = yaml.safe_load((ROOT / "ci/gitlab/charter-gate.gitlab-ci.yml").read_text())["charter-gate"]
        script = _script(job["script"])
        assert job["artifacts"]["reports"]["junit"] == "charter-gate.junit.xml"
    repo = policies.parent
    env = {
        **os.environ, "CHARTER_HOME": str(home), "CHARTER_ACTOR": f"ci:{template}", "STAGE": "prod",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": "",
    }  # fmt: skip
    blocked = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env={**env, "MODEL_REF": "credit-risk@2"},
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert blocked.returncode == 1, blocked.stderr
    assert "BLOCKED" in blocked.stdout
    assert ET.parse(repo / "charter-gate.junit.xml").getroot().get("failures") == "2"
    assert (repo / "charter-gate.md").read_text().startswith("### ⛔")
    if template == "github":
        assert json.loads((repo / "charter-gate.sarif").read_text())["version"] == "2.1.0"


def test_evaluate_from_the_command_line(tmp_path: Path) -> None:
    import pickle

    from sklearn.linear_model import LogisticRegression

    from tests.services.test_evaluation import applicants

    home = tmp_path / "home"
    charter(home, "init")
    train, holdout = applicants(1), applicants(2)
    (tmp_path / "credit.pkl").write_bytes(
        pickle.dumps(LogisticRegression().fit(train[["income", "age"]], train["default"]))
    )
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    for args in (
        ("dataset", "register", "holdout", "--legal-basis", "contract"),
        ("dataset", "add-version", "holdout", str(tmp_path / "holdout.csv")),
        ("model", "register", "credit-risk", "--task", "binary_classification", "--risk-tier", "high"),
        ("model", "add-version", "credit-risk", str(tmp_path / "credit.pkl"), "--framework", "sklearn"),
    ):
        code, _, err = charter(home, *args)
        assert code == 0, (args, err)
    code, out, err = charter(home, "evaluate", "credit-risk@1", "--dataset", "holdout@1", "--label", "default",
                             "--slice", "age_band")  # fmt: skip
    assert code == 0, err
    assert out.startswith("Evaluated credit-risk@1 on holdout@1 (600 rows, label default)")
    assert "  roc_auc " in out and "fairness on sex: " in out and "slices by age_band:" in out
    code, out, _ = charter(home, "evaluations", "credit-risk@1", "--json")
    [found] = json.loads(out)
    assert found["source"] == "charter" and 0.5 < found["metrics"]["roc_auc"] <= 1
    (tmp_path / "credit.pkl").write_bytes(b"not the registered weights")
    code, _, err = charter(home, "evaluate", "credit-risk@1", "--dataset", "holdout@1", "--label", "default")
    assert code == 1 and "so Charter will not load it" in err
