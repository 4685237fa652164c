"""Importing a real DVC repository (built with the dvc command) on both Charter backends."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput
from charter.services import audit
from charter.services.context import Context, open_context
from charter.services.datasets import resolve_dataset_version
from charter.services.home import init_home
from charter.services.imports import dataset_name_for, import_dvc
from charter.services.lineage import impact, upstream
from tests.conftest import IN_CI

DVC = Path(sys.executable).with_name("dvc")
FEATURIZE = """import csv, pickle, yaml
scale = yaml.safe_load(open("params.yaml"))["scale"]
rows = list(csv.DictReader(open("data/raw.csv")))
with open("data/features.csv", "w") as f:
    f.write("id,income_k\\n")
    for r in rows:
        f.write(f"{r['id']},{int(r['income']) / scale}\\n")
pickle.dump(len(rows), open("model.pkl", "wb"))
"""


def dvc(repo: Path, *args: str) -> None:
    subprocess.run([str(DVC), *args], cwd=repo, check=True, capture_output=True, timeout=120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if not DVC.exists():
        if IN_CI:
            pytest.fail("dvc is not installed (it is in the test extra)")
        pytest.skip("dvc is not installed")
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("id,income\n1,10000\n2,20000\n")
    (root / "featurize.py").write_text(FEATURIZE)
    (root / "params.yaml").write_text("scale: 1000\n")
    dvc(root, "init", "--no-scm", "-q")
    dvc(root, "add", "-q", "data/raw.csv")
    dvc(root, "stage", "add", "-q", "-n", "featurize", "-d", "data/raw.csv", "-d", "featurize.py", "-p", "scale",
        "-o", "data/features.csv", "-o", "model.pkl", f"{sys.executable} featurize.py")  # fmt: skip
    dvc(root, "repro", "-q")
    return root


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def test_outputs_become_versions_and_stages_become_lineage(context: Context, repo: Path) -> None:
    report = import_dvc(context, repo)
    assert report.datasets_created == ["data-raw", "data-features"]
    assert report.versions_created == ["data-raw@1", "data-features@1"]
    assert report.edges_added == ["data-raw@1 -> data-features@1 (featurize)"]
    assert report.skipped == ["model.pkl: not a CSV or Parquet file, nor a folder of Parquet files"]
    edge, source = upstream(context, "data-features@1", kind="dataset").inputs[0]
    assert (edge.transform, source.ref) == ("featurize", "data-raw@1")
    assert edge.parameters["params.yaml:scale"] == 1000
    assert edge.parameters["code"] == ["featurize.py"]
    assert impact(context, "data-raw@1").derived == ("data-features@1",)
    assert audit.verify_ledger(context).ok


def test_a_folder_of_parquet_files_is_one_dataset_version(context: Context, repo: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = repo / "data" / "parts"
    parts.mkdir()
    for number in (1, 2):
        pq.write_table(pa.table({"id": [number], "income": [number * 1000]}), parts / f"part-{number}.parquet")
    dvc(repo, "add", "-q", "data/parts")
    report = import_dvc(context, repo)
    assert "data-parts@1" in report.versions_created
    assert resolve_dataset_version(context, "data-parts@1").row_count == 2


def test_a_malformed_output_stops_the_import_before_any_write(context: Context, repo: Path) -> None:
    (repo / "data" / "z.csv").write_text("id,income\n1,10\n2,20,30\n")
    dvc(repo, "add", "-q", "data/z.csv")
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"z.csv"):
        import_dvc(context, repo)
    assert audit.ledger_size(context) == head  # data-raw, read before it, was not written either


def test_reimport_is_idempotent_and_new_data_makes_new_versions(context: Context, repo: Path) -> None:
    import_dvc(context, repo)
    head = audit.ledger_size(context)
    again = import_dvc(context, repo)
    assert not again.changed
    assert audit.ledger_size(context) == head
    (repo / "data" / "raw.csv").write_text("id,income\n1,10000\n2,20000\n3,30000\n")
    dvc(repo, "add", "-q", "data/raw.csv")
    dvc(repo, "repro", "-q")
    report = import_dvc(context, repo)
    assert report.versions_created == ["data-raw@2", "data-features@2"]
    assert report.edges_added == ["data-raw@2 -> data-features@2 (featurize)"]


def test_versions_keep_the_md5_dvc_recorded(context: Context, repo: Path) -> None:
    import hashlib

    import yaml

    from charter.services.datasets import resolve_dataset_version

    import_dvc(context, repo)
    raw = resolve_dataset_version(context, "data-raw@1")
    recorded = yaml.safe_load((repo / "data" / "raw.csv.dvc").read_text())["outs"][0]["md5"]
    assert recorded == hashlib.md5((repo / "data" / "raw.csv").read_bytes()).hexdigest()
    assert raw.origin == {"kind": "dvc", "path": "data/raw.csv", "md5": recorded, "recorded_in": "data/raw.csv.dvc"}
    features = resolve_dataset_version(context, "data-features@1")
    assert features.origin is not None and features.origin["recorded_in"] == "dvc.lock"
    assert raw.to_dict()["origin"] == raw.origin


def test_a_file_changed_since_dvc_recorded_it_is_skipped(context: Context, repo: Path) -> None:
    (repo / "data" / "raw.csv").write_text("id,income\n1,10000\n2,99999\n")
    report = import_dvc(context, repo)
    [message] = [m for m in report.skipped if m.startswith("data/raw.csv")]
    assert message.startswith("data/raw.csv: changed since DVC recorded it (md5 ")
    assert message.endswith("run `dvc add`, `dvc repro` or `dvc checkout` first")
    assert report.versions_created == ["data-features@1"]


def test_outputs_missing_from_the_workspace_are_skipped(context: Context, repo: Path) -> None:
    (repo / "data" / "features.csv").unlink()
    report = import_dvc(context, repo)
    assert "data/features.csv: not in the workspace (run `dvc pull` or `dvc checkout` first)" in report.skipped
    assert report.edges_added == []


def test_a_folder_without_dvc_is_refused(context: Context, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"is not a DVC repository \(no .dvc folder\); run `dvc init`"):
        import_dvc(context, tmp_path)


@pytest.mark.parametrize(
    ("path", "name"),
    [("data/raw.csv", "data-raw"), ("Data/Raw Files/2024.parquet", "data-raw-files-2024"), ("x.csv.gz", "x")],
)
def test_dataset_names_follow_paths(path: str, name: str) -> None:
    assert dataset_name_for(Path(path)) == name


def test_cli(tmp_path: Path, repo: Path) -> None:
    import json

    from typer.testing import CliRunner

    from charter.cli.main import app

    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    runner.invoke(app, [*home, "init"])
    result = runner.invoke(app, [*home, "import", "dvc", str(repo), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["versions_created"] == ["data-raw@1", "data-features@1"]
