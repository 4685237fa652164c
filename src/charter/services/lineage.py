"""Lineage: where a model version's data came from, and what a dataset version feeds.

``upstream`` answers "what was credit-risk@3 trained on, through which transforms";
``impact`` answers "which versions and which aliases in production depend on
transactions@2" — the question a team has when data is found poisoned or mislabelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from charter.errors import Conflict, InvalidInput
from charter.ledger import unit_of_work
from charter.services.context import Context
from charter.services.datasets import DatasetVersion, resolve_dataset_version
from charter.services.edges import EdgeSpec, Node, insert_edge
from charter.services.registry import ModelVersion, resolve_version
from charter.store.engine import translate_errors
from charter.store.schema import (
    aliases,
    dataset_versions,
    datasets,
    lineage_edges,
    lineage_features,
    model_versions,
    models,
)


@dataclass(frozen=True)
class LineageEdge:
    source: str
    target: str
    role: str
    transform: str
    code_ref: str
    parameters: dict[str, Any]
    features: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LineageNode:
    kind: str
    ref: str
    aliases: tuple[str, ...] = ()
    inputs: tuple[tuple[LineageEdge, LineageNode], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "aliases": list(self.aliases),
            "inputs": [{"edge": edge.to_dict(), "source": node.to_dict()} for edge, node in self.inputs],
        }


@dataclass(frozen=True)
class ImpactedModel:
    ref: str
    aliases: tuple[str, ...]
    role: str
    via: tuple[str, ...]  # the dataset versions between the one asked about and this model


@dataclass(frozen=True)
class Impact:
    dataset: str
    derived: tuple[str, ...] = ()
    models: tuple[ImpactedModel, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "derived": list(self.derived),
            "models": [{**m.__dict__, "aliases": list(m.aliases), "via": list(m.via)} for m in self.models],
        }

    @property
    def aliases_in_use(self) -> list[str]:
        return [f"{m.ref.rsplit('@', 1)[0]}:{a}" for m in self.models for a in m.aliases]


def dataset_node(version: DatasetVersion) -> Node:
    return Node("dataset", version.id, version.ref, tuple(c.name for c in version.columns))


def model_node(version: ModelVersion) -> Node:
    features = (version.input_schema or {}).get("features", [])
    return Node("model", version.id, version.ref, tuple(f["name"] for f in features))


def add_edge(
    context: Context,
    source: str,
    *,
    to_dataset: str | None = None,
    to_model: str | None = None,
    role: str = "",
    transform: str = "",
    code_ref: str = "",
    parameters: Mapping[str, Any] | None = None,
    features: Mapping[str, str] | None = None,
) -> LineageEdge:
    """Record that ``source`` (a dataset version) feeds a dataset version or a model version."""
    if (to_dataset is None) == (to_model is None):
        raise InvalidInput("give exactly one target: a dataset version or a model version")
    origin = dataset_node(resolve_dataset_version(context, source))
    target = (
        dataset_node(resolve_dataset_version(context, to_dataset))
        if to_dataset is not None
        else model_node(resolve_version(context, to_model or ""))
    )
    spec = EdgeSpec(role, transform, code_ref, dict(parameters or {}), dict(features or {}))
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        if target.kind == "dataset" and (target.id == origin.id or target.id in _ancestors(uow.connection, origin.id)):
            raise InvalidInput(
                f"{origin.ref} -> {target.ref} would make a cycle: {target.ref} is upstream of {origin.ref}"
            )
        column = lineage_edges.c.target_dataset_id if target.kind == "dataset" else lineage_edges.c.target_model_id
        existing = (
            uow.connection.execute(
                select(lineage_edges.c.role).where(lineage_edges.c.source_id == origin.id, column == target.id)
            )
            .scalars()
            .all()
        )
        wanted = role or ("derived" if target.kind == "dataset" else "training")
        if wanted in existing:
            raise Conflict(f"{origin.ref} is already linked to {target.ref} as {wanted}")
        row = insert_edge(uow, origin, target, spec, now=context.clock.now())
    return LineageEdge(origin.ref, target.ref, row["role"], transform, code_ref, row["parameters"], dict(spec.features))


def upstream(context: Context, reference: str, *, kind: str = "model") -> LineageNode:
    """The tree of everything ``reference`` was built from, nearest inputs first."""
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        if kind == "model":
            version = resolve_version(context, reference)
            alias_names = tuple(version.aliases)
            return LineageNode("model", version.ref, alias_names, _inputs(connection, "model", version.id, set()))
        dataset = resolve_dataset_version(context, reference)
        return LineageNode("dataset", dataset.ref, (), _inputs(connection, "dataset", dataset.id, set()))


def impact(context: Context, reference: str) -> Impact:
    """Every dataset version derived from ``reference`` and every model version fed by any of them."""
    start = resolve_dataset_version(context, reference)
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        paths: dict[str, tuple[str, ...]] = {start.id: ()}
        frontier = [start.id]
        found: dict[str, ImpactedModel] = {}
        while frontier:
            rows = (
                connection.execute(select(lineage_edges).where(lineage_edges.c.source_id.in_(frontier)))
                .mappings()
                .all()
            )
            frontier = []
            for row in rows:
                via = paths[row["source_id"]]
                if row["target_dataset_id"] is not None and row["target_dataset_id"] not in paths:
                    paths[row["target_dataset_id"]] = (*via, row["target_dataset_id"])
                    frontier.append(row["target_dataset_id"])
                elif row["target_model_id"] is not None and row["target_model_id"] not in found:
                    found[row["target_model_id"]] = ImpactedModel("", (), row["role"], via)
        dataset_refs = _dataset_refs(connection, set(paths))
        model_refs = _model_refs(connection, set(found))
        models_found = tuple(
            sorted(
                (
                    ImpactedModel(model_refs[i][0], model_refs[i][1], m.role, tuple(dataset_refs[d] for d in m.via))
                    for i, m in found.items()
                ),
                key=lambda m: m.ref,
            )
        )
        derived = tuple(sorted(dataset_refs[d] for d in paths if d != start.id))
    return Impact(start.ref, derived, models_found)


# ---- helpers -------------------------------------------------------------------------------


def _ancestors(connection: Connection, dataset_version_id: str) -> set[str]:
    seen: set[str] = set()
    frontier = {dataset_version_id}
    while frontier:
        sources = set(
            connection.execute(
                select(lineage_edges.c.source_id).where(lineage_edges.c.target_dataset_id.in_(frontier))
            ).scalars()
        )
        frontier = sources - seen
        seen |= sources
    return seen


def _inputs(
    connection: Connection, kind: str, node_id: str, seen: set[str]
) -> tuple[tuple[LineageEdge, LineageNode], ...]:
    column = lineage_edges.c.target_model_id if kind == "model" else lineage_edges.c.target_dataset_id
    rows = connection.execute(select(lineage_edges).where(column == node_id)).mappings().all()
    if not rows:
        return ()
    refs = _dataset_refs(connection, {row["source_id"] for row in rows})
    target_ref = (_model_refs(connection, {node_id})[node_id][0] if kind == "model" else
                  _dataset_refs(connection, {node_id})[node_id])  # fmt: skip
    features = _features(connection, [row["id"] for row in rows])
    result = []
    for row in sorted(rows, key=lambda r: refs[r["source_id"]]):
        edge = LineageEdge(
            refs[row["source_id"]], target_ref, row["role"], row["transform"], row["code_ref"],
            row["parameters"], features.get(row["id"], {}),
        )  # fmt: skip
        source_id = row["source_id"]
        nested = () if source_id in seen else _inputs(connection, "dataset", source_id, seen | {node_id})
        result.append((edge, LineageNode("dataset", refs[source_id], (), nested)))
    return tuple(result)


def _features(connection: Connection, edge_ids: list[str]) -> dict[str, dict[str, str]]:
    mapping: dict[str, dict[str, str]] = {}
    for edge_id, feature, column in connection.execute(
        select(lineage_features.c.edge_id, lineage_features.c.feature, lineage_features.c.source_column).where(
            lineage_features.c.edge_id.in_(edge_ids)
        )
    ):
        mapping.setdefault(edge_id, {})[feature] = column
    return mapping


def _dataset_refs(connection: Connection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = connection.execute(
        select(dataset_versions.c.id, datasets.c.name, dataset_versions.c.version)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .where(dataset_versions.c.id.in_(ids))
    )
    return {row.id: f"{row.name}@{row.version}" for row in rows}


def _model_refs(connection: Connection, ids: set[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    if not ids:
        return {}
    refs = {
        row.id: f"{row.name}@{row.version}"
        for row in connection.execute(
            select(model_versions.c.id, models.c.name, model_versions.c.version)
            .join(models, models.c.id == model_versions.c.model_id)
            .where(model_versions.c.id.in_(ids))
        )
    }
    pointers: dict[str, list[str]] = {}
    for version_id, name in connection.execute(
        select(aliases.c.version_id, aliases.c.name).where(aliases.c.version_id.in_(ids)).order_by(aliases.c.name)
    ):
        pointers.setdefault(version_id, []).append(name)
    return {i: (ref, tuple(pointers.get(i, ()))) for i, ref in refs.items()}
