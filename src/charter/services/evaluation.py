"""Evaluating a model version on registered data: integrity first, then predictions, scorecard, suites.

``evaluate`` refuses to load an artifact whose bytes are not the ones the registry recorded
(tampered weights: a pickle runs code when loaded), and refuses data whose file changed since
it was registered. The refusal itself is recorded on the ledger (``model.integrity_failed``)
so that an attempt to slip in other weights leaves a trace. Then it predicts on the dataset
version, computes the scorecard (:mod:`charter.metrics.scorecard`), fairness on every column
classified as protected, per-slice metrics, the version's SHAP explanation (feature importance,
the share on protected attributes and their proxies: :mod:`charter.services.explanations`) and
edge-case suites, and stores it all as one evaluation (``model.evaluated``) for gates to read.

Evaluations logged by a training pipeline (``record_evaluation``: the SDK, an MLflow import)
are stored the same way with their source, so a gate can tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select

from charter.clock import format_timestamp
from charter.errors import IntegrityMismatch, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import append, unit_of_work
from charter.services.artifacts import digest_path
from charter.services.context import Context
from charter.services.datasets import DatasetVersion, resolve_dataset_version
from charter.services.registry import ModelVersion, get_model, resolve_version
from charter.store.schema import evaluations, model_versions

if TYPE_CHECKING:  # Arrow and NumPy load when an evaluation runs, not when results are read (gates)
    import numpy as np
    import pyarrow as pa

SOURCES = ("charter", "sdk", "mlflow")
LABEL_NAMES = ("label", "target", "y", "outcome")


@dataclass(frozen=True)
class Evaluation:
    id: str
    model: str
    version: int
    dataset: str
    source: str
    label: str
    rows: int
    metrics: dict[str, float]
    slices: dict[str, dict[str, dict[str, Any]]]
    fairness: dict[str, dict[str, Any]]
    suites: dict[str, dict[str, Any]]
    notes: list[str]
    created_by: str
    created_at: str
    explanations: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


@dataclass(frozen=True)
class Runner:
    """How to get predictions when the artifact cannot be loaded here: a command or an HTTP endpoint."""

    command: tuple[str, ...] = ()
    endpoint: str = ""


@dataclass
class _Scored:
    labels: np.ndarray
    scores: np.ndarray | None
    positive: Any
    notes: list[str] = field(default_factory=list)


def local_path(uri: str) -> Path | None:
    """The file a ``file:`` URI (or a plain absolute path) names; None for anything remote."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    return Path(uri) if uri.startswith("/") else None


def verify_artifact(context: Context, version: ModelVersion) -> Path:
    """The version's artifact on this machine, once its SHA-256 is the registered one."""
    path = local_path(version.artifact_uri)
    if path is None:
        raise InvalidInput(
            f"{version.ref}: the artifact {version.artifact_uri} is not on this machine; evaluate it with "
            "--command or --endpoint, or fetch it and register the local copy"
        )
    if not path.exists():
        raise InvalidInput(f"{version.ref}: the artifact {path} does not exist (moved or deleted since registration)")
    found = digest_path(path).sha256
    if found != version.artifact_sha256:
        _record_mismatch(context, f"model:{version.model}", version.ref, path, version.artifact_sha256, found)
        raise IntegrityMismatch(
            f"{version.ref}: the artifact {path} has sha256 {found[:16]}…, but {version.artifact_sha256[:16]}… was "
            "registered; it was changed or replaced after registration, so Charter will not load it"
        )
    return path


def verify_data(context: Context, dataset: DatasetVersion) -> Path:
    path = local_path(dataset.uri)
    if path is None or not path.exists():
        raise InvalidInput(
            f"{dataset.ref}: its data {dataset.uri} is not a file on this machine; evaluation reads registered files"
        )
    found = digest_path(path).sha256
    if found != dataset.sha256:
        _record_mismatch(context, f"dataset:{dataset.dataset}", dataset.ref, path, dataset.sha256, found)
        raise IntegrityMismatch(
            f"{dataset.ref}: {path} has sha256 {found[:16]}…, but {dataset.sha256[:16]}… was registered; "
            "register the new content as a new version"
        )
    return path


def _record_mismatch(context: Context, subject: str, ref: str, path: Path, expected: str, found: str) -> None:
    append(
        context.engine, actor=context.actor, clock=context.clock, action="model.integrity_failed", subject=subject,
        payload={"ref": ref, "path": str(path), "expected_sha256": expected, "found_sha256": found},
    )  # fmt: skip


