"""Importing inventory from other tools into the registry: MLflow models, DVC datasets and pipelines.

Running an import again changes nothing that is already in: a version is recognised by
its artifact's digest, and an alias that already points at the right version stays.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.errors import InvalidInput, NotFound
from charter.integrations.dvc import read_repo
from charter.integrations.mlflow import MlflowModel, MlflowReader, MlflowRun, MlflowVersion
from charter.services import aliases
from charter.services.artifacts import ArtifactDigest, digest_path, file_md5
from charter.services.context import Context
from charter.services.registry import (
    ModelSpec,
    get_model,
    list_versions,
    register_model,
    register_version,
)
from charter.vocabulary import RISK_TIERS, TASKS

#: MLflow model tags that carry Charter's fields.
TASK_TAG = "charter.task"
RISK_TAG = "charter.risk_tier"
OWNER_TAG = "owner"


@dataclass
class ImportReport:
    models_created: list[str] = field(default_factory=list)
    versions_created: list[str] = field(default_factory=list)
    versions_unchanged: list[str] = field(default_factory=list)
    aliases_moved: list[str] = field(default_factory=list)
    datasets_created: list[str] = field(default_factory=list)
    dataset_versions_created: list[str] = field(default_factory=list)
    edges_added: list[str] = field(default_factory=list)
    inputs_skipped: list[str] = field(default_factory=list)
    evaluations_recorded: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.models_created
            or self.versions_created
            or self.aliases_moved
            or self.datasets_created
            or self.dataset_versions_created
            or self.edges_added
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_mlflow(
    context: Context,
    tracking_uri: str,
    *,
    registry_uri: str | None = None,
    names: Sequence[str] = (),
    task: str | None = None,
    risk_tier: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Registered models, their versions (artifacts hashed), aliases and training runs from MLflow."""
    if task is not None and task not in TASKS:
        raise InvalidInput(f"--task {task!r} is not one of {', '.join(TASKS)}")
    if risk_tier is not None and risk_tier not in RISK_TIERS:
        raise InvalidInput(f"--risk-tier {risk_tier!r} is not one of {', '.join(RISK_TIERS)}")
    reader = MlflowReader(tracking_uri, registry_uri)
    found = reader.models(names)
    # Everything is read and checked before anything is written: each model's spec, every artifact
    # fetched and hashed (and not a registered version's changed in place), every run read.
    specs = {model.name: _spec(context, model, task, risk_tier) for model in found}
    fetched = {model.name: _fetch(context, reader, model, progress) for model in found}
    report = ImportReport()
    for model in found:
        spec = specs[model.name]
        if spec is not None:
            register_model(context, spec)
            report.models_created.append(model.name)
        _import_versions(context, model, fetched[model.name], report)
    return report


Fetched = list[tuple[MlflowVersion, ArtifactDigest, MlflowRun | None]]


def _fetch(
    context: Context, reader: MlflowReader, model: MlflowModel, progress: Callable[[str], None] | None
) -> Fetched:
    """Each version's artifact digest (under its MLflow source) and run; refuses weights changed in place."""
    from charter.services.registry import check_new_artifact

    found: Fetched = []
    for version in model.versions:
        if progress is not None:
            progress(f"{model.name} version {version.version}")
        with tempfile.TemporaryDirectory(prefix="charter-mlflow-") as scratch:
            digest = dataclasses.replace(digest_path(reader.download(version, Path(scratch))), uri=version.source)
        check_new_artifact(context, model.name, digest)
        found.append((version, digest, reader.run(version.run_id)))
    return found


def _spec(context: Context, model: MlflowModel, task: str | None, risk_tier: str | None) -> ModelSpec | None:
    """The spec for a model Charter does not have yet (None when it exists)."""
    try:
        get_model(context, model.name)
        return None
    except NotFound:
        pass
    chosen_task = model.tags.get(TASK_TAG) or task
    chosen_risk = model.tags.get(RISK_TAG) or risk_tier
    for value, tag, option in ((chosen_task, TASK_TAG, "--task"), (chosen_risk, RISK_TAG, "--risk-tier")):
        if value is None:
            raise InvalidInput(
                f"MLflow model {model.mlflow_name or model.name!r} has no {tag!r} tag: give {option} for models "
                "that do not say"
            )
    skip = {TASK_TAG, RISK_TAG, OWNER_TAG}
    return ModelSpec(
        name=model.name,
        task=str(chosen_task),
        risk_tier=str(chosen_risk),
        owner=model.tags.get(OWNER_TAG, ""),
        description=model.description,
        tags=tuple(f"{k}={v}" for k, v in sorted(model.tags.items()) if k not in skip)
        + ((f"mlflow.name={model.mlflow_name}",) if model.mlflow_name else ()),
    ).checked()


