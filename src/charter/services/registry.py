"""The model registry: models, versions, and looking them up by reference.

Every change goes through a ledger unit of work (subject ``model:<name>``), so a model's
whole history is one indexed ledger query. Aliases live in :mod:`charter.services.aliases`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from charter.clock import format_timestamp
from charter.errors import Conflict, IntegrityMismatch, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.services.artifacts import ArtifactDigest
from charter.services.context import Context
from charter.services.edges import EdgeSpec, Node, insert_edge
from charter.services.feature_schema import validate_schema
from charter.services.records import fields_dict, result_rows, row_fields
from charter.services.references import Reference, check_model_name, listed, number_ranges, parse_reference
from charter.store.engine import translate_errors
from charter.store.schema import aliases, model_tags, model_versions, models
from charter.vocabulary import RISK_TIERS, TASKS

STATUSES = ("registered", "archived")
MAX_TAG = 100


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    risk_tier: str
    owner: str = ""
    team: str = ""
    description: str = ""
    intended_use: str = ""
    limitations: str = ""
    tags: tuple[str, ...] = ()

    def checked(self) -> ModelSpec:
        check_model_name(self.name)
        if self.task not in TASKS:
            raise InvalidInput(f"model {self.name}: task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.risk_tier not in RISK_TIERS:
            raise InvalidInput(f"model {self.name}: risk tier {self.risk_tier!r} is not one of {', '.join(RISK_TIERS)}")
        for tag in self.tags:
            if not tag or len(tag) > MAX_TAG or tag != tag.strip():
                raise InvalidInput(f"model {self.name}: tag {tag!r} must be 1-{MAX_TAG} characters, no edge spaces")
        return ModelSpec(**{**asdict(self), "tags": tuple(sorted(set(self.tags)))})


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    task: str
    risk_tier: str
    owner: str
    team: str
    description: str
    intended_use: str
    limitations: str
    created_at: str
    updated_at: str
    tags: tuple[str, ...] = ()
    versions: int = 0
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**fields_dict(self), "tags": list(self.tags), "aliases": dict(self.aliases)}


@dataclass(frozen=True)
class ModelVersion:
    id: str
    model: str
    version: int
    artifact_uri: str
    artifact_sha256: str
    artifact_size: int
    framework: str
    flavour: str
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    source_commit: str
    source_url: str
    creator: str
    status: str
    created_at: str
    training_run: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**fields_dict(self), "ref": self.ref, "aliases": list(self.aliases)}


def register_model(context: Context, spec: ModelSpec) -> Model:
    """Add a model to the inventory; its name must be new."""
    spec = spec.checked()
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        insert_model(uow, spec, format_timestamp(context.clock.now()))
    return get_model(context, spec.name)


def insert_model(uow: UnitOfWork, spec: ModelSpec, now: str) -> str:
    """Write a new (checked) model and its ledger entry inside ``uow``; returns its id."""
    existing = uow.connection.execute(select(models.c.id).where(models.c.name == spec.name)).first()
    if existing is not None:
        raise Conflict(f"model {spec.name!r} already exists; see `charter model show {spec.name}`")
    row = {**asdict(spec), "id": new_id(), "created_at": now, "updated_at": now}
    tags = row.pop("tags")
    uow.execute(models.insert().values(row))
    if tags:
        uow.execute(model_tags.insert(), [{"model_id": row["id"], "tag": tag} for tag in tags])
    uow.record("model.registered", f"model:{spec.name}", {**row, "tags": list(tags)})
    return str(row["id"])


def model_fields(connection: Connection, name: str) -> dict[str, Any] | None:
    """The declarable fields of a model as stored (``ModelSpec`` names, tags as a sorted list), or None."""
    row = connection.execute(select(models).where(models.c.name == name)).mappings().first()
    if row is None:
        return None
    fields = {k: row[k] for k in ModelSpec.__dataclass_fields__ if k not in ("name", "tags")}
    tags = connection.execute(
        select(model_tags.c.tag).where(model_tags.c.model_id == row["id"]).order_by(model_tags.c.tag)
    ).scalars()
    return {**fields, "tags": list(tags)}


def update_model(uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
    """Apply ``{field: (old, new)}`` to a model inside ``uow``, recorded as ``model.updated``."""
    model_id = _model_id(uow.connection, name)
    values = {k: new for k, (_, new) in changes.items() if k != "tags"}
    uow.execute(update(models).where(models.c.id == model_id).values(**values, updated_at=now))
    if "tags" in changes:
        uow.execute(delete(model_tags).where(model_tags.c.model_id == model_id))
        new_tags = changes["tags"][1]
        if new_tags:
            uow.execute(model_tags.insert(), [{"model_id": model_id, "tag": tag} for tag in new_tags])
    uow.record("model.updated", f"model:{name}", {"changes": {k: list(v) for k, v in changes.items()}})


def register_version(
    context: Context,
    model: str,
    artifact: ArtifactDigest,
    *,
    framework: str = "",
    flavour: str = "",
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
    source_commit: str = "",
    source_url: str = "",
    trained_on: Sequence[str] = (),
    training_run: dict[str, Any] | None = None,
) -> ModelVersion:
    """Add the next version of ``model`` with its artifact's digest, schemas and source.

    ``trained_on`` names dataset versions (``transactions@2``); their lineage edges are
    written in the same transaction as the version.
    """
    from charter.services.datasets import resolve_dataset_version

    for name, schema in (("input", input_schema), ("output", output_schema)):
        if schema is not None:
            validate_schema(schema, f"{model}: {name} schema")
    sources = [resolve_dataset_version(context, ref) for ref in trained_on]
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        model_id = _model_id(uow.connection, model)
        same = uow.connection.execute(
            select(model_versions.c.version).where(
                model_versions.c.model_id == model_id, model_versions.c.artifact_sha256 == artifact.sha256
            )
        ).first()
        if same is not None:
            raise Conflict(
                f"{model}@{same.version} already has this artifact (sha256 {artifact.sha256[:16]}…); "
                "a new version needs a changed artifact"
            )
        _refuse_changed_in_place(uow.connection, model, artifact)
        latest = uow.connection.execute(
            select(func.max(model_versions.c.version)).where(model_versions.c.model_id == model_id)
        ).scalar_one()
        row = {
            "id": new_id(),
            "model_id": model_id,
            "version": (latest or 0) + 1,
            "artifact_uri": artifact.uri,
            "artifact_sha256": artifact.sha256,
            "artifact_size": artifact.size,
            "framework": framework,
            "flavour": flavour,
            "input_schema": input_schema,
            "output_schema": output_schema,
            "source_commit": source_commit,
            "source_url": source_url,
            "creator": context.actor,
            "status": "registered",
            "created_at": format_timestamp(context.clock.now()),
            "training_run": training_run,
        }
        uow.execute(model_versions.insert().values(row))
        uow.record("model.version_registered", f"model:{model}", {**row, "model": model})
        target = Node("model", str(row["id"]), f"{model}@{row['version']}")
        for source in sources:
            origin = Node("dataset", source.id, source.ref, tuple(c.name for c in source.columns))
            insert_edge(uow, origin, target, EdgeSpec(role="training"), now=context.clock.now())
    return resolve_version(context, f"{model}@{row['version']}")


def check_new_artifact(context: Context, model: str, artifact: ArtifactDigest) -> None:
    """What :func:`register_version` would refuse about ``artifact`` for its location, checked without writing
    (an import checks every artifact before it writes any)."""
    with context.engine.connect() as connection:
        if connection.execute(
            select(model_versions.c.id)
            .join(models, models.c.id == model_versions.c.model_id)
            .where(models.c.name == model, model_versions.c.artifact_sha256 == artifact.sha256)
        ).first() is None:  # fmt: skip
            _refuse_changed_in_place(connection, model, artifact)


def _refuse_changed_in_place(connection: Connection, model: str, artifact: ArtifactDigest) -> None:
    """An artifact at the location of a registered version, with other content: that version's weights changed.

    Registering it as a new version would hide that the registered one can no longer be verified or
    loaded (``verify-artifact`` fails on it). New weights belong at a new location."""
    earlier = connection.execute(
        select(models.c.name, model_versions.c.version, model_versions.c.artifact_sha256)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(model_versions.c.artifact_uri == artifact.uri)
        .order_by(model_versions.c.created_at.desc())
    ).first()
    if earlier is not None and earlier.artifact_sha256 != artifact.sha256:
        raise IntegrityMismatch(
            f"{artifact.uri} is registered as {earlier.name}@{earlier.version} with sha256 "
            f"{earlier.artifact_sha256[:16]}…, but now holds sha256 {artifact.sha256[:16]}…: the registered "
            f"version's artifact was changed in place, so {earlier.name}@{earlier.version} can no longer be "
            f"verified or loaded. Put the new weights at a new location (a versioned file name) to register "
            f"them as {model}'s next version, and restore the original (`charter model verify-artifact "
            f"{earlier.name}@{earlier.version}` checks it)"
        )


def get_model(context: Context, name: str) -> Model:
    check_model_name(name)
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        found = _models(connection, select(models).where(models.c.name == name))
        if not found:
            raise NotFound(f"no model {name!r}{_known_models(connection)}")
        return found[0]


def list_models(
    context: Context,
    *,
    tag: str | None = None,
    owner: str | None = None,
    risk_tier: str | None = None,
    name_contains: str | None = None,
    alias: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Model]:
    """Models matching every filter given, by name; ``limit``/``offset`` page through them."""
    if risk_tier is not None and risk_tier not in RISK_TIERS:
        raise InvalidInput(f"risk tier {risk_tier!r} is not one of {', '.join(RISK_TIERS)}")
    query = select(models).order_by(models.c.name)
    if tag is not None:
        query = query.where(models.c.id.in_(select(model_tags.c.model_id).where(model_tags.c.tag == tag)))
    if owner is not None:
        query = query.where(models.c.owner == owner)
    if risk_tier is not None:
        query = query.where(models.c.risk_tier == risk_tier)
    if name_contains:
        query = query.where(models.c.name.contains(name_contains, autoescape=True))
    if alias is not None:
        query = query.where(models.c.id.in_(select(aliases.c.model_id).where(aliases.c.name == alias)))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        return _models(connection, query)


def list_versions(context: Context, model: str, *, status: str | None = None) -> list[ModelVersion]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}")
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        model_id = _model_id(connection, model)
        query = select(model_versions).where(model_versions.c.model_id == model_id)
        if status is not None:
            query = query.where(model_versions.c.status == status)
        return _versions(connection, model, query.order_by(model_versions.c.version))


def resolve_version(context: Context, reference: str | Reference) -> ModelVersion:
    """The version a reference names; a bare model name means its latest registered version."""
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        model_id = _model_id(connection, ref.model)
        query = select(model_versions).where(model_versions.c.model_id == model_id)
        if ref.version is not None:
            query = query.where(model_versions.c.version == ref.version)
        elif ref.alias is not None:
            target = select(aliases.c.version_id).where(aliases.c.model_id == model_id, aliases.c.name == ref.alias)
            query = query.where(model_versions.c.id == target.scalar_subquery())
        else:
            query = query.where(model_versions.c.status == "registered").order_by(model_versions.c.version.desc())
        found = _versions(connection, ref.model, query.limit(1))
        if found:
            return found[0]
        raise NotFound(_missing(connection, ref, model_id))


# ---- helpers -------------------------------------------------------------------------------


def _model_id(connection: Connection, name: str) -> str:
    check_model_name(name)
    found = connection.execute(select(models.c.id).where(models.c.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no model {name!r}{_known_models(connection)}")
    return str(found)


def _known_models(connection: Connection, shown: int = 10) -> str:
    names = connection.execute(select(models.c.name).order_by(models.c.name).limit(shown + 1)).scalars().all()
    if not names:
        return " (the registry has no models yet; add one with `charter model register`)"
    return f" (models: {listed(list(names), shown)})"


def _missing(connection: Connection, ref: Reference, model_id: str) -> str:
    versions = (
        connection.execute(
            select(model_versions.c.version)
            .where(model_versions.c.model_id == model_id)
            .order_by(model_versions.c.version)
        )
        .scalars()
        .all()
    )
    if ref.alias is not None:
        names = (
            connection.execute(select(aliases.c.name).where(aliases.c.model_id == model_id).order_by(aliases.c.name))
            .scalars()
            .all()
        )
        known = f"aliases: {', '.join(names)}" if names else "it has no aliases yet"
        return f"{ref.model} has no alias {ref.alias!r} ({known})"
    if not versions:
        return f"{ref.model} has no versions yet; add one with `charter model add-version {ref.model} ARTIFACT`"
    if ref.version is not None:
        return f"{ref.model} has no version {ref.version} (versions: {number_ranges(list(versions))})"
    return f"{ref.model} has no registered version (all {len(versions)} are archived)"


#: What a page of models needs besides their rows, for the ids bound as ``ids``. Built once: building
#: them, with the page's ids as one literal each, cost more than running them.
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_TAGS = (
    select(model_tags.c.model_id, model_tags.c.tag).where(model_tags.c.model_id.in_(_IDS)).order_by(model_tags.c.tag)
)
_COUNTS = (
    select(model_versions.c.model_id, func.count())
    .where(model_versions.c.model_id.in_(_IDS))
    .group_by(model_versions.c.model_id)
)
_ALIASES = (
    select(aliases.c.model_id, aliases.c.name, model_versions.c.version)
    .join(model_versions, model_versions.c.id == aliases.c.version_id)
    .where(aliases.c.model_id.in_(_IDS))
    .order_by(aliases.c.name)
)


def _models(connection: Connection, query: Any) -> list[Model]:
    """The models ``query`` (a select of ``models``) finds, with their tags, version counts and aliases."""
    rows = result_rows(connection.execute(query))
    if not rows:
        return []
    ids = {"ids": [row["id"] for row in rows]}
    tags: dict[str, list[str]] = {}
    for model_id, tag in connection.execute(_TAGS, ids):
        tags.setdefault(model_id, []).append(tag)
    counts: dict[str, int] = dict(connection.execute(_COUNTS, ids).all())
    pointers: dict[str, dict[str, int]] = {}
    for model_id, alias, version in connection.execute(_ALIASES, ids):
        pointers.setdefault(model_id, {})[alias] = version
    return [
        Model(
            **row_fields(row, Model.__dataclass_fields__),
            tags=tuple(tags.get(row["id"], ())),
            versions=int(counts.get(row["id"], 0)),
            aliases=pointers.get(row["id"], {}),
        )
        for row in rows
    ]


def _versions(connection: Connection, model: str, query: Any) -> list[ModelVersion]:
    rows = result_rows(connection.execute(query))
    names: dict[str, list[str]] = {}
    if rows:
        for version_id, alias in connection.execute(
            select(aliases.c.version_id, aliases.c.name)
            .where(aliases.c.version_id.in_([row["id"] for row in rows]))
            .order_by(aliases.c.name)
        ):
            names.setdefault(version_id, []).append(alias)
    fields = ModelVersion.__dataclass_fields__
    return [
        ModelVersion(
            **row_fields(row, fields, skip=("model",)),
            model=model,
            aliases=tuple(names.get(row["id"], ())),
        )
        for row in rows
    ]


def set_status(context: Context, reference: str, status: str, *, reason: str) -> ModelVersion:
    """Archive a version (or restore it to ``registered``); an archived version cannot take an alias."""
    if status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if not reason.strip():
        raise InvalidInput("changing a version's status needs a reason")
    version = resolve_version(context, reference)
    if version.status == status:
        raise Conflict(f"{version.ref} is already {status}")
    if status == "archived" and version.aliases:
        names = ", ".join(f"{version.model}:{a}" for a in version.aliases)
        raise Conflict(f"{version.ref} is in use as {names}; move or remove those aliases first")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        uow.execute(update(model_versions).where(model_versions.c.id == version.id).values(status=status))
        uow.record(
            "model.version_status_changed",
            f"model:{version.model}",
            {"version": version.version, "from": version.status, "to": status, "reason": reason.strip()},
        )
    return resolve_version(context, version.ref)


@dataclass(frozen=True)
class ArtifactCheck:
    ref: str
    uri: str
    registered_sha256: str
    actual_sha256: str

    @property
    def intact(self) -> bool:
        return self.registered_sha256 == self.actual_sha256


def check_artifact(context: Context, reference: str) -> ArtifactCheck:
    """Hash a version's local artifact again; a changed artifact is an error naming both digests.

    Anything that loads a model (evaluation, explanation) calls this first: weights that no
    longer match the registry are refused, never used.
    """
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    from charter.services.artifacts import digest_path

    version = resolve_version(context, reference)
    parsed = urlparse(version.artifact_uri)
    if parsed.scheme not in ("file", ""):
        raise InvalidInput(
            f"{version.ref}: its artifact {version.artifact_uri} is not local; fetch it and check it against "
            f"sha256 {version.artifact_sha256}"
        )
    digest = digest_path(Path(unquote(parsed.path)))
    check = ArtifactCheck(version.ref, version.artifact_uri, version.artifact_sha256, digest.sha256)
    if not check.intact:
        raise Conflict(
            f"the artifact of {version.ref} at {version.artifact_uri} has changed since it was registered: "
            f"sha256 {digest.sha256} now, {version.artifact_sha256} registered; refusing to use it"
        )
    return check
