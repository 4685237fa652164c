"""Importing from a real MLflow tracking store (made by MLflow itself on SQLite), on both Charter backends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import IntegrityMismatch, InvalidInput
from charter.services import audit
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.imports import import_mlflow
from charter.services.registry import get_model, list_models, list_versions
from tests.conftest import IN_CI

try:
    import mlflow  # noqa: F401  (the test extra installs mlflow-skinny)
except ImportError:  # pragma: no cover
    if IN_CI:
        raise
    pytest.skip("mlflow is not installed (pip install -e '.[test]')", allow_module_level=True)


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def tracking(tmp_path: Path) -> dict[str, Any]:
    """An MLflow store: credit-risk with two versions (prod -> 2), fraud with one and no Charter tags."""
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("training", artifact_location=(tmp_path / "artifacts").as_uri())
    digests = {}
    client.create_registered_model(
        "credit-risk", tags={"charter.task": "binary_classification", "charter.risk_tier": "high", "owner": "alice"},
        description="scores loan applications",
    )  # fmt: skip
    client.create_registered_model("fraud")
    for name, number in (("credit-risk", 1), ("credit-risk", 2), ("fraud", 1)):
        run = client.create_run(experiment, tags={"mlflow.source.git.commit": f"commit-{name}-{number}"})
        client.log_metric(run.info.run_id, "roc_auc", round(0.8 + number / 100, 2))
        client.log_param(run.info.run_id, "max_depth", str(number + 2))
        inputs = [DatasetInput(Dataset("applicants", f"d{number}", "local", f"/data/applicants-{number}.csv"))]
        if name == "credit-risk":  # as mlflow.data records a local file: JSON source, context tag
            data = tmp_path / f"credit-{number}.csv"
            data.write_text("age,income,label\n30,1000,0\n40,2000,1\n" + "50,3000,1\n" * number)
            source = json.dumps({"uri": str(data)})
            inputs = [
                DatasetInput(Dataset("credit-train", f"t{number}", "local", source),
                             [InputTag("mlflow.data.context", "training")]),
                DatasetInput(Dataset("credit-holdout", "h", "local", json.dumps({"uri": data.as_uri()})),
                             [InputTag("mlflow.data.context", "eval")]),
            ]  # fmt: skip
        client.log_inputs(run.info.run_id, datasets=inputs)
        model_dir = tmp_path / "artifacts" / f"{name}-{number}"
        model_dir.mkdir(parents=True)
        (model_dir / "model.pkl").write_bytes(f"weights of {name} {number}".encode())
        client.create_model_version(name, model_dir.as_uri(), run_id=run.info.run_id)
        digests[(name, number)] = model_dir
    client.set_registered_model_alias("credit-risk", "prod", "2")
    return {"uri": uri, "dirs": digests}


def test_import_models_versions_aliases_and_runs(context: Context, tracking: dict[str, Any]) -> None:
    report = import_mlflow(context, tracking["uri"], task="regression", risk_tier="minimal")
    assert report.models_created == ["credit-risk", "fraud"]
    assert report.versions_created == ["credit-risk@1", "credit-risk@2", "fraud@1"]
    assert report.aliases_moved == ["credit-risk:prod -> 2"]
    model = get_model(context, "credit-risk")
    assert (model.task, model.risk_tier, model.owner, model.description) == (
        "binary_classification", "high", "alice", "scores loan applications",
    )  # fmt: skip
    assert model.aliases == {"prod": 2}
    assert get_model(context, "fraud").risk_tier == "minimal"
    second = list_versions(context, "credit-risk")[1]
    manifest = "charter.artifact.dir.v1\n" + (
        f"{hashlib.sha256(b'weights of credit-risk 2').hexdigest()} {len(b'weights of credit-risk 2')} model.pkl\n"
    )
    assert second.artifact_sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert second.source_commit == "commit-credit-risk-2"
    assert second.training_run is not None
    assert second.training_run["metrics"] == {"roc_auc": 0.82}
    assert second.training_run["params"] == {"max_depth": "4"}
    assert second.training_run["inputs"][0]["name"] == "credit-train"
    assert audit.verify_ledger(context).ok


def test_dataset_inputs_on_this_machine_become_versions_and_lineage(context: Context, tracking: dict[str, Any]) -> None:
    from charter.services.datasets import resolve_dataset_version
    from charter.services.lineage import impact, upstream

    report = import_mlflow(context, tracking["uri"], task="regression", risk_tier="minimal")
    assert report.datasets_created == ["credit-train", "credit-holdout"]
    # MLflow keeps one dataset per (name, digest) in an experiment: both runs name credit-1.csv as holdout.
    assert report.dataset_versions_created == ["credit-train@1", "credit-holdout@1", "credit-train@2"]
    assert report.edges_added == [
        "credit-train@1 -> credit-risk@1 (training)",
        "credit-holdout@1 -> credit-risk@1 (evaluation)",
        "credit-train@2 -> credit-risk@2 (training)",
        "credit-holdout@1 -> credit-risk@2 (evaluation)",
    ]
    assert report.inputs_skipped == [
        "fraud@1 input applicants (local source '/data/applicants-1.csv'): not a CSV or Parquet file on this "
        "machine; register it with `charter dataset add-version` and `charter lineage add`"
    ]
    train = resolve_dataset_version(context, "credit-train@2")
    assert train.row_count == 4 and train.origin is not None
    assert (train.origin["kind"], train.origin["name"], train.origin["digest"]) == ("mlflow", "credit-train", "t2")
    assert {(e.role, n.ref) for e, n in upstream(context, "credit-risk@2").inputs} == {
        ("training", "credit-train@2"),
        ("evaluation", "credit-holdout@1"),
    }
    assert [v.ref for v in impact(context, "credit-holdout@1").models] == ["credit-risk@1", "credit-risk@2"]
    from charter.services.evaluation import list_evaluations

    [evaluation] = list_evaluations(context, "credit-risk@2")
    assert (evaluation.source, evaluation.dataset, evaluation.metrics) == (
        "mlflow",
        "credit-holdout",
        {"roc_auc": 0.82},
    )
    assert report.evaluations_recorded == [
        "credit-risk@1 on credit-holdout",
        "credit-risk@2 on credit-holdout",
        "fraud@1 on mlflow-run:" + list_evaluations(context, "fraud@1")[0].dataset.removeprefix("mlflow-run:"),
    ]
    head = audit.ledger_size(context)
    assert not import_mlflow(context, tracking["uri"]).changed
    assert audit.ledger_size(context) == head


def test_running_an_import_again_changes_nothing(context: Context, tracking: dict[str, Any]) -> None:
    import_mlflow(context, tracking["uri"], task="regression", risk_tier="minimal")
    head = audit.ledger_size(context)
    again = import_mlflow(context, tracking["uri"])
    assert not again.changed
    assert len(again.versions_unchanged) == 3
    assert audit.ledger_size(context) == head


def test_weights_changed_behind_an_imported_version_are_refused(context: Context, tracking: dict[str, Any]) -> None:
    """Before, the changed weights became credit-risk@3 and prod moved to them."""
    import_mlflow(context, tracking["uri"], task="regression", risk_tier="minimal")
    (tracking["dirs"][("credit-risk", 2)] / "model.pkl").write_bytes(b"tampered")
    head = audit.ledger_size(context)
    with pytest.raises(IntegrityMismatch, match=r"is registered as credit-risk@2 with sha256 .* changed in place"):
        import_mlflow(context, tracking["uri"])
    assert get_model(context, "credit-risk").aliases == {"prod": 2}
    assert [v.version for v in list_versions(context, "credit-risk")] == [1, 2]
    assert audit.ledger_size(context) == head


def test_mlflow_names_that_are_not_charter_names_are_converted(
    context: Context, tracking: dict[str, Any], tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking["uri"], registry_uri=tracking["uri"])
    client.create_registered_model(
        "Credit Scoring V2", tags={"charter.task": "regression", "charter.risk_tier": "limited"}
    )
    weights = tmp_path / "artifacts" / "scoring"
    weights.mkdir(parents=True)
    (weights / "model.pkl").write_bytes(b"scoring weights")
    client.create_model_version("Credit Scoring V2", weights.as_uri())
    report = import_mlflow(context, tracking["uri"], names=["Credit Scoring V2"])
    assert report.models_created == ["credit-scoring-v2"]
    model = get_model(context, "credit-scoring-v2")
    assert "mlflow.name=Credit Scoring V2" in model.tags and len(list_versions(context, model.name)) == 1
    client.create_registered_model("credit scoring v2")
    with pytest.raises(InvalidInput, match=r"'Credit Scoring V2' and 'credit scoring v2' would both be Charter's "):
        import_mlflow(context, tracking["uri"], task="regression", risk_tier="limited")


def test_an_artifact_that_cannot_be_fetched_stops_the_import_before_any_write(
    context: Context, tracking: dict[str, Any]
) -> None:
    import shutil

    shutil.rmtree(tracking["dirs"][("fraud", 1)])  # the last model's artifact: credit-risk was read before it
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"cannot fetch the artifact of MLflow model fraud version 1"):
        import_mlflow(context, tracking["uri"], task="regression", risk_tier="minimal")
    assert list_models(context) == [] and audit.ledger_size(context) == head


def test_models_without_a_task_need_one_and_nothing_is_written(context: Context, tracking: dict[str, Any]) -> None:
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"MLflow model 'fraud' has no 'charter.task' tag: give --task"):
        import_mlflow(context, tracking["uri"], risk_tier="minimal")
    assert list_models(context) == []
    assert audit.ledger_size(context) == head


def test_an_unknown_model_lists_what_mlflow_has(context: Context, tracking: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match=r"has no registered model 'churn' \(models: credit-risk, fraud\)"):
        import_mlflow(context, tracking["uri"], names=["churn"])


def test_the_cli_imports_and_reports(tmp_path: Path, tracking: dict[str, Any]) -> None:
    import json

    from typer.testing import CliRunner

    from charter.cli.main import app

    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    runner.invoke(app, [*home, "init"])
    args = [*home, "import", "mlflow", "--tracking-uri", tracking["uri"], "--risk-tier", "limited", "--task", "ranking"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["versions_created"] == ["credit-risk@1", "credit-risk@2", "fraud@1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "0 new model(s), 0 new version(s), 3 already here, 0 alias move(s)" in result.stdout
