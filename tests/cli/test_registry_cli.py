"""The registry from the command line: register, add versions, alias, list, show, history."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()


def charter(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_registry_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert charter(home, "init")[0] == 0
    code, out, err = charter(
        home, "model", "register", "credit-risk", "--task", "binary_classification", "--risk-tier", "high",
        "--owner", "alice", "--tag", "finance", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["tags"] == ["finance"]
    (tmp_path / "m1.bin").write_bytes(b"one")
    schema = tmp_path / "in.json"
    schema.write_text(json.dumps({"features": [{"name": "income", "type": "number", "min": 0}]}))
    code, out, err = charter(
        home, "model", "add-version", "credit-risk", str(tmp_path / "m1.bin"), "--framework", "sklearn",
        "--input-schema", str(schema), "--git-commit", "abc123", "--json",
    )  # fmt: skip
    assert code == 0, err
    version = json.loads(out)
    assert (version["ref"], version["artifact_size"], version["source_commit"]) == ("credit-risk@1", 3, "abc123")
    assert version["input_schema"]["features"][0]["name"] == "income"
    code, out, err = charter(home, "alias", "set", "credit-risk@1", "prod", "--json")
    assert code == 0, err
    assert json.loads(out)["to_version"] == 1
    code, out, _ = charter(home, "model", "list", "--alias", "prod", "--json")
    assert [m["aliases"] for m in json.loads(out)] == [{"prod": 1}]
    code, out, _ = charter(home, "model", "show", "credit-risk:prod", "--json")
    assert json.loads(out)["version"] == 1
    code, out, _ = charter(home, "model", "versions", "credit-risk", "--json")
    assert [v["version"] for v in json.loads(out)] == [1]
    code, out, _ = charter(home, "alias", "history", "credit-risk", "--json")
    assert [(m["from_version"], m["to_version"]) for m in json.loads(out)] == [(None, 1)]
    code, out, _ = charter(home, "alias", "remove", "credit-risk:prod", "--json")
    assert json.loads(out)["to_version"] is None
    assert charter(home, "audit", "verify")[0] == 0


def test_registry_errors_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    cases = [
        (("model", "show", "fraud"), "Error: no model 'fraud' (the registry has no models yet; add one with"),
        (
            ("model", "register", "x", "--task", "clustering", "--risk-tier", "high"),
            "Error: model x: task 'clustering' is not one of",
        ),
        (("model", "add-version", "x", str(tmp_path / "missing.bin")), f"Error: artifact {tmp_path / 'missing.bin'}"),
        (("model", "add-version", "x", "s3://bucket/m.bin"), "Error: artifact s3://bucket/m.bin is not a local file"),
        (("alias", "set", "x@1", "Prod"), "Error: alias 'Prod' is not valid"),
    ]
    for args, start in cases:
        code, out, err = charter(home, *args)
        assert code == 1, (args, out, err)
        assert err.startswith(start), err
        assert len(err.strip().splitlines()) == 1


def test_a_model_card_is_printed_or_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert charter(home, "init")[0] == 0
    assert charter(home, "model", "register", "credit-risk", "--task", "binary_classification",
                   "--risk-tier", "high", "--owner", "alice")[0] == 0  # fmt: skip
    (tmp_path / "m1.bin").write_bytes(b"one")
    assert charter(home, "model", "add-version", "credit-risk", str(tmp_path / "m1.bin"))[0] == 0
    assert charter(home, "alias", "set", "credit-risk@1", "prod")[0] == 0
    code, out, err = charter(home, "model", "card", "credit-risk:prod")
    assert code == 0, err
    assert out.startswith("# Model card: credit-risk@1\n") and "| Owner | alice |" in out
    assert "| Aliases | credit-risk:prod |" in out and "Global feature importance: not computed." in out
    written = tmp_path / "card.md"
    code, out, err = charter(home, "model", "card", "credit-risk@1", "--out", str(written))
    assert (code, out.strip()) == (0, f"Wrote the model card of credit-risk@1 to {written}"), err
    assert written.read_text().startswith("# Model card: credit-risk@1\n")
    code, _, err = charter(home, "model", "card", "credit-risk@4")
    assert code == 1 and "Error: credit-risk has no version 4 (versions: 1)" in err