def evaluate(
    context: Context,
    reference: str,
    *,
    dataset: str,
    label: str | None = None,
    slices: Sequence[str] = (),
    suites: Sequence[Path] = (),
    runner: Runner | None = None,
    positive: Any = None,
    progress: Callable[[str], None] | None = None,
    explain: bool = True,
) -> Evaluation:
    """Run ``reference`` on ``dataset`` and store the scorecard; see the module docstring.

    ``explain``: also compute the version's global SHAP explanation (:mod:`charter.services.explanations`).
    """
    from charter.integrations.frameworks import command_model, http_model, load_model
    from charter.metrics.scorecard import fairness_metrics, performance_metrics, slice_metrics
    from charter.services.suites import load_suite, run_suite
    from charter.services.tabular import read_table

    step = progress or (lambda _: None)
    version = resolve_version(context, reference)
    task = get_model(context, version.model).task
    data_version = resolve_dataset_version(context, dataset)
    loaded_suites = [load_suite(path) for path in suites]  # a malformed suite fails before any work
    step(f"checking {data_version.ref}")
    table = read_table(verify_data(context, data_version), None)
    label = _label_column(table, label, version, data_version)
    for column in slices:
        if column not in table.column_names:
            raise InvalidInput(f"--slice {column!r}: {data_version.ref} has no such column ({_columns(table)})")
    features = _features(table, label, version)
    step(f"loading {version.ref}")
    if runner is not None and runner.command:
        adapter = command_model(runner.command)
    elif runner is not None and runner.endpoint:
        adapter = http_model(runner.endpoint)
    else:
        adapter = load_model(verify_artifact(context, version), framework=version.framework, feature_names=features)
    step(f"predicting {table.num_rows} rows")
    predictions = adapter.predict(table.select(features))
    scored = _scored(task, predictions, table.column(label), positive)
    y_true = _values(table.column(label))
    notes = scored.notes
    metrics = performance_metrics(
        task, y_true, scored.labels, scores=scored.scores, positive=scored.positive, notes=notes
    )
    by_slice = {
        column: slice_metrics(task, y_true, scored.labels, table.column(column).to_pylist(), scores=scored.scores,
                              positive=scored.positive, notes=notes)
        for column in slices
    }  # fmt: skip
    fairness: dict[str, dict[str, Any]] = {}
    if task == "binary_classification":
        for column in (c.name for c in data_version.columns if c.protected and c.name in table.column_names):
            found = fairness_metrics(y_true, scored.labels, table.column(column).to_pylist(),
                                     positive=scored.positive, attribute=column, notes=notes)  # fmt: skip
            if found is not None:
                fairness[column] = found
    else:
        notes.append(f"fairness: computed for binary classifiers; this model's task is {task}")
    explanations = None
    if explain:
        from charter.services.explanations import explain_evaluation

        step("explaining")
        explanations, explain_notes = explain_evaluation(
            None if adapter.kind in ("command", "http") else adapter,
            table,
            features,
            task=task,
            data=data_version,
            name=version.ref,
        )
        notes.extend(explain_notes)
    suite_results: dict[str, dict[str, Any]] = {}
    for suite in loaded_suites:
        step(f"running suite {suite.name}")
        suite_results[suite.name] = run_suite(suite, adapter, table.select(features)).to_dict()
    return _store(
        context, version, dataset=data_version.ref, dataset_version_id=data_version.id, source="charter", label=label,
        rows=table.num_rows, metrics=metrics, slices=by_slice, fairness=fairness, suites=suite_results, notes=notes,
        explanations=explanations,
    )  # fmt: skip


def record_evaluation(
    context: Context,
    reference: str,
    *,
    dataset: str,
    metrics: Mapping[str, float],
    source: str = "sdk",
    label: str = "",
    rows: int = 0,
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    fairness: Mapping[str, Mapping[str, Any]] | None = None,
    notes: Sequence[str] = (),
) -> Evaluation:
    """Store results computed elsewhere (a training pipeline, MLflow); ``dataset`` is a ref or a free name."""
    if source not in SOURCES:
        raise InvalidInput(f"evaluation source {source!r} is not one of {', '.join(SOURCES)}")
    version = resolve_version(context, reference)
    checked: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise InvalidInput(f"evaluation of {version.ref}: metric {name!r} is {value!r}, not a finite number")
        checked[str(name)] = float(value)
    if not checked:
        raise InvalidInput(f"evaluation of {version.ref}: no metrics given")
    dataset_version_id = None
    if "@" in dataset:
        dataset_version_id = resolve_dataset_version(context, dataset).id
    return _store(
        context, version, dataset=dataset, dataset_version_id=dataset_version_id, source=source, label=label,
        rows=rows, metrics=checked, slices={k: {a: dict(b) for a, b in v.items()} for k, v in (slices or {}).items()},
        fairness={k: dict(v) for k, v in (fairness or {}).items()}, suites={}, notes=list(notes),
    )  # fmt: skip


