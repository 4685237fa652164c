"""Aliases (``credit-risk:prod``): named pointers to a model version, with their history.

Moving an alias is one audited, atomic change: the pointer, a history row and the ledger
entry commit together. Promotion through gates and approvals (#6) builds on this call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from charter.clock import format_timestamp
from charter.errors import Conflict, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.services.access import require
from charter.services.context import Context
from charter.services.references import check_alias_name, parse_reference
from charter.services.registry import ModelVersion, resolve_version
from charter.store.engine import translate_errors
from charter.store.schema import alias_history, aliases, model_tags, model_versions, models


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: str
    ledger_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "at": self.at,
            "ledger_seq": self.ledger_seq,
        }


def set_alias(context: Context, reference: str, alias: str) -> AliasMove:
    """Point ``alias`` of the referenced version's model at that version.

    An alias that a policy governs (an active policy applies to the model at that stage)
    moves only through ``charter promote``, which runs the gate; this refuses it.
    """
    check_alias_name(alias)
    target = resolve_version(context, reference)
    if target.status != "registered":
        raise InvalidInput(f"{target.ref} is {target.status}; only registered versions can take an alias")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        governing = governed_by(uow.connection, target.model, alias)
        if governing:
            raise Conflict(
                f"{target.model}:{alias} is governed by {', '.join(governing)}; move it with "
                f"`charter promote {target.ref} --to {alias}`, which runs the gate"
            )
        return move_in(uow, target, alias, {})


def move_in(uow: UnitOfWork, target: ModelVersion, alias: str, extra: Mapping[str, Any]) -> AliasMove:
    """Move the alias inside ``uow`` (a promotion's unit of work passes its gate and change request in ``extra``)."""
    model_id = uow.connection.execute(select(models.c.id).where(models.c.name == target.model)).scalar_one()
    current = uow.connection.execute(
        select(aliases.c.version_id, model_versions.c.version)
        .join(model_versions, model_versions.c.id == aliases.c.version_id)
        .where(aliases.c.model_id == model_id, aliases.c.name == alias)
    ).first()
    if current is not None and current.version_id == target.id:
        raise Conflict(f"{target.model}:{alias} already points at {target.ref}")
    now = format_timestamp(uow.clock.now())
    if current is None:
        uow.execute(aliases.insert().values(model_id=model_id, name=alias, version_id=target.id, updated_at=now))
    else:
        uow.execute(
            update(aliases)
            .where(aliases.c.model_id == model_id, aliases.c.name == alias)
            .values(version_id=target.id, updated_at=now)
        )
    from_version = None if current is None else int(current.version)
    entry = uow.record(
        "model.alias_moved",
        f"model:{target.model}",
        {"alias": alias, "from_version": from_version, "to_version": target.version, **extra},
    )
    uow.execute(
        alias_history.insert().values(
            id=new_id(),
            model_id=model_id,
            alias=alias,
            from_version_id=None if current is None else current.version_id,
            to_version_id=target.id,
            actor=uow.actor,
            at=entry.ts,
            ledger_seq=entry.seq,
        )
    )
    return AliasMove(target.model, alias, from_version, target.version, uow.actor, entry.ts, entry.seq)


def governed_by(connection: Connection, model: str, alias: str) -> list[str]:
    """The active policies that apply to ``model`` at stage ``alias`` (empty: the alias moves freely)."""
    from charter.services.policies import active_policies

    row = connection.execute(select(models.c.id, models.c.risk_tier).where(models.c.name == model)).first()
    if row is None:
        return []
    tags = list(connection.execute(select(model_tags.c.tag).where(model_tags.c.model_id == row.id)).scalars())
    return [
        stored.name
        for stored, policy in active_policies(connection)
        if policy.applies_to.matches(risk_tier=row.risk_tier, tags=tags, model=model, stage=alias)
    ]


def remove_alias(context: Context, reference: str) -> AliasMove:
    """Remove ``MODEL:ALIAS`` (recorded in the history like a move to nothing)."""
    ref = parse_reference(reference)
    if ref.alias is None:
        raise InvalidInput(f"{reference!r} names no alias: use MODEL:ALIAS, e.g. credit-risk:shadow")
    current = resolve_version(context, ref)  # NotFound lists the aliases that exist
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        if governed_by(uow.connection, ref.model, ref.alias):
            # Taking a governed alias away also takes away the champion the next gate compares with.
            require(uow.connection, context.actor, "alias.remove_governed")
        model_id = uow.connection.execute(select(models.c.id).where(models.c.name == ref.model)).scalar_one()
        uow.execute(delete(aliases).where(aliases.c.model_id == model_id, aliases.c.name == ref.alias))
        entry = uow.record(
            "model.alias_removed",
            f"model:{ref.model}",
            {"alias": ref.alias, "from_version": current.version},
        )
        uow.execute(
            alias_history.insert().values(
                id=new_id(),
                model_id=model_id,
                alias=ref.alias,
                from_version_id=current.id,
                to_version_id=None,
                actor=context.actor,
                at=entry.ts,
                ledger_seq=entry.seq,
            )
        )
    return AliasMove(ref.model, ref.alias, current.version, None, context.actor, entry.ts, entry.seq)


def history(context: Context, model: str, alias: str | None = None) -> list[AliasMove]:
    """Every move of the model's aliases (or of one alias), oldest first."""
    if alias is not None:
        check_alias_name(alias)
    before, after = aliased(model_versions), aliased(model_versions)
    query = (
        select(
            models.c.name,
            alias_history.c.alias,
            before.c.version,
            after.c.version,
            alias_history.c.actor,
            alias_history.c.at,
            alias_history.c.ledger_seq,
        )
        .join(models, models.c.id == alias_history.c.model_id)
        .outerjoin(before, before.c.id == alias_history.c.from_version_id)
        .outerjoin(after, after.c.id == alias_history.c.to_version_id)
        .where(models.c.name == parse_reference(model).model)
        .order_by(alias_history.c.ledger_seq)
    )
    if alias is not None:
        query = query.where(alias_history.c.alias == alias)
    with translate_errors(context.engine.url), context.engine.connect() as connection:
        exists = connection.execute(select(models.c.id).where(models.c.name == model)).first()
        if exists is None:
            raise NotFound(f"no model {model!r}")
        return [AliasMove(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in connection.execute(query)]
