"""Datasets: provenance, versions (fingerprint, schema, quality, column classification), certification.

Reading and checking a file happens before the write transaction (it may take a while);
the version, its columns and the ledger entry are then written in one unit of work.
Ledger subject: ``dataset:<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from charter.clock import format_timestamp, parse_timestamp
from charter.errors import Conflict, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.services.access import require
from charter.services.approvals import ChangeRequest, find_open, mark_executed, open_in
from charter.services.artifacts import ArtifactDigest
from charter.services.classification import PII_CATEGORIES, SENSITIVITIES, classify_column, sensitivity_for
from charter.services.context import Context
from charter.services.references import Reference, check_name, listed, number_ranges, parse_reference
from charter.store.engine import translate_errors
from charter.store.schema import certifications, dataset_columns, dataset_versions, datasets
from charter.vocabulary import LEGAL_BASES

KIND = "dataset"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    owner: str = ""
    description: str = ""
    source_uri: str = ""
    licence: str = ""
    collected_from: str = ""
    collected_to: str = ""
    legal_basis: str = "unknown"

    def checked(self) -> DatasetSpec:
        check_name(self.name, KIND, "transactions")
        if self.legal_basis not in LEGAL_BASES:
            raise InvalidInput(
                f"dataset {self.name}: legal basis {self.legal_basis!r} is not one of {', '.join(LEGAL_BASES)}"
            )
        times = {
            key: _time(getattr(self, key), f"dataset {self.name}: {key}") for key in ("collected_from", "collected_to")
        }
        if times["collected_from"] and times["collected_to"] and times["collected_from"] > times["collected_to"]:
            raise InvalidInput(f"dataset {self.name}: the collection period ends before it starts")
        return DatasetSpec(**{**asdict(self), **times})


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    owner: str
    description: str
    source_uri: str
    licence: str
    collected_from: str
    collected_to: str
    legal_basis: str
    created_at: str
    updated_at: str
    versions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    position: int
    dtype: str
    pii_category: str | None
    sensitivity: str
    protected: bool
    classified_by: str
    reason: str


@dataclass(frozen=True)
class Certification:
    id: str
    purpose: str
    certified_by: str
    certified_at: str
    expires_at: str
    note: str
    revoked_at: str | None
    revoked_by: str | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "valid" if self.expires_at > format_timestamp(now) else "expired"


@dataclass(frozen=True)
class DatasetVersion:
    id: str
    dataset: str
    version: int
    uri: str
    sha256: str
    size: int
    format: str
    row_count: int
    schema: list[dict[str, str]]
    quality: dict[str, Any]
    profile: dict[str, Any] | None
    creator: str
    created_at: str
    origin: dict[str, Any] | None = None
    columns: tuple[ColumnInfo, ...] = ()
    certifications: tuple[Certification, ...] = field(default=())

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def certification_state(self, now: datetime) -> str:
        """``certified`` (a valid certification), ``expired``/``revoked`` (only lapsed ones), or ``uncertified``."""
        states = {c.state(now) for c in self.certifications}
        for state in ("valid", "expired", "revoked"):
            if state in states:
                return "certified" if state == "valid" else state
        return "uncertified"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        data = {**asdict(self), "ref": self.ref, "profile": profile_outline(self.profile)}
        if now is not None:
            data["certification"] = self.certification_state(now)
        return data


def profile_outline(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a listing shows of a stored profile: each column's kind, and the skipped columns with why."""
    if stored is None:
        return None
    return {
        "rows": stored["rows"],
        "columns": {name: column["kind"] for name, column in stored["columns"].items()},
        "skipped": dict(stored.get("skipped", {})),
    }


def _time(value: str, where: str) -> str:
    if not value:
        return ""
    try:
        return format_timestamp(parse_timestamp(value))
    except ValueError:
        raise InvalidInput(f"{where} {value!r} is not an ISO-8601 date or time (e.g. 2025-01-31)") from None


def register_dataset(context: Context, spec: DatasetSpec) -> Dataset:
    spec = spec.checked()
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        insert_dataset(uow, spec, format_timestamp(context.clock.now()))
    return get_dataset(context, spec.name)


