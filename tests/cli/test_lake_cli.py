"""``charter lake``, ``charter erase`` and ``charter audit verify --lake`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from deltalake import DeltaTable
from typer.testing import CliRunner

from charter.cli.main import app
from charter.config import load_settings
from charter.services import lake as lake_service
from charter.services.context import open_context
from tests.lake.test_table import decisions

runner = CliRunner()


def charter(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def _logged(home: Path) -> str:
    assert charter(home, "init")[0] == 0
    batch = decisions(12)
    with open_context(load_settings(home=home)) as context:
        lake_service.write_batch(context, "credit-risk", "decisions", batch, batch_id="b1")
        lake_service.write_batch(context, "credit-risk", "decisions", decisions(4, hour=3), batch_id="b2")
    return str(batch.column("decision_id")[5].as_py())


def test_the_lake_is_listed_shown_verified_and_erased(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _logged(home)
    code, out, err = charter(home, "lake", "list", "--json")
    assert code == 0, err
    assert [(m["model"], m["decisions"]) for m in json.loads(out)] == [("credit-risk", 16)]
    code, out, err = charter(home, "lake", "show", "credit-risk", "--limit", "3", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    code, out, err = charter(home, "audit", "verify", "--lake", "credit-risk")
    assert code == 0, err
    assert "Lake credit-risk intact: 2 batches, 16 rows, 0 erased by record" in out
    code, out, err = charter(home, "erase", "--subject", "s2")
    assert code == 0, err
    assert "Erased 5 decisions of the subject from 1 model(s)" in out
    assert charter(home, "audit", "verify", "--lake", "credit-risk")[0] == 0
    code, out, _ = charter(home, "lake", "compact", "credit-risk", "--json")
    assert code == 0 and "decisions" in json.loads(out)
    code, out, _ = charter(home, "lake", "retain", "credit-risk", "--days", "30")
    assert code == 0 and "deleted 0 decisions" in out


def test_a_tampered_lake_fails_verification_and_names_the_row(tmp_path: Path) -> None:
    home = tmp_path / "home"
    victim = _logged(home)
    DeltaTable(str(home / "lake" / "credit-risk" / "decisions")).update(
        updates={"age": "200"}, predicate=f"decision_id = '{victim}'"
    )
    code, out, _ = charter(home, "audit", "verify", "--lake", "credit-risk")
    assert code == 1
    assert f"changed: decisions row {victim} (batch b1)" in out
    code, out, _ = charter(home, "audit", "verify", "--lake", "credit-risk", "--json")
    report = json.loads(out)
    assert report["ok"] is True and report["lakes"][0]["problems"][0]["decision_id"] == victim


def test_lake_errors_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    code, _, err = charter(home, "lake", "show", "nothing")
    assert code == 1 and err.startswith("Error: no decisions logged for model 'nothing' yet")
    code, _, err = charter(home, "lake", "retain", "nothing", "--days", "0")
    assert code == 1 and err.startswith("Error: days must be a whole number of at least 1")
    code, _, err = charter(home, "audit", "verify", "--lake", "m", "--file", __file__)
    assert code == 1 and "cannot be used with --file" in err