def _import_versions(context: Context, model: MlflowModel, fetched: Fetched, report: ImportReport) -> None:
    known = {v.artifact_sha256: v.version for v in list_versions(context, model.name)}
    by_digest = dict(known)
    charter_version: dict[int, int] = {}  # MLflow version -> Charter version
    for version, digest, run in fetched:
        ref = f"{model.name} (MLflow version {version.version})"
        if digest.sha256 in by_digest:
            charter_version[version.version] = by_digest[digest.sha256]
            report.versions_unchanged.append(ref)
            continue
        registered = register_version(
            context,
            model.name,
            digest,
            framework="mlflow",
            source_commit=run.git_commit if run else "",
            source_url=f"mlflow-run:{version.run_id}" if version.run_id else "",
            training_run=run.to_dict() if run else None,
        )
        by_digest[digest.sha256] = registered.version
        charter_version[version.version] = registered.version
        report.versions_created.append(registered.ref)
        for item in run.inputs if run else ():
            _import_input(context, registered.ref, str(version.run_id), item, report)
        if run is not None and run.metrics:
            _import_metrics(context, registered.ref, run, report)
    current = get_model(context, model.name).aliases
    for alias, mlflow_version in sorted(model.aliases.items()):
        target = charter_version.get(mlflow_version)
        if target is None or current.get(alias) == target:
            continue
        aliases.set_alias(context, f"{model.name}@{target}", alias)
        report.aliases_moved.append(f"{model.name}:{alias} -> {target}")


#: MLflow's ``mlflow.data.context`` input tag -> the lineage role of the edge to the model version.
INPUT_ROLES = {"training": "training", "train": "training", "validation": "validation", "val": "validation",
               "evaluation": "evaluation", "eval": "evaluation", "test": "evaluation"}  # fmt: skip


def _import_input(context: Context, model_ref: str, run_id: str, item: dict[str, str], report: ImportReport) -> None:
    """A run's dataset input as a dataset version and a lineage edge to the model version, when its file is here.

    MLflow records a dataset's source (for local data, JSON such as ``{"uri": "/data/x.csv"}``)
    and its own digest, not the data; Charter can fingerprint and profile the input only when
    that source is a CSV or Parquet file this machine can read. Other inputs are reported.
    """
    from charter.errors import CharterError, Conflict
    from charter.services.datasets import DatasetSpec, add_dataset_version, list_dataset_versions, register_dataset
    from charter.services.lineage import add_edge

    what = f"{model_ref} input {item.get('name') or '?'}"
    path = _local_source(item.get("source", ""))
    if path is None or not path.is_file() or not path.name.lower().endswith(TABULAR_SUFFIXES):
        report.inputs_skipped.append(
            f"{what} ({item.get('source_type') or 'unknown'} source {item.get('source')!r}): not a CSV or Parquet "
            "file on this machine; register it with `charter dataset add-version` and `charter lineage add`"
        )
        return
    name = dataset_name_for(Path(item.get("name") or path.name))
    try:
        known = {v.sha256: v.ref for v in list_dataset_versions(context, name)}
    except NotFound:
        register_dataset(context, DatasetSpec(name=name, source_uri=path.resolve().as_uri()))
        report.datasets_created.append(name)
        known = {}
    digest = digest_path(path)
    ref = known.get(digest.sha256)
    try:
        if ref is None:
            origin = {
                "kind": "mlflow",
                "run_id": run_id,
                "name": item.get("name", ""),
                "digest": item.get("digest", ""),
            }
            ref = add_dataset_version(context, name, path, digest=digest, origin=origin).ref
            report.dataset_versions_created.append(ref)
        role = INPUT_ROLES.get(item.get("context", "").lower(), "training")
        add_edge(context, ref, to_model=model_ref, role=role, transform="mlflow-run", code_ref=f"mlflow-run:{run_id}")
    except Conflict:
        return
    except CharterError as exc:
        report.inputs_skipped.append(f"{what} ({path}): {exc.message}")
        return
    report.edges_added.append(f"{ref} -> {model_ref} ({role})")