def insert_dataset(uow: UnitOfWork, spec: DatasetSpec, now: str) -> str:
    """Write a new (checked) dataset and its ledger entry inside ``uow``; returns its id."""
    if uow.connection.execute(select(datasets.c.id).where(datasets.c.name == spec.name)).first():
        raise Conflict(f"dataset {spec.name!r} already exists; see `charter dataset show {spec.name}`")
    row = {**asdict(spec), "id": new_id(), "created_at": now, "updated_at": now}
    uow.execute(datasets.insert().values(row))
    uow.record("dataset.registered", f"dataset:{spec.name}", row)
    return str(row["id"])


def dataset_fields(connection: Connection, name: str) -> dict[str, Any] | None:
    """The declarable fields of a dataset as stored (``DatasetSpec`` names), or None."""
    row = connection.execute(select(datasets).where(datasets.c.name == name)).mappings().first()
    return None if row is None else {k: row[k] for k in DatasetSpec.__dataclass_fields__ if k != "name"}


def update_dataset(uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
    """Apply ``{field: (old, new)}`` to a dataset inside ``uow``, recorded as ``dataset.updated``."""
    values = {k: new for k, (_, new) in changes.items()}
    uow.execute(update(datasets).where(datasets.c.name == name).values(**values, updated_at=now))
    uow.record("dataset.updated", f"dataset:{name}", {"changes": {k: list(v) for k, v in changes.items()}})


def add_dataset_version(
    context: Context,
    name: str,
    path: Path,
    *,
    fmt: str | None = None,
    progress: Callable[[int], None] | None = None,
    digest: ArtifactDigest | None = None,
    origin: dict[str, Any] | None = None,
) -> DatasetVersion:
    """Register a file (CSV, Parquet) as the next version: fingerprint, schema, quality, classification.

    ``digest`` is the file's digest when the caller has already computed it; ``origin`` says
    where the content came from beyond its URI (a DVC path and md5, an MLflow run).
    """
    from charter.services.artifacts import digest_path
    from charter.services.tabular import read_table

    check_name(name, KIND, "transactions")
    table = read_table(path, fmt)
    digest = digest or digest_path(path, progress=progress)
    return _add_version(context, name, table, digest, fmt or path.suffix.lstrip(".") or "parquet", origin)


def add_dataset_frame(
    context: Context, name: str, data: Any, *, uri: str = "", origin: dict[str, Any] | None = None
) -> DatasetVersion:
    """Register an in-memory table (pyarrow Table or RecordBatch, pandas or Polars DataFrame) as the next version.

    Its fingerprint is :func:`~charter.services.tabular.frame_digest` (the same rows and columns
    give the same digest however the table is chunked); ``uri`` says where the data lives, if
    anywhere (default ``frame:sha256:<digest>``).
    """
    from charter.services.tabular import as_table, frame_digest

    check_name(name, KIND, "transactions")
    table = as_table(data, f"dataset {name}")
    digest = frame_digest(table)
    if uri:
        digest = ArtifactDigest(uri=uri, sha256=digest.sha256, size=digest.size, files=digest.files)
    return _add_version(context, name, table, digest, "arrow", {"kind": "frame", **(origin or {})})


def _add_version(
    context: Context, name: str, table: Any, digest: ArtifactDigest, fmt: str, origin: dict[str, Any] | None
) -> DatasetVersion:
    # Reading data needs Arrow and the metric kernels; they load here, not when the registry is read.
    from charter.services.profiles import dataset_profile
    from charter.services.tabular import quality_report, sample_values, table_schema

    schema = table_schema(table)
    quality = quality_report(table)
    classes = [classify_column(column["name"], sample_values(table, column["name"])) for column in schema]
    profile = dataset_profile(table, [found.pii_category for found in classes])
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        dataset_id = _dataset_id(uow.connection, name)
        same = uow.connection.execute(
            select(dataset_versions.c.version).where(
                dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.sha256 == digest.sha256
            )
        ).first()
        if same is not None:
            raise Conflict(f"{name}@{same.version} already has this content (sha256 {digest.sha256[:16]}…)")
        latest = uow.connection.execute(
            select(func.max(dataset_versions.c.version)).where(dataset_versions.c.dataset_id == dataset_id)
        ).scalar_one()
        row = {
            "id": new_id(),
            "dataset_id": dataset_id,
            "version": (latest or 0) + 1,
            "uri": digest.uri,
            "sha256": digest.sha256,
            "size": digest.size,
            "format": fmt,
            "row_count": table.num_rows,
            "schema": schema,
            "quality": quality.to_dict(),
            "profile": profile,
            "creator": context.actor,
            "created_at": format_timestamp(context.clock.now()),
            "origin": origin,
        }
        uow.execute(dataset_versions.insert().values(row))
        columns = [
            {
                "version_id": row["id"],
                "name": column["name"],
                "position": position,
                "dtype": column["type"],
                **found.to_dict(),
            }
            for position, (column, found) in enumerate(zip(schema, classes, strict=True))
        ]
        if columns:
            uow.execute(dataset_columns.insert(), columns)
        pii = {c["name"]: c["pii_category"] for c in columns if c["pii_category"]}
        uow.record(
            "dataset.version_registered",
            f"dataset:{name}",
            {**{k: row[k] for k in ("id", "version", "uri", "sha256", "size", "row_count", "origin")}, "pii": pii,
             "protected": [c["name"] for c in columns if c["protected"]], "quality_issues": list(quality.issues)},
        )  # fmt: skip
    return resolve_dataset_version(context, f"{name}@{row['version']}")


def classify(
    context: Context,
    reference: str,
    column: str,
    *,
    pii_category: str | None = None,
    clear_pii: bool = False,
    sensitivity: str | None = None,
    protected: bool | None = None,
) -> ColumnInfo:
    """Override the detected classification of one column (recorded with what it was before)."""
    if pii_category is not None and pii_category not in PII_CATEGORIES:
        raise InvalidInput(f"PII category {pii_category!r} is not one of {', '.join(PII_CATEGORIES)}")
    if sensitivity is not None and sensitivity not in SENSITIVITIES:
        raise InvalidInput(f"sensitivity {sensitivity!r} is not one of {', '.join(SENSITIVITIES)}")
    version = resolve_dataset_version(context, reference)
    current = next((c for c in version.columns if c.name == column), None)
    if current is None:
        raise NotFound(
            f"{version.ref} has no column {column!r} (columns: {', '.join(c.name for c in version.columns)})"
        )
    category = None if clear_pii else (pii_category if pii_category is not None else current.pii_category)
    is_protected = current.protected if protected is None else protected
    changed = {
        "pii_category": category,
        "protected": is_protected,
        "sensitivity": sensitivity or sensitivity_for(category, is_protected),
        "classified_by": "user",
        "reason": f"set by {context.actor}",
    }
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        uow.execute(
            update(dataset_columns)
            .where(dataset_columns.c.version_id == version.id, dataset_columns.c.name == column)
            .values(changed)
        )
        before = {k: getattr(current, k) for k in ("pii_category", "protected", "sensitivity")}
        uow.record("dataset.column_classified", f"dataset:{version.dataset}", {
            "version": version.version, "column": column, "before": before,
            "after": {k: changed[k] for k in before},
        })  # fmt: skip
    return ColumnInfo(**{**asdict(current), **changed})


def certify(context: Context, reference: str, *, purpose: str, expires: datetime, note: str = "") -> Certification:
    """Certify a dataset version for a purpose until ``expires``; the actor needs the ``risk-officer`` role."""
    purpose = _checked_purpose(purpose)
    now = context.clock.now()
    _check_expiry(expires, now)
    version = resolve_dataset_version(context, reference)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        role = require(uow.connection, context.actor, "dataset.certify")
        return _certify_in(uow, version, purpose, expires, note, now, certified_by=context.actor, extra={"role": role})


@dataclass(frozen=True)
class CertificationProposal:
    """A certification under approval: ``pending_approval`` with its request, or ``applied`` with the certification."""

    status: str
    request: ChangeRequest
    certification: Certification | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "change_request": self.request.to_dict(),
                "certification": None if self.certification is None else asdict(self.certification)}  # fmt: skip


