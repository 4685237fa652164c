"""Change requests and approvals on SQLite and PostgreSQL: separation of duties, roles, expiry, break-glass."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import Conflict, Forbidden, InvalidInput, NotFound
from charter.ledger import unit_of_work
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import access, approvals, audit
from charter.services.approvals import Requirement
from charter.services.context import Context, open_context
from charter.services.home import init_home

PAYLOAD = {"model": "credit-risk", "version": 3, "alias": "prod", "artifact_sha256": "ab" * 32}


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        for principal, role in (
            ("local:ann", "approver"),
            ("local:rita", "risk-officer"),
            ("local:ray", "risk-officer"),
        ):
            access.grant(opened, principal, role)
        yield opened


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


def request(context: Context, **options: object) -> approvals.ChangeRequest:
    return approvals.open_request(
        as_actor(context, "local:dev"), "promote", "model:credit-risk", PAYLOAD,
        justification="AUC up 2 points on the holdout", **options,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_request_is_approved_by_a_role_holder_other_than_its_requester(context: Context) -> None:
    opened = request(context)
    assert (opened.state, opened.requester, opened.missing()) == (
        "pending",
        "local:dev",
        "1 more approval from approver or risk-officer",
    )
    assert opened.payload_sha256 == approvals.payload_hash(PAYLOAD)
    assert request(context).id == opened.id  # the same change asked again: the same request
    with pytest.raises(
        Forbidden, match=r"local:dev requested change .* and cannot approve it \(separation of duties\)"
    ):
        approvals.approve(as_actor(context, "local:dev"), opened.id, justification="mine")
    with pytest.raises(Forbidden, match=r"needs 1 approval from approver or risk-officer; local:nobody has no role"):
        approvals.approve(as_actor(context, "local:nobody"), opened.id, justification="looks fine")
    with pytest.raises(Conflict, match=r"read it again before deciding"):
        approvals.approve(as_actor(context, "local:ann"), opened.id, justification="ok", payload_sha256="0" * 64)
    done = approvals.approve(as_actor(context, "local:ann"), opened.id, justification="checked the gate report",
                             payload_sha256=opened.payload_sha256)  # fmt: skip
    assert (done.state, done.missing(), [(a.principal, a.role) for a in done.approvals]) == (
        "approved", "", [("local:ann", "approver")],
    )  # fmt: skip
    with pytest.raises(Conflict, match=r"is approved, not pending"):
        approvals.reject(as_actor(context, "local:rita"), opened.id, justification="late")
    # More approvals are taken until it is carried out (its policy may want more than it asked for).
    late = approvals.approve(as_actor(context, "local:rita"), opened.id, justification="late")
    assert (late.state, [a.principal for a in late.approvals]) == ("approved", ["local:ann", "local:rita"])
    assert approvals.get_request(context, opened.id).state == "approved"
    actions = [e.action for e in list_entries(context.engine, EntryFilter(subject=f"change:{opened.id}"))]
    assert sorted(actions) == ["change.approved", "change.approved", "change.requested"]
    assert audit.verify_ledger(context).ok


def test_mode_all_needs_each_role_and_nobody_decides_twice(context: Context) -> None:
    need = Requirement(roles=("approver", "risk-officer"), mode="all")
    opened = request(context, required=need)
    after_one = approvals.approve(as_actor(context, "local:rita"), opened.id, justification="risk ok")
    assert (after_one.state, after_one.missing()) == ("pending", "one approval from each of approver")
    with pytest.raises(Conflict, match=r"local:rita has already decided"):
        approvals.approve(as_actor(context, "local:rita"), opened.id, justification="again")
    assert approvals.approve(as_actor(context, "local:ann"), opened.id, justification="ops ok").state == "approved"


def test_two_approvals_and_a_rejection(context: Context) -> None:
    opened = request(context, required=Requirement(count=2, roles=("risk-officer",)))
    assert approvals.approve(as_actor(context, "local:rita"), opened.id, justification="ok").state == "pending"
    rejected = approvals.reject(as_actor(context, "local:ray"), opened.id, justification="fairness too close to 0.8")
    assert rejected.state == "rejected"
    assert request(context).id != opened.id  # a rejected request is closed; asking again opens a new one


def test_requests_expire_on_the_clock_and_can_be_revoked(context: Context, clock: FixedClock) -> None:
    opened = request(context, expires_in=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    assert approvals.get_request(context, opened.id).state == "expired"
    with pytest.raises(Conflict, match=r"expired at .*; open a new one"):
        approvals.approve(as_actor(context, "local:ann"), opened.id, justification="too late")
    fresh = request(context)
    assert fresh.id != opened.id
    with pytest.raises(Forbidden, match=r"only the requester \(local:dev\) or an admin revokes"):
        approvals.revoke(as_actor(context, "local:ann"), fresh.id, reason="not mine")
    assert approvals.revoke(as_actor(context, "local:dev"), fresh.id, reason="wrong version").state == "revoked"
    with pytest.raises(Conflict, match=r"is revoked; only pending or approved ones are revoked"):
        approvals.revoke(context, fresh.id, reason="again")


def test_listing_what_a_principal_may_decide(context: Context) -> None:
    promote = request(context)
    policy = approvals.open_request(as_actor(context, "local:dev"), "policy_change", "policy:baseline",
                                    {"policy": "baseline", "version": 2}, justification="tighter AUC")  # fmt: skip
    assert [r.id for r in approvals.list_requests(context, awaiting="local:ann")] == [promote.id]
    assert [r.id for r in approvals.list_requests(context, awaiting="local:rita")] == [policy.id, promote.id]
    assert approvals.list_requests(context, awaiting="local:dev") == []
    assert [r.kind for r in approvals.list_requests(context, kind="policy_change")] == ["policy_change"]
    with pytest.raises(InvalidInput, match=r"state 'open' is not one of pending"):
        approvals.list_requests(context, states=["open"])


def test_break_glass_executes_now_and_needs_a_review(context: Context, clock: FixedClock) -> None:
    rita = as_actor(context, "local:rita")
    with unit_of_work(context.engine, actor="local:ann", clock=clock) as uow, pytest.raises(Forbidden):
        approvals.open_break_glass(uow, as_actor(context, "local:ann"), "rollback", "model:credit-risk", PAYLOAD,
                                   justification="outage")  # fmt: skip
    with unit_of_work(context.engine, actor="local:rita", clock=clock) as uow:
        emergency = approvals.open_break_glass(uow, rita, "rollback", "model:credit-risk", PAYLOAD,
                                               justification="bias incident in prod")  # fmt: skip
        approvals.mark_executed(uow, emergency, "2026-01-01T00:00:00.000000Z", {"alias": "prod"})
    found = approvals.get_request(context, emergency.id)
    assert (found.state, found.break_glass, found.reviewed_by) == ("executed", True, None)
    assert found.review_due_at == "2026-01-04T00:00:00.000000Z"
    with pytest.raises(Forbidden, match=r"broke the glass on .* and cannot review it"):
        approvals.review(rita, emergency.id, justification="fine")
    with pytest.raises(Forbidden, match=r"needs the role risk-officer"):
        approvals.review(as_actor(context, "local:ann"), emergency.id, justification="fine")
    reviewed = approvals.review(as_actor(context, "local:ray"), emergency.id, justification="rollback was right")
    assert reviewed.reviewed_by == "local:ray"
    with pytest.raises(Conflict, match=r"was already reviewed by local:ray"):
        approvals.review(as_actor(context, "local:ray"), emergency.id, justification="again")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: approvals.open_request(c, "deploy", "x", {}, justification="j"), InvalidInput,
         "change kind 'deploy' is not one of promote"),
        (lambda c: approvals.open_request(c, "promote", "x", {}, justification=" "), InvalidInput,
         "a change request needs a justification"),
        (lambda c: approvals.open_request(c, "promote", "x", {}, justification="j",
                                          required=Requirement(roles=("boss",))),
         InvalidInput, "approvers: roles boss"),
        (lambda c: approvals.approve(c, "nope", justification="j"), NotFound, "no change request 'nope'"),
        (lambda c: approvals.approve(c, "nope", justification=""), InvalidInput, "to approve a change request, give a"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(
    context: Context, call: object, error: type[Exception], message: str
) -> None:
    head = audit.ledger_size(context)
    with pytest.raises(error) as caught:
        call(context)  # type: ignore[operator]
    assert str(caught.value).startswith(message)
    assert audit.ledger_size(context) == head