def _import_metrics(context: Context, model_ref: str, run: Any, report: ImportReport) -> None:
    """The run's final metrics as an evaluation (source ``mlflow``), on its evaluation input when it names one."""
    import math

    from charter.services.evaluation import record_evaluation

    metrics = {k: float(v) for k, v in run.metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
    if not metrics:
        return
    evaluated = [i for i in run.inputs if INPUT_ROLES.get(i.get("context", "").lower()) == "evaluation"]
    dataset = (evaluated[0].get("name") if evaluated else "") or f"mlflow-run:{run.run_id}"
    found = record_evaluation(context, model_ref, dataset=dataset, metrics=metrics, source="mlflow",
                              notes=[f"logged by MLflow run {run.run_id}; not recomputed by Charter"])  # fmt: skip
    report.evaluations_recorded.append(f"{model_ref} on {found.dataset}")


def _local_source(source: str) -> Path | None:
    """The local path an MLflow dataset source names (JSON with a uri or path, a file: URI, or a path)."""
    import json
    from urllib.parse import unquote, urlparse

    text = source.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        text = str(parsed.get("uri") or parsed.get("path") or "") if isinstance(parsed, dict) else ""
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    return Path(text) if text.startswith("/") else None


# ---- DVC ----------------------------------------------------------------------------------------

TABULAR_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".pq")


@dataclass
class DvcReport:
    datasets_created: list[str] = field(default_factory=list)
    versions_created: list[str] = field(default_factory=list)
    versions_unchanged: list[str] = field(default_factory=list)
    edges_added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.datasets_created or self.versions_created or self.edges_added)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def dataset_name_for(path: Path) -> str:
    """``data/raw.csv`` -> ``data-raw``: the path without its data suffix, as a Charter name."""
    text = path.as_posix()
    for suffix in TABULAR_SUFFIXES:
        if text.lower().endswith(suffix):
            text = text[: -len(suffix)]
            break
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug[:100] or "dataset"


def _parquet_folder(path: Path) -> bool:
    """A folder output (``dvc add data/parts``) that holds Parquet files: one dataset version, as the CLI takes it."""
    return path.is_dir() and any(p.suffix.lower() == ".parquet" for p in path.rglob("*") if p.is_file())


def import_dvc(context: Context, root: Path) -> DvcReport:
    """Dataset versions from a DVC repository's tracked CSV/Parquet outputs; its stages as lineage."""
    from charter.errors import Conflict
    from charter.services.datasets import (
        DatasetSpec,
        add_dataset_version,
        list_dataset_versions,
        list_datasets,
        register_dataset,
    )
    from charter.services.lineage import add_edge
    from charter.services.tabular import read_table

    repo = read_repo(root)
    report = DvcReport()
    refs: dict[Path, str] = {}
    known = {d.name for d in list_datasets(context)}
    chosen = []
    for out in dict.fromkeys(repo.outputs):
        file = root / out.path
        if not (out.path.as_posix().lower().endswith(TABULAR_SUFFIXES) or _parquet_folder(file)):
            report.skipped.append(f"{out.path}: not a CSV or Parquet file, nor a folder of Parquet files")
        elif not file.exists():
            report.skipped.append(f"{out.path}: not in the workspace (run `dvc pull` or `dvc checkout` first)")
        elif out.plain_md5 and out.md5 and file.is_file() and (found := file_md5(file)) != out.md5:
            report.skipped.append(
                f"{out.path}: changed since DVC recorded it (md5 {out.md5} in {out.recorded_in}, {found} on disk); "
                "run `dvc add`, `dvc repro` or `dvc checkout` first"
            )
        else:
            read_table(file)  # every output is read and checked before anything is written
            chosen.append(out)
    for out in chosen:
        file = root / out.path
        name = dataset_name_for(out.path)
        if name not in known:
            register_dataset(context, DatasetSpec(name=name, source_uri=f"dvc:{out.path.as_posix()}"))
            known.add(name)
            report.datasets_created.append(name)
        digest = digest_path(file)
        existing = {v.sha256: v.ref for v in list_dataset_versions(context, name)}
        if digest.sha256 in existing:
            refs[out.path] = existing[digest.sha256]
            report.versions_unchanged.append(existing[digest.sha256])
            continue
        version = add_dataset_version(context, name, file, digest=digest, origin=out.origin())
        refs[out.path] = version.ref
        report.versions_created.append(version.ref)
    for stage in repo.stages:
        code = [dep.as_posix() for dep in stage.deps if dep not in refs]
        parameters = {**stage.params, "code": code, "lock_file": stage.lock_file}
        for target in stage.outs:
            for dep in stage.deps:
                if target not in refs or dep not in refs:
                    continue
                try:
                    add_edge(context, refs[dep], to_dataset=refs[target], transform=stage.name, code_ref=stage.cmd,
                             parameters=parameters)  # fmt: skip
                except Conflict:
                    continue
                report.edges_added.append(f"{refs[dep]} -> {refs[target]} ({stage.name})")
    return report