def propose_certification(
    context: Context,
    reference: str,
    *,
    purpose: str,
    valid_days: int | None = None,
    expires: datetime | None = None,
    note: str = "",
    justification: str = "",
) -> CertificationProposal:
    """Ask for a certification under approval (a ``dataset_certification`` change request).

    The request is bound to the version's content (its SHA-256), the purpose, the note and the
    validity — ``valid_days`` counted from when it is carried out, or an absolute ``expires``.
    Anyone may ask; a risk-officer other than the requester approves. Called again with the same
    arguments once it is approved, it records the certification, certified by that risk-officer,
    with the request marked executed.
    """
    if (valid_days is None) == (expires is None):
        raise InvalidInput("give the certification's validity as a number of days or as an expiry time, not both")
    if valid_days is not None and not 1 <= valid_days <= 3650:
        raise InvalidInput(f"a certification is valid for 1 to 3650 days, not {valid_days}")
    now = context.clock.now()
    if expires is not None:
        _check_expiry(expires, now)
    version = resolve_dataset_version(context, reference)
    purpose = _checked_purpose(purpose)
    validity: dict[str, Any] = (
        {"valid_days": valid_days} if expires is None else {"expires_at": format_timestamp(expires)}
    )
    payload = {"dataset": version.dataset, "version": version.version, "sha256": version.sha256, "purpose": purpose,
               "note": note, **validity}  # fmt: skip
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        request = find_open(uow.connection, payload, now)
        if request is not None and request.state == "approved":
            until = now + timedelta(days=valid_days) if valid_days is not None else expires
            assert until is not None
            _check_expiry(until, now)
            approver = request.approved_by()[-1]
            cert = _certify_in(uow, version, purpose, until, note, now, certified_by=approver.principal,
                               extra={"role": approver.role, "change_request": request.id})  # fmt: skip
            mark_executed(uow, request, cert.certified_at, {"certification": cert.id})
            return CertificationProposal("applied", replace(request, state="executed", updated_at=cert.certified_at),
                                         cert)  # fmt: skip
        if request is None:
            subject = f"dataset:{version.dataset}"
            request = open_in(uow, context, "dataset_certification", subject, payload, justification=justification)
        return CertificationProposal("pending_approval", request)


