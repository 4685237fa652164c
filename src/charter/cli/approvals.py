"""``charter approvals``: the change requests waiting for people, and deciding on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.approvals import ChangeRequest

app = typer.Typer(no_args_is_help=True, help="List change requests; approve, reject, revoke or review them.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArg = Annotated[str, typer.Argument(help="The change request's id (`charter approvals list` shows them).")]
WhyOption = Annotated[str, typer.Option("--justification", "-j", help="Why (required; recorded on the ledger).")]


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[list[str] | None, typer.Option(help="Only these states (repeat): pending, approved, ...")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind: promote, rollback, retrain, ...")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only the pending requests you may decide on.")] = False,
    unreviewed: Annotated[
        bool,
        typer.Option("--unreviewed", help="Only break-glass changes not yet reviewed; exit 1 if a review is overdue."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List change requests, newest first."""
    from rich.table import Table

    from charter.services.approvals import list_requests, overdue_reviews

    with open_context(ctx) as context:
        found = list_requests(context, states=tuple(state or ()), kind=kind, awaiting=context.actor if mine else None,
                              unreviewed=unreviewed)  # fmt: skip
        overdue = {r.id for r in overdue_reviews(context)} if unreviewed else set()
    if json_output:
        print_json([r.to_dict() for r in found])
        raise typer.Exit(1 if overdue else 0)
    table = Table("id", "kind", "subject", "state", "requester", "still needed", "expires")
    for r in found:
        still = (
            r.missing()
            if r.state == "pending"
            else ("review due " + (r.review_due_at or "") if r.break_glass and not r.reviewed_by else "")
        )
        if r.id in overdue:
            still = "review OVERDUE since " + (r.review_due_at or "")
        table.add_row(r.id, r.kind, r.subject, r.state, r.requester, still, r.expires_at[:19] + "Z")
    stdout().print(table)
    if overdue:  # a cron job or CI step can fail on a review nobody did
        raise typer.Exit(1)


@app.command()
def show(ctx: typer.Context, request_id: IdArg, json_output: JsonOption = False) -> None:
    """Show one change request: the exact change, its hash, approvals and what is still needed."""
    from charter.services.approvals import get_request

    with open_context(ctx) as context:
        found = get_request(context, request_id)
    if json_output:
        print_json(found.to_dict())
        return
    render(found)


@app.command()
def approve(
    ctx: typer.Context,
    request_id: IdArg,
    justification: WhyOption,
    sha256: Annotated[
        str | None, typer.Option(help="The payload hash you reviewed; refused if the request is for another change.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a change request (needs one of its roles; never your own request)."""
    from charter.services.approvals import approve as approve_request

    with open_context(ctx) as context:
        found = approve_request(context, request_id, justification=justification, payload_sha256=sha256)
    _done(found, json_output)


@app.command()
def reject(ctx: typer.Context, request_id: IdArg, justification: WhyOption, json_output: JsonOption = False) -> None:
    """Reject a change request (one qualified rejection closes it)."""
    from charter.services.approvals import reject as reject_request

    with open_context(ctx) as context:
        found = reject_request(context, request_id, justification=justification)
    _done(found, json_output)


@app.command()
def revoke(
    ctx: typer.Context,
    request_id: IdArg,
    reason: Annotated[str, typer.Option(help="Why it is withdrawn (required).")],
    json_output: JsonOption = False,
) -> None:
    """Withdraw a pending or approved change request (its requester or an admin)."""
    from charter.services.approvals import revoke as revoke_request

    with open_context(ctx) as context:
        found = revoke_request(context, request_id, reason=reason)
    _done(found, json_output)


@app.command()
def review(ctx: typer.Context, request_id: IdArg, justification: WhyOption, json_output: JsonOption = False) -> None:
    """Close the mandatory review of a break-glass change (a risk-officer other than who broke the glass)."""
    from charter.services.approvals import review as review_request

    with open_context(ctx) as context:
        found = review_request(context, request_id, justification=justification)
    _done(found, json_output)


def _done(found: ChangeRequest, json_output: bool) -> None:
    if json_output:
        print_json(found.to_dict())
    else:
        render(found)


def render(found: ChangeRequest) -> None:
    out = stdout()
    out.print(f"Change request {found.id}: {found.kind} {found.subject} — {found.state}", markup=False)
    out.print(f"  requested by {found.requester} at {found.created_at}: {found.justification}", markup=False)
    out.print(f"  change       {found.payload} (sha256 {found.payload_sha256})", markup=False)
    out.print(f"  needs        {found.requirement.describe()}; expires {found.expires_at}")
    for a in found.approvals:
        out.print(f"  {a.decision}d by {a.principal} ({a.role}) at {a.at}: {a.justification}", markup=False)
    if found.state == "pending" and found.missing():
        out.print(f"  still needed {found.missing()}")
    if found.break_glass:
        reviewed = f"reviewed by {found.reviewed_by}" if found.reviewed_by else f"review due by {found.review_due_at}"
        out.print(f"  break-glass  {reviewed}")
