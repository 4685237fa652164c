"""charter apply / charter diff from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()
MANIFEST = """apiVersion: charter.dev/v1
kind: Model
metadata: {name: credit-risk}
spec: {task: binary_classification, riskTier: high, owner: alice}
"""


def charter(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_diff_then_apply_then_in_sync(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    (tmp_path / "gov.yaml").write_text(MANIFEST)
    code, out, _ = charter(home, "diff", "-f", str(tmp_path / "gov.yaml"))
    assert code == 1
    assert "+ Model credit-risk (create" in out
    code, out, err = charter(home, "apply", "-f", str(tmp_path / "gov.yaml"), "--json")
    assert code == 1
    assert err.startswith("Error: not applying without confirmation: run again with --yes")
    code, out, err = charter(home, "apply", "-f", str(tmp_path / "gov.yaml"), "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["applied"] is True
    code, out, _ = charter(home, "diff", "-f", str(tmp_path / "gov.yaml"), "--json")
    assert code == 0
    assert [c["action"] for c in json.loads(out)] == ["unchanged"]
    code, out, _ = charter(home, "apply", "-f", str(tmp_path / "gov.yaml"), "--yes")
    assert code == 0
    assert "No changes." in out
    # A diff that cannot tell exits 2, not 1 (drift), so a CI step tells the two apart.
    code, _, err = charter(home, "diff", "-f", str(tmp_path / "missing.yaml"))
    assert code == 2 and err.startswith("Error: ") and "missing.yaml" in err
    (tmp_path / "broken.yaml").write_text("kind: Model\nspec: [\n")
    assert charter(home, "diff", "-f", str(tmp_path / "broken.yaml"))[0] == 2
    assert charter(tmp_path / "no-home", "diff", "-f", str(tmp_path / "gov.yaml"))[0] == 2


def test_a_schema_error_is_one_located_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    (tmp_path / "gov.yaml").write_text(MANIFEST.replace("riskTier", "riskTeir"))
    code, _, err = charter(home, "apply", "-f", str(tmp_path / "gov.yaml"), "--yes")
    assert code == 1
    assert err.startswith(f"Error: {tmp_path / 'gov.yaml'} line 4: Model credit-risk: unknown field 'riskTeir'")