def _certify_in(
    uow: UnitOfWork,
    version: DatasetVersion,
    purpose: str,
    expires: datetime,
    note: str,
    now: datetime,
    *,
    certified_by: str,
    extra: dict[str, Any],
) -> Certification:
    cert = Certification(id=new_id(), purpose=purpose, certified_by=certified_by, certified_at=format_timestamp(now),
                         expires_at=format_timestamp(expires), note=note, revoked_at=None, revoked_by=None)  # fmt: skip
    uow.execute(certifications.insert().values(**asdict(cert), version_id=version.id))
    uow.record("dataset.certified", f"dataset:{version.dataset}", {**asdict(cert), "version": version.version, **extra})
    return cert


def _checked_purpose(purpose: str) -> str:
    if not purpose.strip():
        raise InvalidInput("a certification needs a purpose (what the data is fit for, e.g. 'credit scoring')")
    return purpose.strip()


def _check_expiry(expires: datetime, now: datetime) -> None:
    if expires <= now:
        raise InvalidInput(f"the certification would expire at {format_timestamp(expires)}, which is not in the future")


def revoke_certification(context: Context, certification_id: str, *, reason: str) -> Certification:
    if not reason.strip():
        raise InvalidInput("revoking a certification needs a reason")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "dataset.revoke_certification")
        found = (
            uow.connection.execute(
                select(certifications, dataset_versions.c.version, datasets.c.name)
                .join(dataset_versions, dataset_versions.c.id == certifications.c.version_id)
                .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
                .where(certifications.c.id == certification_id)
            )
            .mappings()
            .first()
        )
        if found is None:
            raise NotFound(f"no certification {certification_id!r}; `charter dataset show NAME@VERSION` lists them")
        if found["revoked_at"] is not None:
            raise Conflict(f"certification {certification_id} was already revoked at {found['revoked_at']}")
        now = format_timestamp(context.clock.now())
        uow.execute(
            update(certifications)
            .where(certifications.c.id == certification_id)
            .values(revoked_at=now, revoked_by=context.actor)
        )
        uow.record("dataset.certification_revoked", f"dataset:{found['name']}", {
            "certification": certification_id, "version": found["version"], "reason": reason.strip(),
        })  # fmt: skip
    fields = {k: found[k] for k in Certification.__dataclass_fields__}
    return Certification(**{**fields, "revoked_at": now, "revoked_by": context.actor})


