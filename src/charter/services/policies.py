"""Policies in the store: versioned, audited, and the set every gate evaluates.

``add_policies`` reads policy files (or built-in packs), checks every one before writing
anything, and stores each as a new version when its text changed (``policy.added`` /
``policy.updated``), leaving it as it is when not. ``remove_policy`` deactivates a policy
(its versions stay, for the record). Changing the rules that gate models is itself guarded:
it needs the ``risk-officer`` or ``admin`` role.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from charter.clock import format_timestamp
from charter.errors import Conflict, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.policy.document import Policy, parse_policy
from charter.policy.files import read_policy_texts
from charter.services.access import require
from charter.services.approvals import ChangeRequest, find_open, mark_executed, open_in
from charter.services.context import Context
from charter.store.schema import policies


@dataclass(frozen=True)
class StoredPolicy:
    id: str
    name: str
    version: int
    sha256: str
    origin: str
    active: bool
    created_by: str
    created_at: str
    source: str
    document: dict[str, Any]

    @property
    def document_rules(self) -> list[dict[str, Any]]:
        return list(self.document.get("rules", []))

    def to_dict(self, *, with_source: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data.pop("document")
        if not with_source:
            data.pop("source")
        return data


@dataclass(frozen=True)
class PolicyChange:
    name: str
    action: str  # create, update, unchanged
    version: int
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_policy_files(paths: Sequence[Path], *, linted: bool = False) -> list[tuple[str, str, Policy]]:
    """``(text, origin, policy)`` for each YAML file (a folder: its ``*.yaml`` except ``cases.yaml``), checked."""
    return read_policy_documents(read_policy_texts(paths), linted=linted)


def read_policy_documents(
    documents: Sequence[tuple[str, str]], *, linted: bool = False
) -> list[tuple[str, str, Policy]]:
    """``(text, origin, policy)`` for policy documents given as ``(text, file)``, checked (and linted)."""
    return [(text, file, parsed(text, file, linted=linted)) for text, file in documents]


def read_packs(names: Sequence[str]) -> list[tuple[str, str, Policy]]:
    from charter.policy.packs import pack_folder

    found = []
    for name in names:
        path = pack_folder(name) / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        found.append((text, f"pack:{name}", parsed(text, f"packs/{name}/{name}.yaml")))
    return found


def parsed(text: str, file: str, *, linted: bool = False) -> Policy:
    """The compiled policy, or the first problem as an error that lists every problem found.

    ``linted``: also every problem ``charter policy lint`` finds (fields the context does not have,
    expressions that are not boolean): a policy is stored only when lint passes, since a stored policy
    with such a rule would block every gate it applies to."""
    policy, problems = parse_policy(text, file=file)
    if policy is not None and not problems and linted:
        from charter.policy.lint import lint_policy

        problems = lint_policy(policy)
    if problems:
        error = problems[0].error()
        if len(problems) > 1:
            error.message = "; ".join(str(p) for p in problems)
            error.args = (error.message,)
        raise error
    assert policy is not None
    return policy


@dataclass(frozen=True)
class PolicyProposal:
    """A policy change under approval: ``pending_approval`` with its request, or ``applied`` with the changes."""

    status: str
    request: ChangeRequest
    changes: tuple[PolicyChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "change_request": self.request.to_dict(),
                "changes": [c.to_dict() for c in self.changes]}  # fmt: skip


def add_policies(context: Context, paths: Sequence[Path] = (), packs: Sequence[str] = ()) -> list[PolicyChange]:
    """Store the policies in ``paths`` and the built-in ``packs``, all or nothing."""
    documents = _given(paths, packs, ())
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "policy.manage")
        now = format_timestamp(context.clock.now())
        return [store_in(uow, text, origin, policy.name, now) for text, origin, policy in documents]


def propose_policies(
    context: Context,
    paths: Sequence[Path] = (),
    packs: Sequence[str] = (),
    *,
    documents: Sequence[tuple[str, str]] = (),
    justification: str = "",
) -> PolicyProposal:
    """A change to the policies, under approval (a ``policy_change`` change request).

    The request is bound to exactly these texts (the payload holds each policy's name, origin,
    SHA-256 and text, so approvers read what they approve). The first call opens it — anyone may
    ask; a risk-officer other than the requester approves (``charter approvals approve``). Called
    again with the same texts once it is approved, it stores them in one unit of work with the
    request marked executed: the approval, not the caller's role, authorises the change.
    """
    given = _given(paths, packs, documents)
    payload = {
        "policies": [
            {"name": policy.name, "origin": origin, "sha256": _digest(text), "source": text}
            for text, origin, policy in given
        ]
    }
    subject = "policy:" + ",".join(sorted(policy.name for _, _, policy in given))
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        held = {entry["name"]: active_stored(uow.connection, entry["name"]) for entry in payload["policies"]}
        if all((found := held[e["name"]]) is not None and found.sha256 == e["sha256"] for e in payload["policies"]):
            raise Conflict(f"{subject.removeprefix('policy:')}: the stored policies already hold exactly these "
                           "texts; there is nothing to change")  # fmt: skip
        request = find_open(uow.connection, payload, context.clock.now())
        if request is not None and request.state == "approved":
            now = format_timestamp(context.clock.now())
            changes = tuple(store_in(uow, text, origin, p.name, now, approved=request) for text, origin, p in given)
            mark_executed(uow, request, now, {"policies": [f"{c.name}@{c.version}" for c in changes]})
            return PolicyProposal("applied", replace(request, state="executed", updated_at=now), changes)
        if request is None:
            request = open_in(uow, context, "policy_change", subject, payload, justification=justification)
        return PolicyProposal("pending_approval", request)


def _given(
    paths: Sequence[Path], packs: Sequence[str], documents: Sequence[tuple[str, str]]
) -> list[tuple[str, str, Policy]]:
    given = [*read_policy_files(paths, linted=True), *read_policy_documents(documents, linted=True),
             *read_packs(packs)]  # fmt: skip
    if not given:
        raise InvalidInput("no policies given: name policy files or folders, or --pack NAME")
    names = [policy.name for _, _, policy in given]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"policy {twice[0]!r} is defined more than once in what was given")
    return given


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def add_policy_text(context: Context, text: str, *, origin: str) -> PolicyChange:
    """Store one policy document given as YAML text (the REST API's request body); ``origin`` names its source."""
    policy = parsed(text, origin, linted=True)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "policy.manage")
        return store_in(uow, text, origin, policy.name, format_timestamp(context.clock.now()))


