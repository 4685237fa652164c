"""``charter role`` and ``charter whoami``: who holds which role, and granting or revoking one."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

app = typer.Typer(no_args_is_help=True, help="Grant, revoke and list the roles of principals.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PrincipalArg = Annotated[str, typer.Argument(help="The principal, as the ledger names it (e.g. local:alice).")]
RoleArg = Annotated[str, typer.Argument(help="viewer, developer, approver, risk-officer or admin.")]
ReasonOption = Annotated[str, typer.Option(help="Why, recorded on the ledger.")]


@app.command()
def grant(
    ctx: typer.Context,
    principal: PrincipalArg,
    role: RoleArg,
    reason: ReasonOption = "",
    json_output: JsonOption = False,
) -> None:
    """Give a principal a role (admins only; recorded on the ledger)."""
    from charter.services.access import grant as grant_role

    with open_context(ctx) as context:
        found = grant_role(context, principal, role, reason=reason)
    if json_output:
        print_json(found.to_dict())
    else:
        stdout().print(f"Granted {found.role} to {found.principal}")


@app.command()
def revoke(
    ctx: typer.Context,
    principal: PrincipalArg,
    role: RoleArg,
    reason: ReasonOption = "",
    json_output: JsonOption = False,
) -> None:
    """Take a role away from a principal (admins only; the last admin cannot be removed)."""
    from charter.services.access import revoke as revoke_role

    with open_context(ctx) as context:
        found = revoke_role(context, principal, role, reason=reason)
    if json_output:
        print_json(found.to_dict())
    else:
        stdout().print(f"Revoked {found.role} from {found.principal}")


@app.command("list")
def list_roles(
    ctx: typer.Context,
    principal: Annotated[str | None, typer.Option(help="Only this principal.")] = None,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked grants.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List role grants: who holds which role, granted by whom and when."""
    from rich.table import Table

    from charter.services.access import list_grants

    with open_context(ctx) as context:
        grants = list_grants(context, principal=principal, include_revoked=revoked)
    if json_output:
        print_json([g.to_dict() for g in grants])
        return
    table = Table("principal", "role", "granted by", "granted at", "revoked at")
    for g in grants:
        table.add_row(g.principal, g.role, g.granted_by, g.granted_at, g.revoked_at or "")
    stdout().print(table)


def whoami(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show who Charter thinks you are (the ledger's actor) and your roles."""
    from charter.services.access import whoami as who

    with open_context(ctx) as context:
        found = who(context)
    if json_output:
        print_json(found)
        return
    out = stdout()
    out.print(found["principal"])
    out.print(f"  roles        {', '.join(found['roles']) or 'none'}")
    out.print(f"  permissions  {', '.join(found['permissions']) or 'none'}")
