"""Writing one lineage edge inside an open unit of work (used by lineage and by the registry).

Kept apart from :mod:`charter.services.lineage`, which resolves references through the
registry, so that the registry can record ``--trained-on`` edges in its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from charter.clock import format_timestamp
from charter.errors import InvalidInput
from charter.ids import new_id
from charter.ledger import UnitOfWork
from charter.store.schema import lineage_edges, lineage_features
from charter.vocabulary import MODEL_DATA_ROLES

DATASET_ROLES = ("derived",)
MODEL_ROLES = MODEL_DATA_ROLES


@dataclass(frozen=True)
class Node:
    """One end of an edge: a dataset version or a model version."""

    kind: str  # "dataset" or "model"
    id: str
    ref: str  # e.g. transactions@2, credit-risk@3
    columns: tuple[str, ...] = ()  # dataset columns, or the model's input features when it has a schema


@dataclass(frozen=True)
class EdgeSpec:
    role: str = ""
    transform: str = ""
    code_ref: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    features: Mapping[str, str] = field(default_factory=dict)  # target feature -> source column


def insert_edge(uow: UnitOfWork, source: Node, target: Node, spec: EdgeSpec, *, now: Any) -> dict[str, Any]:
    """Check and write the edge ``source -> target`` with its feature mapping and ledger entry."""
    role = spec.role or ("derived" if target.kind == "dataset" else "training")
    allowed = DATASET_ROLES if target.kind == "dataset" else MODEL_ROLES
    if role not in allowed:
        raise InvalidInput(f"a {target.kind} version can be linked as {', '.join(allowed)}, not {role!r}")
    for feature, column in spec.features.items():
        if source.columns and column not in source.columns:
            raise InvalidInput(f"{source.ref} has no column {column!r} (columns: {', '.join(source.columns)})")
        if target.columns and feature not in target.columns:
            raise InvalidInput(f"{target.ref} has no feature {feature!r} (features: {', '.join(target.columns)})")
    row = {
        "id": new_id(),
        "source_id": source.id,
        "target_dataset_id": target.id if target.kind == "dataset" else None,
        "target_model_id": target.id if target.kind == "model" else None,
        "role": role,
        "transform": spec.transform,
        "code_ref": spec.code_ref,
        "parameters": dict(spec.parameters),
        "creator": uow.actor,
        "created_at": format_timestamp(now),
    }
    uow.execute(lineage_edges.insert().values(row))
    if spec.features:
        uow.execute(
            lineage_features.insert(),
            [{"edge_id": row["id"], "feature": f, "source_column": c} for f, c in sorted(spec.features.items())],
        )
    name = target.ref.rsplit("@", 1)[0]
    uow.record(
        "lineage.edge_added",
        f"{target.kind}:{name}",
        {"source": source.ref, "target": target.ref, "role": role, "transform": spec.transform,
         "code_ref": spec.code_ref, "parameters": dict(spec.parameters), "features": dict(spec.features)},
    )  # fmt: skip
    return row
