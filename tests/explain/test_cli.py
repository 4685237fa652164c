"""``charter explain`` and ``charter evaluate --no-explain`` from the command line (typer's CliRunner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import charter
from charter.cli.main import app
from tests.explain.conftest import FEATURES, Models, logit

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args], env={"CHARTER_ACTOR": "local:ada"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert run(home, "init")[0] == 0
    return home


@pytest.fixture
def home(bare: Path, tmp_path: Path, models: Models, holdout: pd.DataFrame) -> Path:
    home = bare
    artifact = shutil.copy(models["gbm_file"], tmp_path / "credit.pkl")
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    for args in (
        ("dataset", "register", "holdout", "--legal-basis", "contract"),
        ("dataset", "add-version", "holdout", str(tmp_path / "holdout.csv")),
        ("model", "register", "credit-risk", "--task", "binary_classification", "--risk-tier", "high"),
        ("model", "add-version", "credit-risk", str(artifact), "--framework", "sklearn"),
    ):
        code, _, err = run(home, *args)
        assert code == 0, (args, err)
    return home


def test_evaluate_explains_unless_told_not_to(home: Path) -> None:
    code, out, err = run(home, "evaluate", "credit-risk@1", "--dataset", "holdout@1", "--label", "default")
    assert code == 0, err
    assert "  explained (shap tree, 200 rows): income " in out and "  protected share " in out
    code, out, err = run(home, "evaluate", "credit-risk@1", "--dataset", "holdout@1", "--label", "default",
                         "--no-explain", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["explanations"] is None


def test_explain_a_logged_decision(home: Path, models: Models, holdout: pd.DataFrame) -> None:
    with charter.connect(home) as cx:
        governed = cx.wrap(models["gbm"], "credit-risk@1")
        governed.predict_proba(holdout[FEATURES][:3])
        decision = governed.last_decision_ids[1]
    code, out, err = run(home, "explain", decision)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Decision {decision} of credit-risk@1"
    assert "  method: shap (tree), explaining the log-odds" in lines
    assert "  additivity holds (difference " in out
    expected = logit(models["gbm"].predict_proba(holdout[FEATURES][1:2])[:, 1])[0]
    code, out, err = run(home, "explain", decision, "--model", "credit-risk", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["model_output"] == pytest.approx(expected) and found["additive"] is True
    assert found["base_value"] + sum(c["contribution"] for c in found["contributions"]) == pytest.approx(expected)
    assert found["contributions"][0]["feature"] in ("income", "debt")
    code, out, err = run(home, "explain", decision, "--method", "lime")
    assert code == 0, err
    assert "  surrogate fit R² " in out and "LIME fits a local linear surrogate" in out
    assert "additivity" not in out  # LIME makes no claim to add up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("01890000-0000-7000-8000-000000000000",), "Error: no decision '01890000-0000-7000-8000-000000000000' in "
                                                    "the decision lake (searched: no model has logged decisions yet)"),
        (("not-an-id",), "Error: 'not-an-id' is not a decision id (the UUID text log() returns, lower case)"),
        (("01890000-0000-7000-8000-000000000000", "--method", "anchors"),
         "Error: --method 'anchors' is not one of shap, lime"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line(bare: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = run(bare, "explain", *args)
    assert (code, out, err.strip()) == (1, "", message)
