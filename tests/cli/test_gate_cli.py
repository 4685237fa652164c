"""Policies, gates, promotion and approvals from the command line, and the CI jobs shipped in ci/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
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
from charter.services.gates import gate_history
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
    for principal, role in (("local:ada", "risk-officer"), ("local:rita", "risk-officer"), ("local:dev", "developer")):
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
        (("--stage", "PROD"), "alias 'PROD' is not valid"),
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


@pytest.fixture
def served(home: Path) -> Iterator[dict[str, str]]:
    """The home served on 127.0.0.1 as `charter serve` serves it, with tokens for a risk officer and a viewer."""
    from charter.server.app import create_app
    from charter.services.tokens import create_token
    from tests.browser.conftest import LiveServer

    settings = load_settings(env={}, home=home, actor="local:ada")
    with open_context(settings) as context:
        _, officer = create_token(context, "local:rita", name="ci")
        _, viewer = create_token(context, "svc:dashboard", roles=("viewer",), name="dashboard")
        _, developer = create_token(context, "ci:github", roles=("developer",), name="ci")
    with LiveServer(create_app(settings)) as server:
        yield {"url": server.url, "officer": officer, "viewer": viewer, "developer": developer}


def remote(
    served: dict[str, str], *args: str, token: str = "officer", root: tuple[str, ...] = (), command: str = "gate"
) -> tuple[int, str, str]:
    """``charter gate ... --server URL`` with ``token``'s secret in $CHARTER_TOKEN (no database configured)."""
    env = {"CHARTER_TOKEN": served.get(token, ""), "CHARTER_ACTOR": "local:nobody"}
    result = runner.invoke(app, [*root, command, *args, "--server", served["url"]], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_the_gate_runs_on_a_server_as_it_runs_here(
    home: Path, policies: Path, served: dict[str, str], tmp_path: Path
) -> None:
    here = charter(home, "gate", "credit-risk@2", "--stage", "prod", "--policy", str(policies))
    sarif, junit = tmp_path / "gate.sarif", tmp_path / "gate.xml"
    there = remote(served, "credit-risk@2", "--stage", "prod", "--policy", str(policies), "--sarif", str(sarif),
                   "--junit", str(junit))  # fmt: skip
    assert there == here and there[0] == 1 and "BLOCKS high-risk-deploy/auc-baseline" in there[1]
    location = json.loads(sarif.read_text())["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == str(policies / "high-risk-deploy" / "high-risk-deploy.yaml")
    assert ET.parse(junit).getroot().get("failures") == "2"
    code, out, _ = remote(served, "credit-risk@1", "--stage", "prod", "--policy", str(policies), "--format", "json")
    found = json.loads(out)
    assert (code, found["decision"], found["created_by"]) == (1, "pending_approval", "local:rita")
    assert found["context"]["requester"] == "local:rita" and found["context"]["evaluation"]["metrics"] == {
        "roc_auc": 0.86
    }
    assert remote(served, "credit-risk@1", "--stage", "prod", "--policy", str(policies), "--allow-pending")[0] == 0
    # $CHARTER_SERVER does what --server does; an empty one (an unset CI variable) means the local store.
    env = {"CHARTER_SERVER": served["url"], "CHARTER_TOKEN": served["officer"]}
    done = runner.invoke(app, ["gate", "credit-risk@1", "--stage", "prod", "--pack", "baseline"], env=env)
    assert done.exit_code == 0 and done.stdout.startswith("Gate credit-risk@1 -> prod: PASSED")
    local = runner.invoke(app, ["--home", str(home), "gate", "credit-risk@1", "--stage", "prod"],
                          env={"CHARTER_SERVER": "", "CHARTER_ACTOR": "local:ada"})  # fmt: skip
    assert local.exit_code == 1 and "no policy applies to credit-risk@1" in local.stdout
    settings = load_settings(env={}, home=home, actor="local:ada")
    with open_context(settings) as context:
        made = [(g["created_by"], g["decision"]) for g in gate_history(context, "credit-risk@1")]
    assert made == [("local:ada", "blocked"), ("local:rita", "passed"), ("local:rita", "pending_approval"),
                    ("local:rita", "pending_approval")]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        ((), "", "this route needs a token"),
        ((), "viewer", "svc:dashboard"),
        (("--policy", "broken.yaml"), "officer", "policy broken.yaml line 3: not valid YAML"),
        (("--policy", "missing.yaml"), "officer", "missing.yaml: no such file or folder"),
        (("--pack", "no-such-pack"), "officer", "no-such-pack"),
    ],
)
def test_a_gate_the_server_cannot_run_exits_2(
    served: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], token: str,
    message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text("kind: Policy\nspec: [\n")
    code, out, err = remote(served, "credit-risk@1", "--stage", "prod", *args, token=token)
    assert (code, out) == (2, ""), err
    assert err.startswith("Error: ") and message in err
    if not token:
        assert err.rstrip().endswith("none was sent: set CHARTER_TOKEN")