def store_in(
    uow: UnitOfWork, text: str, origin: str, name: str, now: str, *, approved: ChangeRequest | None = None
) -> PolicyChange:
    """Store one checked policy's text inside ``uow`` (``charter apply`` calls this for ``kind: Policy``).

    The actor needs ``policy.manage``, unless the change carries out the ``approved`` request."""
    if approved is None:
        require(uow.connection, uow.actor, "policy.manage")
    digest = _digest(text)
    current = (
        uow.connection.execute(select(policies).where(policies.c.name == name, policies.c.active.is_(True)))
        .mappings()
        .first()
    )
    if current is not None and current["sha256"] == digest:
        return PolicyChange(name, "unchanged", int(current["version"]), origin)
    latest = uow.connection.execute(select(func.max(policies.c.version)).where(policies.c.name == name)).scalar_one()
    version = (latest or 0) + 1
    uow.execute(update(policies).where(policies.c.name == name).values(active=False))
    policy = parsed(text, origin)
    row = {
        "id": new_id(), "name": name, "version": version, "source": text, "sha256": digest,
        "document": policy.to_dict(), "origin": origin, "active": True, "created_by": uow.actor, "created_at": now,
    }  # fmt: skip
    uow.execute(policies.insert().values(row))
    action = "create" if current is None else "update"
    data = {"version": version, "sha256": digest, "origin": origin, "rules": [r.name for r in policy.rules]}
    if approved is not None:
        data["change_request"] = approved.id
    uow.record("policy.added" if action == "create" else "policy.updated", f"policy:{name}", data)
    return PolicyChange(name, action, version, origin)


def remove_policy(context: Context, name: str, *, reason: str) -> StoredPolicy:
    if not reason.strip():
        raise InvalidInput("removing a policy needs a reason")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "policy.manage")
        current = _active(uow.connection, name)
        uow.execute(update(policies).where(policies.c.name == name).values(active=False))
        uow.record("policy.removed", f"policy:{name}", {"version": current.version, "reason": reason.strip()})
    return StoredPolicy(**{**asdict(current), "active": False})


def list_policies(context: Context, *, include_inactive: bool = False) -> list[StoredPolicy]:
    query = select(policies).order_by(policies.c.name, policies.c.version.desc())
    if not include_inactive:
        query = query.where(policies.c.active.is_(True))
    with context.engine.connect() as connection:
        return [_stored(row) for row in connection.execute(query).mappings()]


def get_policy(context: Context, name: str, version: int | None = None) -> StoredPolicy:
    with context.engine.connect() as connection:
        if version is None:
            return _active(connection, name)
        row = (
            connection.execute(select(policies).where(policies.c.name == name, policies.c.version == version))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"policy {name!r} has no version {version}")
        return _stored(row)


def active_policies(connection: Connection) -> list[tuple[StoredPolicy, Policy]]:
    """Every active policy, compiled from its stored text."""
    rows = connection.execute(select(policies).where(policies.c.active.is_(True)).order_by(policies.c.name))
    found = []
    for row in rows.mappings():
        stored = _stored(row)
        found.append((stored, parsed(stored.source, f"policy:{stored.name}@{stored.version}")))
    return found


def active_stored(connection: Connection, name: str) -> StoredPolicy | None:
    row = (
        connection.execute(select(policies).where(policies.c.name == name, policies.c.active.is_(True)))
        .mappings()
        .first()
    )
    return None if row is None else _stored(row)


def _active(connection: Connection, name: str) -> StoredPolicy:
    row = (
        connection.execute(select(policies).where(policies.c.name == name, policies.c.active.is_(True)))
        .mappings()
        .first()
    )
    if row is None:
        names = sorted(set(connection.execute(select(policies.c.name).where(policies.c.active.is_(True))).scalars()))
        known = f"policies: {', '.join(names)}" if names else "no policies yet; add one with `charter policy add`"
        raise NotFound(f"no active policy {name!r} ({known})")
    return _stored(row)


def _stored(row: Any) -> StoredPolicy:
    return StoredPolicy(**{k: row[k] for k in StoredPolicy.__dataclass_fields__})
