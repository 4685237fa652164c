"""Documents attached to a model or one of its versions: the evidence documentation rules ask for.

A model card belongs to a version; a risk assessment, technical documentation (EU AI Act
Annex IV), a data protection impact assessment or a human oversight plan usually to the
model as a whole. Charter keeps each document's location and SHA-256 (the file itself stays
where the team keeps it) and records the attachment on the ledger (``model.document_attached``);
gates see which kinds exist through ``documentation`` in the evaluation context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from charter.clock import format_timestamp
from charter.errors import InvalidInput
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.services.artifacts import digest_path
from charter.services.context import Context
from charter.services.references import parse_reference
from charter.services.registry import get_model, resolve_version
from charter.store.schema import model_documents, model_versions

KINDS = (
    "model_card",
    "risk_assessment",
    "technical_documentation",
    "data_protection_impact_assessment",
    "human_oversight_plan",
    "other",
)


@dataclass(frozen=True)
class ModelDocument:
    id: str
    model: str
    version: int | None
    kind: str
    title: str
    uri: str
    sha256: str
    size: int
    created_by: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def attach(context: Context, reference: str, kind: str, path: Path, *, title: str = "") -> ModelDocument:
    """Attach the file at ``path`` to ``credit-risk`` (the model) or ``credit-risk@3`` (a version)."""
    if kind not in KINDS:
        raise InvalidInput(f"document kind {kind!r} is not one of {', '.join(KINDS)}")
    ref = parse_reference(reference)
    model = get_model(context, ref.model)
    version = resolve_version(context, reference) if (ref.version is not None or ref.alias is not None) else None
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; attach a document file (Markdown, PDF, HTML, ...)")
    digest = digest_path(path)
    row = {
        "id": new_id(), "model_id": model.id, "version_id": None if version is None else version.id, "kind": kind,
        "title": title.strip() or path.name, "uri": digest.uri, "sha256": digest.sha256, "size": digest.size,
        "created_by": context.actor, "created_at": format_timestamp(context.clock.now()),
    }  # fmt: skip
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        uow.execute(model_documents.insert().values(row))
        uow.record("model.document_attached", f"model:{model.name}", {
            "document": row["id"], "kind": kind, "version": None if version is None else version.version,
            "title": row["title"], "uri": row["uri"], "sha256": row["sha256"],
        })  # fmt: skip
    return _document(row, model.name, None if version is None else version.version)


def documents_for(context: Context, reference: str) -> list[ModelDocument]:
    """A model's documents, or a version's together with the model-wide ones; newest first."""
    ref = parse_reference(reference)
    model = get_model(context, ref.model)
    query = (
        select(model_documents, model_versions.c.version)
        .outerjoin(model_versions, model_versions.c.id == model_documents.c.version_id)
        .where(model_documents.c.model_id == model.id)
        .order_by(model_documents.c.created_at.desc(), model_documents.c.id.desc())
    )
    if ref.version is not None or ref.alias is not None:
        version = resolve_version(context, reference)
        query = query.where(or_(model_documents.c.version_id.is_(None), model_documents.c.version_id == version.id))
    with context.engine.connect() as connection:
        return [_document(dict(r), model.name, r["version"]) for r in connection.execute(query).mappings()]


def _document(row: dict[str, Any], model: str, version: int | None) -> ModelDocument:
    fields = {k: row[k] for k in ModelDocument.__dataclass_fields__ if k in row and k not in ("model", "version")}
    return ModelDocument(**fields, model=model, version=version)