def test_the_server_option_is_checked_before_anything_is_sent(home: Path, served: dict[str, str]) -> None:
    code, _, err = remote(served, "credit-risk@9", "--stage", "prod")
    assert (code, err.strip()) == (2, "Error: credit-risk has no version 9 (versions: 1-2)")
    code, _, err = remote(served, "credit-risk@1", "--stage", "prod", root=("--home", str(home)))
    assert code == 2 and "--home and --database-url do not go with it" in err
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for url, expected in ((closed, f"Charter server {closed} is unreachable"),
                          ("ftp://charter.example", "--server 'ftp://charter.example' is not an http(s) URL"),
                          ("http://[::1", "--server 'http://[::1' is not a valid URL")):  # fmt: skip
        result = runner.invoke(app, ["gate", "credit-risk@1", "--stage", "prod", "--server", url])
        assert result.exit_code == 2 and expected in result.stderr, result.stderr


def test_the_server_is_reached_through_the_proxy_the_environment_names(served: dict[str, str]) -> None:
    """CI runners behind a proxy set HTTP(S)_PROXY and NO_PROXY; the gate honours them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    env = {"CHARTER_TOKEN": served["officer"], "http_proxy": proxy, "HTTP_PROXY": proxy, "no_proxy": "",
           "NO_PROXY": ""}  # fmt: skip
    command = ["gate", "credit-risk@1", "--stage", "prod", "--server", served["url"]]
    through = runner.invoke(app, command, env=env)
    assert through.exit_code == 2 and f"Charter server {served['url']} is unreachable" in through.stderr
    direct = runner.invoke(app, command, env={**env, "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"})
    assert direct.exit_code == 1 and "no policy applies to credit-risk@1" in direct.stdout, direct.stderr


def test_a_gate_on_a_server_loads_neither_the_store_nor_the_policy_engine(served: dict[str, str]) -> None:
    """What keeps `charter gate --server` quick from a cold start: no SQLAlchemy, YAML, CEL or server libraries."""
    code = (
        "import sys\n"
        "from charter.cli.main import main\n"
        "sys.argv = ['charter', 'gate', 'credit-risk@2', '--stage', 'prod', '--server', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    status = done.code\n"
        "heavy = {'sqlalchemy', 'yaml', 'cel', 'fastapi', 'pydantic', 'numpy', 'pyarrow'}\n"
        "print(status, sorted(heavy & {m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    env = {**os.environ, "CHARTER_TOKEN": served["officer"]}
    done = subprocess.run([sys.executable, "-c", code, served["url"]], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.stdout.startswith("Gate credit-risk@2 -> prod: BLOCKED"), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "1 []"


def test_a_policy_change_is_proposed_approved_and_applied(home: Path, policies: Path) -> None:
    code, out, _ = charter(home, "policy", "propose", str(policies), "-j", "new deploy rules", actor="local:dev")
    assert code == 1 and out.startswith("Change request ")
    request = out.split()[2]
    assert (
        f"(policy:high-risk-deploy) waits for 1 more approval from risk-officer; approve with `charter "
        f"approvals approve {request} -j ...`, then run this command again" in " ".join(out.split())
    )
    code, out, _ = charter(home, "approvals", "show", request, "--json")
    assert json.loads(out)["payload"]["policies"][0]["name"] == "high-risk-deploy"
    assert charter(home, "approvals", "approve", request, "-j", "reviewed", actor="local:rita")[0] == 0
    code, out, _ = charter(home, "policy", "propose", str(policies), actor="local:dev")
    assert code == 0 and out.splitlines()[0].startswith("high-risk-deploy@1 added (")
    assert out.splitlines()[1] == f"Change request {request} executed"
    code, _, err = charter(home, "policy", "propose", str(policies), "-j", "again", actor="local:dev")
    assert code == 1 and "already hold exactly these texts" in err


def test_break_glass_changes_awaiting_their_review_are_listed(home: Path, policies: Path) -> None:
    assert charter(home, "policy", "add", str(policies))[0] == 0
    code, out, err = charter(home, "promote", "credit-risk@2", "--to", "prod", "--break-glass", "-j", "INC-7 outage")
    assert code == 0 and "BREAK-GLASS: a review is due" in out, err
    code, out, _ = charter(home, "approvals", "list", "--unreviewed", "--json")
    [due] = json.loads(out)
    assert code == 0 and (due["break_glass"], due["reviewed_by"]) == (True, None)  # due within 72 h, not overdue
    assert charter(home, "approvals", "review", due["id"], "-j", "outage was real", actor="local:rita")[0] == 0
    code, out, _ = charter(home, "approvals", "list", "--unreviewed", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_promote_on_a_server(home: Path, policies: Path, served: dict[str, str], tmp_path: Path) -> None:
    assert charter(home, "policy", "add", str(policies))[0] == 0
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(POLICY.replace(">= 0.82", ">= 0.5"))
    code, _, err = remote(served, "credit-risk@2", "--to", "prod", "--policy", str(lenient), token="developer",
                          command="promote")  # fmt: skip
    assert code == 1 and f"policy 'high-risk-deploy' in {lenient} differs from the stored high-risk-deploy@1" in err
    code, out, _ = remote(served, "credit-risk@1", "--to", "prod", "-j", "first model", token="developer",
                          command="promote")  # fmt: skip
    assert code == 1 and out.startswith("Gate credit-risk@1 -> prod: PENDING APPROVAL")
    request = out.split("Change request ")[1].split()[0]
    assert f"waits for 1 more approval from risk-officer; approve with `charter approvals approve {request}" in out
    assert charter(home, "approvals", "approve", request, "-j", "reviewed", actor="local:rita")[0] == 0
    code, out, _ = remote(served, "credit-risk@1", "--to", "prod", "--json", token="developer", command="promote")
    done = json.loads(out)
    assert (code, done["status"], done["move"]["actor"]) == (0, "promoted", "ci:github")
    assert done["change_request"]["id"] == request and done["change_request"]["state"] == "executed"
    code, out, _ = charter(home, "model", "show", "credit-risk", "--json")
    assert json.loads(out)["aliases"] == {"prod": 1}


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


@pytest.mark.parametrize("where", ["database", "server"])
@pytest.mark.parametrize("template", ["github", "gitlab"])
def test_the_ci_templates_run_the_gate(
    home: Path, policies: Path, template: str, where: str, request: pytest.FixtureRequest
) -> None:
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
    if where == "server":  # what the runner holds then: the server's URL and a token, no home nor database
        served = request.getfixturevalue("served")
        env = {k: v for k, v in env.items() if k != "CHARTER_HOME"}
        env |= {"CHARTER_SERVER": served["url"], "CHARTER_TOKEN": served["officer"], "CHARTER_DATABASE_URL": ""}
    blocked = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env={**env, "MODEL_REF": "credit-risk@2"},
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert blocked.returncode == 1, blocked.stderr
    assert "BLOCKED" in blocked.stdout
    assert ET.parse(repo / "charter-gate.junit.xml").getroot().get("failures") == "2"
    assert (repo / "charter-gate.md").read_text().startswith("### ⛔")
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