def _store(context: Context, version: ModelVersion, **fields: Any) -> Evaluation:
    row = {
        "id": new_id(),
        "version_id": version.id,
        **fields,
        "created_by": context.actor,
        "created_at": format_timestamp(context.clock.now()),
    }
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        uow.execute(evaluations.insert().values(row))
        uow.record("model.evaluated", f"model:{version.model}", {
            "evaluation": row["id"], "version": version.version, "dataset": fields["dataset"],
            "source": fields["source"], "metrics": fields["metrics"], "fairness": _headline(fields["fairness"]),
            "suites": {k: {"passed": v.get("passed"), "total": v.get("total")} for k, v in fields["suites"].items()},
            **({"explanations": {k: fields["explanations"][k] for k in ("method", "top_features", "protected_share")}}
               if fields.get("explanations") else {}),
        })  # fmt: skip
    return _evaluation(row, version.model, version.version)


def list_evaluations(context: Context, reference: str) -> list[Evaluation]:
    """A version's evaluations, newest first."""
    version = resolve_version(context, reference)
    with context.engine.connect() as connection:
        rows = connection.execute(
            select(evaluations).where(evaluations.c.version_id == version.id).order_by(evaluations.c.created_at.desc())
        ).mappings()
        return [_evaluation(dict(r), version.model, version.version) for r in rows]


def get_evaluation(context: Context, evaluation_id: str) -> Evaluation:
    from charter.store.schema import models

    with context.engine.connect() as connection:
        row = (
            connection.execute(
                select(evaluations, model_versions.c.version.label("model_version"), models.c.name.label("model"))
                .join(model_versions, model_versions.c.id == evaluations.c.version_id)
                .join(models, models.c.id == model_versions.c.model_id)
                .where(evaluations.c.id == evaluation_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"no evaluation {evaluation_id!r}; `charter evaluations MODEL@VERSION` lists them")
    data = dict(row)
    return _evaluation(data, data.pop("model"), data.pop("model_version"))


def _evaluation(row: Mapping[str, Any], model: str, version: int) -> Evaluation:
    names = Evaluation.__dataclass_fields__
    values = {k: v for k, v in row.items() if k in names}
    return Evaluation(**{**values, "model": model, "version": version})


def _headline(fairness: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {attr: {k: v for k, v in found.items() if k != "groups"} for attr, found in fairness.items()}


def _columns(table: pa.Table) -> str:
    return "columns: " + ", ".join(table.column_names)


def _label_column(table: pa.Table, label: str | None, version: ModelVersion, data: DatasetVersion) -> str:
    if label is not None:
        if label not in table.column_names:
            raise InvalidInput(f"--label {label!r}: {data.ref} has no such column ({_columns(table)})")
        return label
    outputs = [f["name"] for f in (version.output_schema or {}).get("features", [])]
    for name in (*outputs, *LABEL_NAMES):
        if name in table.column_names:
            return str(name)
    raise InvalidInput(
        f"which column of {data.ref} holds the true labels? give --label ({_columns(table)}); "
        f"Charter looks for the model's output schema names and {', '.join(LABEL_NAMES)}"
    )


def _features(table: pa.Table, label: str, version: ModelVersion) -> list[str]:
    declared = [f["name"] for f in (version.input_schema or {}).get("features", [])]
    if declared:
        missing = [name for name in declared if name not in table.column_names]
        if missing:
            raise InvalidInput(
                f"{version.ref} needs the features {', '.join(missing)}, "
                f"which the data does not have ({_columns(table)})"
            )
        return declared
    return [name for name in table.column_names if name != label]


def _values(column: pa.ChunkedArray) -> np.ndarray:
    import numpy as np

    if column.null_count:
        raise InvalidInput(f"the label column has {column.null_count} missing value(s); drop or fill those rows first")
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _scored(task: str, predictions: Any, truth: pa.ChunkedArray, positive: Any) -> _Scored:
    import numpy as np

    labels = np.asarray(predictions.labels)
    scores = None if predictions.scores is None else np.asarray(predictions.scores, dtype=np.float64)
    notes: list[str] = []
    if task != "binary_classification":
        return _Scored(labels, None, None, notes)
    classes = list(predictions.classes) if predictions.classes is not None else None
    if isinstance(positive, str) and labels.dtype.kind in "iufb":  # --positive 1 from the command line
        try:
            positive = labels.dtype.type(float(positive))
        except ValueError:
            raise InvalidInput(f"--positive {positive!r}: the model predicts numbers, not {positive!r}") from None
    if positive is None:
        if classes is not None and len(classes) == 2:
            positive = classes[1]
        else:
            seen = sorted(set(np.asarray(truth.to_numpy(zero_copy_only=False)).tolist()) | set(labels.tolist()))
            positive = 1 if set(seen) <= {0, 1} else True if set(seen) <= {False, True} else None
            if positive is None:
                raise InvalidInput(
                    f"which label is the positive class? the labels are {', '.join(map(str, seen[:10]))}; "
                    "give --positive"
                )
    if scores is not None and scores.ndim == 2:
        column = classes.index(positive) if classes is not None and positive in classes else scores.shape[1] - 1
        scores = scores[:, column]
    return _Scored(labels, scores, positive, notes)
