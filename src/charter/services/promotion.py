"""Promotion: move an alias to a version only through a passing gate and the approvals it demands.

``promote`` runs the gate for the target stage (the alias) every time — evidence may have
changed since the last run — and then:

- ``blocked``: nothing moves; the result carries the verdict naming every failing rule;
- ``pending_approval``: it opens (or finds) the change request for exactly this promotion
  and says who must approve; approvals on it enter the next gate run as ``approvals``;
- ``passed``: the alias moves and the change request (if any) is marked executed, in one
  unit of work whose ledger entry names the gate result.

Break-glass moves the alias whatever the gate says, for emergencies (an incident in
production), by a principal allowed to break glass; the gate still runs and is kept, and a
review falls due (:mod:`charter.services.approvals`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from charter.errors import Conflict, InvalidInput
from charter.ledger import unit_of_work
from charter.services import approvals
from charter.services.access import ROLES, require
from charter.services.aliases import AliasMove, move_in
from charter.services.approvals import ChangeRequest, Requirement
from charter.services.context import Context
from charter.services.gates import GateResult, promotion_payload, run_gate
from charter.services.references import check_alias_name
from charter.services.registry import get_model, resolve_version

_QUOTED = re.compile(r"""['"]([a-z][a-z-]*)['"]""")
_AT_LEAST = re.compile(r"size\(\)\s*>=\s*(\d+)")


@dataclass(frozen=True)
class Promotion:
    status: str  # promoted, blocked, pending_approval
    gate: GateResult
    request: ChangeRequest | None = None
    move: AliasMove | None = None
    break_glass: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "break_glass": self.break_glass,
            "gate": {k: v for k, v in self.gate.to_dict().items() if k != "context"},
            "change_request": None if self.request is None else self.request.to_dict(),
            "move": None if self.move is None else self.move.to_dict(),
        }


def promote(
    context: Context,
    reference: str,
    alias: str,
    *,
    justification: str = "",
    files: Sequence[Path] = (),
    packs: Sequence[str] = (),
    documents: Sequence[tuple[str, str]] = (),
    break_glass: bool = False,
) -> Promotion:
    check_alias_name(alias)
    with context.engine.connect() as connection:
        require(connection, context.actor, "model.promote")  # as POST /promotions asks (the CLI asked nothing)
    version = resolve_version(context, reference)
    if get_model(context, version.model).aliases.get(alias) == version.version:
        raise Conflict(f"{version.model}:{alias} already points at {version.ref}")
    if break_glass and not justification.strip():
        raise InvalidInput("break-glass needs a justification (the incident or emergency it answers)")
    gate = run_gate(context, reference, alias, files=files, packs=packs, documents=documents, replace_stored=False)
    payload = promotion_payload(version, alias)
    extra = {"gate": gate.id, "gate_decision": gate.outcome}
    if break_glass:
        with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
            emergency = approvals.open_break_glass(uow, context, "promote", f"model:{version.model}", payload,
                                                   justification=justification)  # fmt: skip
            move = move_in(uow, version, alias, {**extra, "change_request": emergency.id, "break_glass": True})
            approvals.mark_executed(uow, emergency, move.at, {"alias": alias, "gate": gate.id})
        return Promotion("promoted", gate, approvals.get_request(context, emergency.id), move, break_glass=True)
    if gate.outcome == "blocked":
        return Promotion("blocked", gate)
    if gate.outcome == "pending_approval":
        if gate.change_request is not None:  # asked already: the same request waits
            return Promotion("pending_approval", gate, approvals.get_request(context, gate.change_request))
        if not justification.strip():
            raise InvalidInput(
                f"promoting {version.ref} to {alias} needs approvals; give a justification (-j WHY) to ask for "
                "them: approvers read it"
            )
        opened = approvals.open_request(
            context, "promote", f"model:{version.model}", payload, justification=justification,
            required=_requirement(gate), gate_result_id=gate.id,
        )  # fmt: skip
        return Promotion("pending_approval", gate, opened)
    request = approvals.get_request(context, gate.change_request) if gate.change_request else None
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        if request is not None:
            extra["change_request"] = request.id
        move = move_in(uow, version, alias, extra)
        if request is not None:
            approvals.mark_executed(uow, request, move.at, {"alias": alias, "gate": gate.id})
    return Promotion(
        "promoted", gate, approvals.get_request(context, request.id) if request is not None else None, move
    )


def _requirement(gate: GateResult) -> Requirement:
    """Who is asked to approve: the roles the pending approval rules name (e.g. ``a.role == 'risk-officer'``).

    One rule naming several roles (``a.role == 'approver' || a.role == 'risk-officer'``) takes any of
    them; several rules that each name roles take one approval from each role named (``mode: all``).
    A rule that counts (``approvals.filter(...).size() >= 2``) asks for that many. Rules that name no
    role fall back to the promote default. The request only routes the asking: promoting runs the gate
    again, and the gate decides (an approved request still takes more approvals if it wants more).
    """
    per_rule = [
        [role for role in dict.fromkeys(_QUOTED.findall(verdict.check)) if role in ROLES]
        for verdict in gate.decision.approvals
    ]
    per_rule = [roles for roles in per_rule if roles]
    counts = [int(n) for verdict in gate.decision.approvals for n in _AT_LEAST.findall(verdict.check)]
    count = max([1, *counts])
    if not per_rule:
        return replace(approvals.DEFAULT_REQUIRED["promote"], count=count)
    if len(per_rule) == 1:
        return Requirement(count=count, roles=tuple(per_rule[0]), mode="any")
    named = tuple(dict.fromkeys(role for roles in per_rule for role in roles))
    return Requirement(count=count, roles=named, mode="all")
