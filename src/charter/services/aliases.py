"""Aliases (``credit-risk:prod``): named pointers to a model version, with their history.

Moving an alias is one audited, atomic change: the pointer, a history row and the ledger
entry commit together. Promotion through gates and approvals (#6) builds on this call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import aliased

from charter.clock import format_timestamp
from charter.errors import Conflict, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.services.context import Context
from charter.services.references import check_alias_name, parse_reference
from charter.services.registry import resolve_version
from charter.store.engine import translate_errors
from charter.store.schema import alias_history, aliases, model_versions, models


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
    """Point ``alias`` of the referenced version's model at that version."""
    check_alias_name(alias)
    target = resolve_version(context, reference)
    if target.status != "registered":
        raise InvalidInput(f"{target.ref} is {target.status}; only registered versions can take an alias")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        model_id = uow.connection.execute(select(models.c.id).where(models.c.name == target.model)).scalar_one()
        current = uow.connection.execute(
            select(aliases.c.version_id, model_versions.c.version)
            .join(model_versions, model_versions.c.id == aliases.c.version_id)
            .where(aliases.c.model_id == model_id, aliases.c.name == alias)
        ).first()
        if current is not None and current.version_id == target.id:
            raise Conflict(f"{target.model}:{alias} already points at {target.ref}")
        now = format_timestamp(context.clock.now())
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
            {"alias": alias, "from_version": from_version, "to_version": target.version},
        )
        uow.execute(
            alias_history.insert().values(
                id=new_id(),
                model_id=model_id,
                alias=alias,
                from_version_id=None if current is None else current.version_id,
                to_version_id=target.id,
                actor=context.actor,
                at=entry.ts,
                ledger_seq=entry.seq,
            )
        )
    return AliasMove(target.model, alias, from_version, target.version, context.actor, entry.ts, entry.seq)


def remove_alias(context: Context, reference: str) -> AliasMove:
    """Remove ``MODEL:ALIAS`` (recorded in the history like a move to nothing)."""
    ref = parse_reference(reference)
    if ref.alias is None:
        raise InvalidInput(f"{reference!r} names no alias: use MODEL:ALIAS, e.g. credit-risk:shadow")
    current = resolve_version(context, ref)  # NotFound lists the aliases that exist
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
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
