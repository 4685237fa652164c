"""Declarative apply (GitOps): bring the registry in line with governance manifests.

``plan`` compares each document with what is stored — create, change (field by field)
or unchanged — and ``apply`` carries out the whole plan in one unit of work, so an
apply either lands completely or not at all. A document declares its object whole:
an optional field left out means its default (empty), as in the file.

Kinds are registered explicitly in :data:`KINDS`; later kinds (Policy, Monitor, ...)
add a handler there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from charter.clock import format_timestamp
from charter.errors import CharterError, InvalidInput
from charter.ledger import UnitOfWork, unit_of_work
from charter.services import datasets, registry
from charter.services.context import Context
from charter.services.manifests import Document, load_documents
from charter.services.references import check_name
from charter.store.engine import translate_errors
from charter.vocabulary import LEGAL_BASES, RISK_TIERS, TASKS


@dataclass(frozen=True)
class FieldRule:
    yaml: str  # the name in the manifest (camelCase)
    attr: str  # the stored field
    choices: tuple[str, ...] = ()
    required: bool = False
    default: Any = ""
    is_list: bool = False


class Kind(Protocol):
    kind: str
    fields: tuple[FieldRule, ...]

    def checked(self, name: str, values: dict[str, Any]) -> dict[str, Any]: ...
    def current(self, connection: Connection, name: str) -> dict[str, Any] | None: ...
    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None: ...
    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None: ...


class ModelKind:
    kind: str = "Model"
    fields: tuple[FieldRule, ...] = (
        FieldRule("task", "task", TASKS, required=True),
        FieldRule("riskTier", "risk_tier", RISK_TIERS, required=True),
        FieldRule("owner", "owner"),
        FieldRule("team", "team"),
        FieldRule("description", "description"),
        FieldRule("intendedUse", "intended_use"),
        FieldRule("limitations", "limitations"),
        FieldRule("tags", "tags", default=(), is_list=True),
    )

    def checked(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = registry.ModelSpec(name=name, **{**values, "tags": tuple(values["tags"])}).checked()
        return {**{k: getattr(spec, k) for k in values}, "tags": list(spec.tags)}

    def current(self, connection: Connection, name: str) -> dict[str, Any] | None:
        return registry.model_fields(connection, name)

    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None:
        registry.insert_model(uow, registry.ModelSpec(name=name, **{**desired, "tags": tuple(desired["tags"])}), now)

    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
        registry.update_model(uow, name, changes, now)


class DatasetKind:
    kind: str = "Dataset"
    fields: tuple[FieldRule, ...] = (
        FieldRule("owner", "owner"),
        FieldRule("description", "description"),
        FieldRule("source", "source_uri"),
        FieldRule("licence", "licence"),
        FieldRule("collectedFrom", "collected_from"),
        FieldRule("collectedTo", "collected_to"),
        FieldRule("legalBasis", "legal_basis", LEGAL_BASES, default="unknown"),
    )

    def checked(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = datasets.DatasetSpec(name=name, **values).checked()
        return {k: getattr(spec, k) for k in values}

    def current(self, connection: Connection, name: str) -> dict[str, Any] | None:
        return datasets.dataset_fields(connection, name)

    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None:
        datasets.insert_dataset(uow, datasets.DatasetSpec(name=name, **desired), now)

    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
        datasets.update_dataset(uow, name, changes, now)


class PolicyKind:
    """``kind: Policy``: the document's own text is the policy; it is checked as ``charter policy add`` checks it."""

    kind: str = "Policy"
    fields: tuple[FieldRule, ...] = ()

    def from_document(self, document: Document) -> dict[str, Any]:
        from charter.services.policies import parsed

        text = document.source.strip("\n") + "\n"
        # Padded with the lines before it, so that a problem names the line in the manifest file.
        policy = parsed("\n" * (document.line - 1) + text, document.file, linted=True)
        return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "rules": [r.name for r in policy.rules],
                "source": text}  # fmt: skip

    def checked(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        return values

    def current(self, connection: Connection, name: str) -> dict[str, Any] | None:
        from charter.services.policies import active_stored

        found = active_stored(connection, name)
        if found is None:
            return None
        return {"sha256": found.sha256, "rules": [r["name"] for r in found.document_rules], "source": found.source}

    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None:
        from charter.services.policies import store_in

        store_in(uow, desired["source"], f"apply:{name}", name, now)

    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
        self.create(uow, name, {k: new for k, (_, new) in changes.items()}, now)


class SpecKind:
    """Kinds whose spec is checked whole by their own service (monitors, targets, escalation policies)."""

    kind: str = ""
    fields: tuple[FieldRule, ...] = ()

    def from_document(self, document: Document) -> dict[str, Any]:
        try:
            return self.check(document.name, document.spec)
        except CharterError as exc:
            raise InvalidInput(f"{document.where('spec')} {exc}") from None

    def check(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def checked(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        return values


class MonitorKind(SpecKind):
    kind: str = "Monitor"

    def from_document(self, document: Document) -> dict[str, Any]:
        """The spec, with a runbook file checked now and kept by its absolute path: a path relative to the
        manifest would otherwise be read from wherever a worker runs, when the incident opens."""
        from charter.runbooks import KINDS, runbook_for

        runbook, kind = document.spec.get("runbook"), document.spec.get("kind")
        if isinstance(runbook, str) and runbook.strip() and kind in KINDS:
            try:
                found = runbook_for(str(kind), runbook, base=Path(document.file).resolve().parent)
            except CharterError as exc:
                raise document.error(str(exc), "spec", "runbook") from None
            if found.source == "file":
                document = replace(document, spec={**document.spec, "runbook": str(Path(found.location).resolve())})
        return super().from_document(document)

    def check(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        from charter.services.monitors import monitor_from_spec

        return monitor_from_spec(name, spec).to_spec()

    def current(self, connection: Connection, name: str) -> dict[str, Any] | None:
        from charter.services.monitors import monitor_fields

        return monitor_fields(connection, name)

    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None:
        from charter.clock import parse_timestamp
        from charter.services.monitors import monitor_from_spec, store_monitor

        current = self.current(uow.connection, name) or {}
        store_monitor(uow, monitor_from_spec(name, {**current, **desired}), parse_timestamp(now))

    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
        self.create(uow, name, {k: new for k, (_, new) in changes.items()}, now)


class TargetKind(SpecKind):
    kind: str = "NotificationTarget"

    def check(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        from charter.services.escalation import check_target

        return check_target(name, spec)

    def current(self, connection: Connection, name: str) -> dict[str, Any] | None:
        from charter.services.escalation import target_fields

        return target_fields(connection, name)

    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None:
        from charter.services.escalation import store_target

        store_target(uow, name, {**(self.current(uow.connection, name) or {}), **desired}, now)

    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
        self.create(uow, name, {k: new for k, (_, new) in changes.items()}, now)


class EscalationKind(SpecKind):
    kind: str = "EscalationPolicy"

    def check(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        from charter.services.escalation import parse_levels

        if set(spec) != {"levels"}:
            raise InvalidInput(f"escalation policy {name}: spec holds levels only (levels: [{{targets, after}}])")
        return {"levels": [level.to_dict() for level in parse_levels(name, spec["levels"])]}

    def current(self, connection: Connection, name: str) -> dict[str, Any] | None:
        from charter.services.escalation import policy_fields

        return policy_fields(connection, name)

    def create(self, uow: UnitOfWork, name: str, desired: dict[str, Any], now: str) -> None:
        from charter.services.escalation import store_policy

        store_policy(uow, name, desired["levels"], now)

    def update(self, uow: UnitOfWork, name: str, changes: dict[str, tuple[Any, Any]], now: str) -> None:
        self.create(uow, name, {k: new for k, (_, new) in changes.items()}, now)


KINDS: dict[str, Kind] = {
    handler.kind: handler
    for handler in (ModelKind(), DatasetKind(), PolicyKind(), TargetKind(), EscalationKind(), MonitorKind())
}


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: str  # create, change or unchanged
    where: str
    diffs: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "where": self.where,
            "diffs": {k: {"from": old, "to": new} for k, (old, new) in self.diffs.items()},
        }


def load(paths: Sequence[Path]) -> list[Document]:
    """Read and check every document; the first problem found is an error naming file, line and field."""
    documents = load_documents(paths, list(KINDS))
    for document in documents:
        desired(document)
    return documents


def desired(document: Document) -> dict[str, Any]:
    """The stored form of a document's spec, or an error located in its file."""
    handler = KINDS[document.kind]
    if isinstance(handler, PolicyKind | SpecKind):
        return handler.from_document(document)
    try:
        check_name(document.name, document.kind.lower(), "credit-risk" if document.kind == "Model" else "applicants")
    except InvalidInput as exc:
        raise document.error(str(exc), "metadata", "name") from None
    known = {rule.yaml: rule for rule in handler.fields}
    for key in document.spec:
        if key not in known:
            message = f"unknown field {key!r} (known: {', '.join(known)})"
            raise document.error(message, "spec", key)
    values: dict[str, Any] = {}
    for rule in handler.fields:
        if rule.yaml not in document.spec:
            if rule.required:
                raise document.error(f"field {rule.yaml!r} is required", "spec")
            values[rule.attr] = list(rule.default) if rule.is_list else rule.default
            continue
        value = document.spec[rule.yaml]
        if rule.is_list:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise document.error(f"{rule.yaml} must be a list of strings", "spec", rule.yaml)
        elif not isinstance(value, str):
            value = value.isoformat() if hasattr(value, "isoformat") else value  # YAML reads 2025-01-31 as a date
            if not isinstance(value, str):
                raise document.error(f"{rule.yaml} must be a string, not {value!r}", "spec", rule.yaml)
        if rule.choices and value not in rule.choices:
            raise document.error(f"{rule.yaml} {value!r} is not one of {', '.join(rule.choices)}", "spec", rule.yaml)
        values[rule.attr] = value
    try:
        return handler.checked(document.name, values)
    except CharterError as exc:
        raise InvalidInput(f"{document.where('spec')} {exc}") from None


def _plan_with(connection: Connection, documents: Sequence[Document]) -> list[Change]:
    changes = []
    for document in documents:
        wanted = desired(document)
        stored = KINDS[document.kind].current(connection, document.name)
        where = f"{document.file} line {document.line}"
        if stored is None:
            changes.append(
                Change(document.kind, document.name, "create", where, {k: (None, v) for k, v in wanted.items()})
            )
            continue
        diffs = {k: (stored[k], v) for k, v in wanted.items() if stored.get(k) != v}
        changes.append(Change(document.kind, document.name, "change" if diffs else "unchanged", where, diffs))
    return changes


def plan(context: Context, documents: Sequence[Document]) -> list[Change]:
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        return _plan_with(connection, documents)


def apply(context: Context, documents: Sequence[Document]) -> list[Change]:
    """Carry out the plan in one transaction (re-planned under the lock, so it applies what is true now)."""
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        changes = _plan_with(uow.connection, documents)
        now = format_timestamp(context.clock.now())
        order = list(KINDS)  # what others refer to first: targets before policies before monitors
        for change in sorted(changes, key=lambda c: order.index(c.kind)):
            handler = KINDS[change.kind]
            if change.action == "create":
                handler.create(uow, change.name, {k: new for k, (_, new) in change.diffs.items()}, now)
            elif change.action == "change":
                handler.update(uow, change.name, change.diffs, now)
    return changes