# ---- reading ----------------------------------------------------------------------------------


def get_dataset(context: Context, name: str) -> Dataset:
    found = list_datasets(context, name=check_name(name, KIND, "transactions"))
    if not found:
        with translate_errors(context.engine.url), context.engine.connect() as connection:
            raise NotFound(f"no dataset {name!r}{_known(connection)}")
    return found[0]


def list_datasets(
    context: Context,
    *,
    owner: str | None = None,
    name: str | None = None,
    name_contains: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Dataset]:
    """Datasets matching every filter given, by name; ``limit``/``offset`` page through them."""
    count = (
        select(func.count())
        .select_from(dataset_versions)
        .where(dataset_versions.c.dataset_id == datasets.c.id)
        .scalar_subquery()
    )
    query = select(datasets, count.label("versions")).order_by(datasets.c.name)
    if owner is not None:
        query = query.where(datasets.c.owner == owner)
    if name is not None:
        query = query.where(datasets.c.name == name)
    if name_contains:
        query = query.where(datasets.c.name.contains(name_contains, autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        return [Dataset(**row) for row in connection.execute(query).mappings()]


def list_dataset_versions(context: Context, name: str) -> list[DatasetVersion]:
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        dataset_id = _dataset_id(connection, name)
        query = select(dataset_versions).where(dataset_versions.c.dataset_id == dataset_id)
        return _versions(connection, name, query.order_by(dataset_versions.c.version))


def resolve_dataset_version(context: Context, reference: str | Reference) -> DatasetVersion:
    """``transactions@2``, or ``transactions`` for its latest version."""
    ref = parse_reference(reference, kind=KIND) if isinstance(reference, str) else reference
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        dataset_id = _dataset_id(connection, ref.model)
        query = select(dataset_versions).where(dataset_versions.c.dataset_id == dataset_id)
        if ref.version is not None:
            query = query.where(dataset_versions.c.version == ref.version)
        found = _versions(connection, ref.model, query.order_by(dataset_versions.c.version.desc()).limit(1))
        if found:
            return found[0]
        numbers = (
            connection.execute(select(dataset_versions.c.version).where(dataset_versions.c.dataset_id == dataset_id))
            .scalars()
            .all()
        )
        if not numbers:
            raise NotFound(
                f"{ref.model} has no versions yet; add one with `charter dataset add-version {ref.model} FILE`"
            )
        raise NotFound(f"{ref.model} has no version {ref.version} (versions: {number_ranges(sorted(numbers))})")


def _dataset_id(connection: Connection, name: str) -> str:
    found = connection.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no dataset {name!r}{_known(connection)}")
    return str(found)


def _known(connection: Connection, shown: int = 10) -> str:
    names = connection.execute(select(datasets.c.name).order_by(datasets.c.name).limit(shown + 1)).scalars().all()
    if not names:
        return " (no datasets yet; add one with `charter dataset register`)"
    return f" (datasets: {listed(list(names), shown)})"


def _versions(connection: Connection, name: str, query: Any) -> list[DatasetVersion]:
    rows = connection.execute(query).mappings().all()
    ids = [row["id"] for row in rows]
    columns: dict[str, list[ColumnInfo]] = {}
    certs: dict[str, list[Certification]] = {}
    if ids:
        for row in connection.execute(
            select(dataset_columns).where(dataset_columns.c.version_id.in_(ids)).order_by(dataset_columns.c.position)
        ).mappings():
            columns.setdefault(row["version_id"], []).append(
                ColumnInfo(**{k: row[k] for k in ColumnInfo.__dataclass_fields__})
            )
        for row in connection.execute(
            select(certifications).where(certifications.c.version_id.in_(ids)).order_by(certifications.c.certified_at)
        ).mappings():
            certs.setdefault(row["version_id"], []).append(
                Certification(**{k: row[k] for k in Certification.__dataclass_fields__})
            )
    skip = {"dataset_id"}
    return [
        DatasetVersion(
            **{k: v for k, v in row.items() if k not in skip},
            dataset=name,
            columns=tuple(columns.get(row["id"], ())),
            certifications=tuple(certs.get(row["id"], ())),
        )
        for row in rows
    ]
