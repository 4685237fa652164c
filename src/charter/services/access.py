"""Who may do what: roles granted to principals, and the permission each guarded action needs.

A principal is the actor string the ledger records (``local:alice`` from the OS user,
``CHARTER_ACTOR``, or a token's principal once the server exists). Roles are granted
and revoked by an admin, each change on the ledger (subject ``principal:<name>``).
The actor who first initialises a home becomes its admin, so a fresh home is usable.

Permissions name the roles that hold them explicitly; ``admin`` manages roles and is
not a super-role: an admin who wants to certify data grants themselves
``risk-officer`` first, and that grant is on the ledger for everyone to see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from charter.clock import format_timestamp
from charter.errors import Conflict, Forbidden, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.services.context import Context
from charter.store.schema import role_grants

ROLES = ("viewer", "developer", "approver", "risk-officer", "admin")

#: permission -> (the roles that hold it, what it is called in a message).
PERMISSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "role.manage": (("admin",), "granting or revoking roles"),
    "dataset.certify": (("risk-officer",), "certifying a dataset version"),
    "dataset.revoke_certification": (("risk-officer",), "revoking a dataset certification"),
    "policy.manage": (("risk-officer", "admin"), "adding, changing or removing a policy"),
    "safe_zone.declare": (("risk-officer", "admin"), "declaring or changing a safe zone (a monitor's auto_rollback)"),
    "alias.remove_governed": (("risk-officer", "admin"), "removing an alias that a policy governs"),
    "model.promote": (("developer", "approver", "risk-officer", "admin"), "promoting a model version"),
}


@dataclass(frozen=True)
class Grant:
    id: str
    principal: str
    role: str
    granted_by: str
    granted_at: str
    reason: str
    revoked_at: str | None = None
    revoked_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_principal(principal: str) -> str:
    name = principal.strip()
    if not name or len(name) > 200 or any(ch.isspace() for ch in name):
        raise InvalidInput(
            f"principal {principal!r} is not a valid name: 1 to 200 characters without spaces (e.g. local:alice)"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def roles_of(connection: Connection, principal: str) -> tuple[str, ...]:
    """The roles a principal holds now, in :data:`ROLES` order."""
    held = set(
        connection.execute(
            select(role_grants.c.role).where(role_grants.c.principal == principal, role_grants.c.revoked_at.is_(None))
        ).scalars()
    )
    return tuple(role for role in ROLES if role in held)


def require(connection: Connection, principal: str, permission: str) -> str:
    """Refuse unless ``principal`` holds a role with ``permission``; returns the role that allows it."""
    allowed, action = PERMISSIONS[permission]
    held = roles_of(connection, principal)
    for role in allowed:
        if role in held:
            return role
    having = ", ".join(held) if held else "no role"
    raise Forbidden(
        f"{action} needs the role {' or '.join(allowed)}; {principal} has {having} "
        f"(an admin grants it with `charter role grant {principal} {allowed[0]}`)"
    )


def grant_initial_admin(uow: UnitOfWork, principal: str, now: str) -> Grant | None:
    """Make ``principal`` the admin of a home that has none (first init, or upgrade to roles)."""
    admins = uow.connection.execute(
        select(role_grants.c.id).where(role_grants.c.role == "admin", role_grants.c.revoked_at.is_(None))
    ).first()
    if admins is not None:
        return None
    return _insert(uow, principal, "admin", now, "first admin of this home (the actor who initialised it)")


def grant(context: Context, principal: str, role: str, *, reason: str = "") -> Grant:
    principal, role = check_principal(principal), check_role(role)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "role.manage")
        if role in roles_of(uow.connection, principal):
            raise Conflict(f"{principal} already has the role {role}")
        return _insert(uow, principal, role, format_timestamp(context.clock.now()), reason)


def revoke(context: Context, principal: str, role: str, *, reason: str = "") -> Grant:
    principal, role = check_principal(principal), check_role(role)
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        require(uow.connection, context.actor, "role.manage")
        row = (
            uow.connection.execute(
                select(role_grants).where(
                    role_grants.c.principal == principal,
                    role_grants.c.role == role,
                    role_grants.c.revoked_at.is_(None),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"{principal} does not have the role {role} (`charter role list` shows who has what)")
        if role == "admin" and len(_holders(uow.connection, "admin")) == 1:
            raise Conflict(f"{principal} is the last admin; grant admin to someone else before revoking it")
        now = format_timestamp(context.clock.now())
        uow.execute(
            update(role_grants).where(role_grants.c.id == row["id"]).values(revoked_at=now, revoked_by=context.actor)
        )
        uow.record("role.revoked", f"principal:{principal}", {"role": role, "grant": row["id"], "reason": reason})
        return Grant(**{**dict(row), "revoked_at": now, "revoked_by": context.actor})


def list_grants(context: Context, *, principal: str | None = None, include_revoked: bool = False) -> list[Grant]:
    query = select(role_grants).order_by(role_grants.c.principal, role_grants.c.granted_at)
    if principal is not None:
        query = query.where(role_grants.c.principal == principal)
    if not include_revoked:
        query = query.where(role_grants.c.revoked_at.is_(None))
    with context.engine.connect() as connection:
        return [Grant(**dict(row)) for row in connection.execute(query).mappings()]


def whoami(context: Context) -> dict[str, Any]:
    with context.engine.connect() as connection:
        held = roles_of(connection, context.actor)
    allowed = sorted(name for name, (roles, _) in PERMISSIONS.items() if set(roles) & set(held))
    return {"principal": context.actor, "roles": list(held), "permissions": allowed}


def _holders(connection: Connection, role: str) -> list[str]:
    return list(
        connection.execute(
            select(role_grants.c.principal).where(role_grants.c.role == role, role_grants.c.revoked_at.is_(None))
        ).scalars()
    )


def _insert(uow: UnitOfWork, principal: str, role: str, now: str, reason: str) -> Grant:
    found = Grant(id=new_id(), principal=principal, role=role, granted_by=uow.actor, granted_at=now, reason=reason)
    uow.execute(role_grants.insert().values(found.to_dict()))
    uow.record("role.granted", f"principal:{principal}", {"role": role, "grant": found.id, "reason": reason})
    return found
