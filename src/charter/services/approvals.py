"""Change requests and their approvals: the human in the loop.

A change request asks for one exact change — promote ``credit-risk@3`` to ``prod``, roll
back, retrain, change a policy, certify a dataset — bound by the SHA-256 of its payload:
an approval names that hash, so what was approved is what runs. A request needs
``required`` approvals: ``count`` approvals from principals holding one of ``roles``
(``mode: any``), or one approval from a holder of each role (``mode: all``). The requester
never approves their own request (separation of duties), and nobody approves twice.

States: ``pending`` -> ``approved`` (enough approvals) -> ``executed`` (the change ran);
``rejected`` (one qualified rejection), ``revoked`` (by its requester or an admin) and
``expired`` (past ``expires_at``, on the injectable clock) end it. Break-glass executes a
change at once, without approvals, and leaves a review due within a deadline that someone
other than the requester must close. Every step is on the ledger (subject ``change:<id>``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from charter.clock import format_timestamp, parse_timestamp
from charter.errors import Conflict, Forbidden, InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.ledger.encoding import canonical_json
from charter.services.access import ROLES, roles_of
from charter.services.context import Context
from charter.store.schema import approvals, change_requests

KINDS = ("promote", "rollback", "retrain", "suppress", "policy_change", "dataset_certification")
STATES = ("pending", "approved", "rejected", "revoked", "expired", "executed")
OPEN_STATES = ("pending", "approved")
DEFAULT_EXPIRY = timedelta(days=7)
REVIEW_WITHIN = timedelta(hours=72)
#: Who may break glass, and who reviews it afterwards.
BREAK_GLASS_ROLES = ("admin", "risk-officer")
REVIEW_ROLES = ("risk-officer",)


@dataclass(frozen=True)
class Requirement:
    count: int = 1
    roles: tuple[str, ...] = ("approver",)
    mode: Literal["any", "all"] = "any"

    def checked(self) -> Requirement:
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown or not self.roles:
            raise InvalidInput(f"approvers: roles {', '.join(unknown) or '(none)'} — known roles: {', '.join(ROLES)}")
        if self.mode not in ("any", "all"):
            raise InvalidInput(f"approvers: mode {self.mode!r} is not 'any' or 'all'")
        if self.count < 1:
            raise InvalidInput(f"approvers: count {self.count} must be at least 1")
        return self

    def describe(self) -> str:
        if self.mode == "all":
            return "one approval from each of " + ", ".join(self.roles)
        who = " or ".join(self.roles)
        return f"{self.count} approval{'s' if self.count > 1 else ''} from {who}"

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "roles": list(self.roles), "mode": self.mode}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirement:
        return cls(int(data.get("count", 1)), tuple(data.get("roles", ("approver",))), data.get("mode", "any"))


#: What each kind of change needs when its policy does not say.
DEFAULT_REQUIRED: dict[str, Requirement] = {
    "promote": Requirement(1, ("approver", "risk-officer")),
    "rollback": Requirement(1, ("approver", "risk-officer")),
    "retrain": Requirement(1, ("approver",)),
    "suppress": Requirement(1, ("approver", "risk-officer")),
    "policy_change": Requirement(1, ("risk-officer",)),
    "dataset_certification": Requirement(1, ("risk-officer",)),
}


@dataclass(frozen=True)
class Approval:
    id: str
    principal: str
    role: str
    decision: str
    justification: str
    payload_sha256: str
    at: str


@dataclass(frozen=True)
class ChangeRequest:
    id: str
    kind: str
    subject: str
    payload: dict[str, Any]
    payload_sha256: str
    requester: str
    justification: str
    required: dict[str, Any]
    state: str
    break_glass: bool
    review_due_at: str | None
    reviewed_by: str | None
    gate_result_id: str | None
    expires_at: str
    created_at: str
    updated_at: str
    approvals: tuple[Approval, ...] = field(default=())

    @property
    def requirement(self) -> Requirement:
        return Requirement.from_dict(self.required)

    def approved_by(self) -> list[Approval]:
        return [a for a in self.approvals if a.decision == "approve"]

    def missing(self) -> str:
        """Who still has to approve, in words; empty once the requirement is met."""
        need = self.requirement
        got = self.approved_by()
        if need.mode == "all":
            left = [r for r in need.roles if r not in {a.role for a in got}]
            return f"one approval from each of {', '.join(left)}" if left else ""
        left_count = need.count - len(got)
        if left_count <= 0:
            return ""
        return f"{left_count} more approval{'s' if left_count > 1 else ''} from {' or '.join(need.roles)}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "missing": self.missing()}


def payload_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def open_request(
    context: Context,
    kind: str,
    subject: str,
    payload: Mapping[str, Any],
    *,
    justification: str,
    required: Requirement | None = None,
    expires_in: timedelta = DEFAULT_EXPIRY,
    gate_result_id: str | None = None,
) -> ChangeRequest:
    """Open a request, or return the open one that asks for exactly the same change."""
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        return open_in(uow, context, kind, subject, payload, justification=justification, required=required,
                       expires_in=expires_in, gate_result_id=gate_result_id)  # fmt: skip


def open_in(
    uow: UnitOfWork,
    context: Context,
    kind: str,
    subject: str,
    payload: Mapping[str, Any],
    *,
    justification: str,
    required: Requirement | None = None,
    expires_in: timedelta = DEFAULT_EXPIRY,
    gate_result_id: str | None = None,
    break_glass: bool = False,
) -> ChangeRequest:
    if kind not in KINDS:
        raise InvalidInput(f"change kind {kind!r} is not one of {', '.join(KINDS)}")
    if not justification.strip():
        raise InvalidInput("a change request needs a justification: why this change, now")
    if expires_in <= timedelta(0):
        raise InvalidInput("a change request must expire in the future")
    required = (required or DEFAULT_REQUIRED[kind]).checked()
    digest = payload_hash(payload)
    now = context.clock.now()
    if not break_glass:
        existing = _open_for(uow.connection, digest, now)
        if existing is not None:
            return existing
    row: dict[str, Any] = {
        "id": new_id(), "kind": kind, "subject": subject, "payload": dict(payload), "payload_sha256": digest,
        "requester": context.actor, "justification": justification.strip(), "required": required.to_dict(),
        "state": "pending", "break_glass": break_glass, "review_due_at": None, "reviewed_by": None,
        "gate_result_id": gate_result_id, "expires_at": format_timestamp(now + expires_in),
        "created_at": format_timestamp(now), "updated_at": format_timestamp(now),
    }  # fmt: skip
    uow.execute(change_requests.insert().values(row))
    uow.record("change.requested", f"change:{row['id']}", {
        k: row[k] for k in ("kind", "subject", "payload", "payload_sha256", "justification", "required", "expires_at")
    })  # fmt: skip
    return ChangeRequest(**row)


def approve(
    context: Context, request_id: str, *, justification: str, payload_sha256: str | None = None
) -> ChangeRequest:
    return _decide(context, request_id, "approve", justification, payload_sha256)


def reject(context: Context, request_id: str, *, justification: str) -> ChangeRequest:
    return _decide(context, request_id, "reject", justification, None)


def _decide(context: Context, request_id: str, decision: str, justification: str, digest: str | None) -> ChangeRequest:
    if not justification.strip():
        raise InvalidInput(f"to {decision} a change request, give a justification")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        request = _require_open(uow, context, request_id)
        # An approved request still takes approvals until it is carried out: a policy may want more than the
        # request's requirement says (two risk-officers), and its gate, run again, is what decides.
        if request.state != "pending" and not (request.state == "approved" and decision == "approve"):
            raise Conflict(f"change request {request_id} is {request.state}, not pending")
        if digest is not None and digest != request.payload_sha256:
            raise Conflict(
                f"change request {request_id} asks for a change with hash {request.payload_sha256[:16]}…, "
                f"not {digest[:16]}…; read it again before deciding"
            )
        if context.actor == request.requester:
            raise Forbidden(
                f"{context.actor} requested change {request_id} and cannot {decision} it (separation of duties)"
            )
        if any(a.principal == context.actor for a in request.approvals):
            raise Conflict(f"{context.actor} has already decided on change request {request_id}")
        role = _qualifying_role(uow.connection, context.actor, request)
        now = format_timestamp(context.clock.now())
        row = {"id": new_id(), "request_id": request_id, "principal": context.actor, "role": role,
               "decision": decision, "justification": justification.strip(),
               "payload_sha256": request.payload_sha256, "at": now}  # fmt: skip
        uow.execute(approvals.insert().values(row))
        uow.record(f"change.{decision}d", f"change:{request_id}",
                   {"role": role, "justification": row["justification"],
                    "payload_sha256": request.payload_sha256})  # fmt: skip
        decided = replace(request, approvals=(*request.approvals, _approval(row)))
        state = "rejected" if decision == "reject" else ("approved" if not decided.missing() else "pending")
        if state != request.state and state != "pending":
            _set_state(uow, request_id, state, now)
            decided = replace(decided, state=state, updated_at=now)
        return decided


def _qualifying_role(connection: Connection, principal: str, request: ChangeRequest) -> str:
    need = request.requirement
    held = roles_of(connection, principal)
    usable = [r for r in need.roles if r in held]
    if need.mode == "all":
        covered = {a.role for a in request.approved_by()}
        usable = [r for r in usable if r not in covered] or usable
    if not usable:
        having = ", ".join(held) or "no role"
        raise Forbidden(f"change request {request.id} needs {need.describe()}; {principal} has {having}")
    return usable[0]


def revoke(context: Context, request_id: str, *, reason: str) -> ChangeRequest:
    if not reason.strip():
        raise InvalidInput("revoking a change request needs a reason")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        request = _require_open(uow, context, request_id)
        if request.state not in OPEN_STATES:
            raise Conflict(f"change request {request_id} is {request.state}; only pending or approved ones are revoked")
        if context.actor != request.requester and "admin" not in roles_of(uow.connection, context.actor):
            raise Forbidden(f"only the requester ({request.requester}) or an admin revokes change request {request_id}")
        now = format_timestamp(context.clock.now())
        _set_state(uow, request_id, "revoked", now)
        uow.record("change.revoked", f"change:{request_id}", {"reason": reason.strip()})
        return replace(request, state="revoked", updated_at=now)


def mark_executed(uow: UnitOfWork, request: ChangeRequest, now: str, result: Mapping[str, Any]) -> None:
    """Inside the unit of work that carries out the change: the request is done."""
    _set_state(uow, request.id, "executed", now)
    uow.record("change.executed", f"change:{request.id}", {"payload_sha256": request.payload_sha256, **result})


def open_break_glass(
    uow: UnitOfWork, context: Context, kind: str, subject: str, payload: Mapping[str, Any], *, justification: str
) -> ChangeRequest:
    """An emergency change: the caller executes it now; a review is due within :data:`REVIEW_WITHIN`."""
    held = roles_of(uow.connection, context.actor)
    if not set(held) & set(BREAK_GLASS_ROLES):
        raise Forbidden(
            f"break-glass needs the role {' or '.join(BREAK_GLASS_ROLES)}; "
            f"{context.actor} has {', '.join(held) or 'no role'}"
        )
    request = open_in(uow, context, kind, subject, payload, justification=justification, break_glass=True)
    due = format_timestamp(context.clock.now() + REVIEW_WITHIN)
    uow.execute(update(change_requests).where(change_requests.c.id == request.id).values(review_due_at=due))
    uow.record("change.break_glass", f"change:{request.id}", {"review_due_at": due})
    return replace(request, review_due_at=due)


def review(context: Context, request_id: str, *, justification: str) -> ChangeRequest:
    """Close the review of a break-glass change (someone other than its requester, with a review role)."""
    if not justification.strip():
        raise InvalidInput("a break-glass review needs a justification (what was checked)")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        request = _require(uow.connection, request_id)
        if not request.break_glass:
            raise Conflict(f"change request {request_id} was not a break-glass change; there is nothing to review")
        if request.reviewed_by is not None:
            raise Conflict(f"change request {request_id} was already reviewed by {request.reviewed_by}")
        if context.actor == request.requester:
            raise Forbidden(f"{context.actor} broke the glass on {request_id} and cannot review it")
        held = roles_of(uow.connection, context.actor)
        if not set(held) & set(REVIEW_ROLES):
            raise Forbidden(f"reviewing a break-glass change needs the role {' or '.join(REVIEW_ROLES)}")
        uow.execute(update(change_requests).where(change_requests.c.id == request_id).values(reviewed_by=context.actor))
        late = request.review_due_at is not None and format_timestamp(context.clock.now()) > request.review_due_at
        uow.record("change.reviewed", f"change:{request_id}", {"justification": justification.strip(), "late": late})
        return replace(request, reviewed_by=context.actor)


def get_request(context: Context, request_id: str) -> ChangeRequest:
    with context.engine.connect() as connection:
        return _effective(_require(connection, request_id), context.clock.now())


def list_requests(
    context: Context,
    *,
    states: Sequence[str] = (),
    kind: str | None = None,
    awaiting: str | None = None,
    unreviewed: bool = False,
) -> list[ChangeRequest]:
    """Requests, newest first; ``awaiting=PRINCIPAL`` keeps the pending ones that principal may decide on;
    ``unreviewed`` the break-glass changes whose review has not been done (due or overdue)."""
    for state in states:
        if state not in STATES:
            raise InvalidInput(f"state {state!r} is not one of {', '.join(STATES)}")
    now = context.clock.now()
    with context.engine.connect() as connection:
        query = select(change_requests).order_by(change_requests.c.created_at.desc(), change_requests.c.id.desc())
        if kind is not None:
            query = query.where(change_requests.c.kind == kind)
        rows = [dict(r) for r in connection.execute(query).mappings()]
        found = [_effective(r, now) for r in _with_approvals(connection, rows)]
        if awaiting is not None:
            held = set(roles_of(connection, awaiting))
            found = [
                r for r in found
                if r.state == "pending" and r.requester != awaiting and held & set(r.requirement.roles)
                and awaiting not in {a.principal for a in r.approvals}
            ]  # fmt: skip
    if unreviewed:
        found = [r for r in found if r.break_glass and r.review_due_at is not None and r.reviewed_by is None]
    return [r for r in found if not states or r.state in states]


def overdue_reviews(context: Context) -> list[ChangeRequest]:
    """Break-glass changes whose review is past due: what ``charter approvals list --unreviewed`` fails on."""
    now = format_timestamp(context.clock.now())
    return [r for r in list_requests(context, unreviewed=True) if r.review_due_at is not None and r.review_due_at < now]


def find_open(connection: Connection, payload: Mapping[str, Any], now: datetime) -> ChangeRequest | None:
    """The open request for exactly this change, if any."""
    return _open_for(connection, payload_hash(payload), now)


def _open_for(connection: Connection, digest: str, now: datetime) -> ChangeRequest | None:
    rows = [
        dict(r)
        for r in connection.execute(
            select(change_requests).where(
                change_requests.c.payload_sha256 == digest, change_requests.c.state.in_(OPEN_STATES)
            )
        ).mappings()
    ]
    live = [r for r in (_effective(x, now) for x in _with_approvals(connection, rows)) if r.state in OPEN_STATES]
    return max(live, key=lambda r: r.created_at) if live else None


def _require_open(uow: UnitOfWork, context: Context, request_id: str) -> ChangeRequest:
    request = _effective(_require(uow.connection, request_id), context.clock.now())
    if request.state == "expired":
        raise Conflict(f"change request {request_id} expired at {request.expires_at}; open a new one")
    return request


def _require(connection: Connection, request_id: str) -> ChangeRequest:
    row = connection.execute(select(change_requests).where(change_requests.c.id == request_id)).mappings().first()
    if row is None:
        raise NotFound(f"no change request {request_id!r}; `charter approvals list` shows them")
    return _with_approvals(connection, [dict(row)])[0]


def _with_approvals(connection: Connection, rows: list[dict[str, Any]]) -> list[ChangeRequest]:
    ids = [r["id"] for r in rows]
    by_request: dict[str, list[Approval]] = {}
    if ids:
        found = connection.execute(
            select(approvals).where(approvals.c.request_id.in_(ids)).order_by(approvals.c.at)
        ).mappings()
        for a in found:
            by_request.setdefault(a["request_id"], []).append(_approval(dict(a)))
    return [ChangeRequest(**r, approvals=tuple(by_request.get(r["id"], ()))) for r in rows]


def _approval(row: Mapping[str, Any]) -> Approval:
    return Approval(**{k: row[k] for k in Approval.__dataclass_fields__})


def _effective(request: ChangeRequest, now: datetime) -> ChangeRequest:
    """A pending or approved request past its expiry reads as expired (the clock decides, not a job)."""
    if request.state in OPEN_STATES and parse_timestamp(request.expires_at) <= now:
        return replace(request, state="expired")
    return request


def _set_state(uow: UnitOfWork, request_id: str, state: str, now: str) -> None:
    uow.execute(update(change_requests).where(change_requests.c.id == request_id).values(state=state, updated_at=now))
