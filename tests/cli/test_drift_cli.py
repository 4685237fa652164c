"""``charter metrics list`` and ``charter drift`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app
from charter.metrics.registry import all_metrics

runner = CliRunner()


def charter(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_metrics_are_listed(tmp_path: Path) -> None:
    code, out, _ = charter(tmp_path, "metrics", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [m["id"] for m in listed] == list(all_metrics())
    assert {"id": "drift.psi", "direction": "higher_is_worse", "threshold": 0.1}.items() <= listed[
        [m["id"] for m in listed].index("drift.psi")
    ].items()
    code, out, _ = charter(tmp_path, "metrics", "list", "--family", "fairness", "--json")
    assert code == 0 and {m["id"].split(".")[0] for m in json.loads(out)} == {"fairness"}
    code, out, _ = charter(tmp_path, "metrics", "list")
    assert code == 0 and "default threshold" in out and "higher is worse" in out
    code, _, err = charter(tmp_path, "metrics", "list", "--family", "vibes")
    assert code == 1 and "Error: --family: no family 'vibes' (families: anomaly, drift," in err


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    reference, same, moved = tmp_path / "reference.csv", tmp_path / "same.csv", tmp_path / "moved.csv"
    reference.write_text("x,colour\n" + "".join(f"{i % 50},c{i % 3}\n" for i in range(600)))
    same.write_text("x,colour\n" + "".join(f"{(i * 7) % 50},c{(i + 1) % 3}\n" for i in range(600)))
    moved.write_text("x,colour\n" + "".join(f"{i % 50 + 20},c{i % 5}\n" for i in range(600)))
    return reference, same, moved


def test_drift_of_a_file_against_a_reference_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert charter(home, "init")[0] == 0
    reference, same, moved = _files(tmp_path)
    code, out, err = charter(home, "drift", str(reference), str(same))
    assert code == 0, err
    assert "The dataset does not drift: 0 of 2 columns drifted" in out and "exact" in out
    code, out, err = charter(home, "drift", str(reference), str(moved), "--fail-on-drift")
    assert code == 1, err
    assert "The dataset drifts: 2 of 2 columns drifted (100%; the line is 50%)." in out
    code, out, err = charter(home, "drift", str(reference), str(moved), "--json", "--threshold", "x=0.0000001")
    report = json.loads(out)
    assert code == 0 and report["dataset_drift"] and report["rows"] == 600
    assert {c["column"]: c["threshold"] for c in report["columns"]}["x"] == 1e-7


def test_drift_options_are_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    reference, same, _ = _files(tmp_path)
    for args, message in [
        (("--threshold", "x"), "Error: --threshold 'x': expected COLUMN=VALUE"),
        (("--threshold", "x=high"), "Error: --threshold x=high: the threshold must be a number"),
        (("--test", "x=t_test"), "Error: tests: x: unknown test 't_test'"),
        (("--test", "y=ks"), "Error: tests: no column(s) y in the reference"),
        (("--share", "0"), "Error: share must be in (0, 1]"),
    ]:
        code, _, err = charter(home, "drift", str(reference), str(same), *args)
        assert code == 1 and err.startswith(message), (args, err)
    code, _, err = charter(home, "drift", "people@1", str(same))
    assert code == 1 and "Error: no dataset 'people'" in err
