"""Reading an MLflow tracking server or store: registered models, versions, aliases, runs.

Only reads. MLflow (``mlflow-skinny``, the ``charter[mlflow]`` extra) is imported when a
reader is made, so Charter starts without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.errors import ConfigError, InvalidInput

#: MLflow tags that describe MLflow itself rather than the model; not copied as Charter tags.
SYSTEM_TAG_PREFIX = "mlflow."


@dataclass(frozen=True)
class MlflowVersion:
    model: str
    version: int
    source: str
    run_id: str | None
    description: str


@dataclass(frozen=True)
class MlflowModel:
    name: str  # the Charter name: MLflow's, as a Charter name (lower case; other characters become '-')
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: tuple[MlflowVersion, ...] = field(default=())
    mlflow_name: str = ""  # MLflow's own, when it differs


def charter_name(name: str) -> str:
    """``Credit Risk v2`` -> ``credit-risk-v2``: an MLflow model name as a Charter model name."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return slug[:100] or "model"


@dataclass(frozen=True)
class MlflowRun:
    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]
    git_commit: str
    inputs: tuple[dict[str, str], ...]  # dataset inputs: name, digest, source_type, source, context

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": "mlflow",
            "run_id": self.run_id,
            "metrics": self.metrics,
            "params": self.params,
            "git_commit": self.git_commit,
            "inputs": list(self.inputs),
        }


class MlflowReader:
    def __init__(self, tracking_uri: str, registry_uri: str | None = None):
        try:
            import mlflow
            from mlflow import MlflowClient
        except ImportError:
            raise ConfigError(
                "reading MLflow needs the mlflow extra: pip install 'charter[mlflow]' (or mlflow-skinny)"
            ) from None
        self._mlflow = mlflow
        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)

    def models(self, names: Sequence[str] = ()) -> list[MlflowModel]:
        """Registered models (all, or those named), each with its versions oldest first."""
        found = []
        registered: list[Any] = []
        token = None
        try:
            while True:  # every page: a registry of more than 1,000 models is read whole
                page = self._client.search_registered_models(max_results=1000, page_token=token)
                registered.extend(page)
                token = getattr(page, "token", None)
                if not token:
                    break
        except self._mlflow.exceptions.MlflowException as exc:
            raise InvalidInput(f"cannot read registered models from MLflow at {self.tracking_uri}: {exc}") from None
        known = {m.name for m in registered}
        seen: dict[str, str] = {}
        for name in sorted(n for n in known if not names or n in names):
            if charter_name(name) in seen:
                raise InvalidInput(
                    f"MLflow models {seen[charter_name(name)]!r} and {name!r} would both be Charter's "
                    f"{charter_name(name)!r}; rename one in MLflow, or import them one at a time with --model"
                )
            seen[charter_name(name)] = name
        missing = [n for n in names if n not in known]
        if missing:
            raise InvalidInput(
                f"MLflow at {self.tracking_uri} has no registered model {missing[0]!r} "
                f"(models: {', '.join(sorted(known)) or 'none'})"
            )
        for model in sorted(registered, key=lambda m: m.name):
            if names and model.name not in names:
                continue
            versions = self._client.search_model_versions(f"name='{model.name}'")
            found.append(
                MlflowModel(
                    name=charter_name(model.name),
                    mlflow_name=model.name if charter_name(model.name) != model.name else "",
                    description=model.description or "",
                    tags={k: v for k, v in (model.tags or {}).items() if not k.startswith(SYSTEM_TAG_PREFIX)},
                    aliases={alias: int(version) for alias, version in (model.aliases or {}).items()},
                    versions=tuple(
                        sorted(
                            (
                                MlflowVersion(model.name, int(v.version), v.source or "", v.run_id, v.description or "")
                                for v in versions
                            ),
                            key=lambda v: v.version,
                        )
                    ),
                )
            )
        return found

    def run(self, run_id: str | None) -> MlflowRun | None:
        if not run_id:
            return None
        run = self._client.get_run(run_id)
        inputs = tuple(
            {
                "name": item.dataset.name,
                "digest": item.dataset.digest,
                "source_type": item.dataset.source_type,
                "source": item.dataset.source,
                "context": next((t.value for t in item.tags or [] if t.key == "mlflow.data.context"), ""),
            }
            for item in (run.inputs.dataset_inputs if run.inputs else [])
        )
        return MlflowRun(
            run_id=run_id,
            metrics=dict(run.data.metrics),
            params=dict(run.data.params),
            git_commit=run.data.tags.get("mlflow.source.git.commit", ""),
            inputs=inputs,
        )

    def download(self, version: MlflowVersion, destination: Path) -> Path:
        """The version's artifact, fetched through MLflow (any store it can reach) into ``destination``."""
        try:
            local = self._mlflow.artifacts.download_artifacts(
                artifact_uri=version.source, dst_path=str(destination), tracking_uri=self.tracking_uri
            )
        except Exception as exc:  # MLflow raises many kinds here, from many stores
            raise InvalidInput(
                f"cannot fetch the artifact of MLflow model {version.model} version {version.version} "
                f"from {version.source}: {exc}"
            ) from None
        return Path(local)
