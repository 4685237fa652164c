"""``charter serve`` and ``charter token``: run the control plane's server, manage its API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stdout, time_option
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.config import Settings

tokens = typer.Typer(no_args_is_help=True, help="API tokens: create (shown once), list, revoke.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@tokens.command("create")
def create(
    ctx: typer.Context,
    principal: Annotated[str, typer.Option(help="Who the token acts as (e.g. svc:ci or local:ann).")],
    role: Annotated[
        list[str] | None, typer.Option(help="A role to grant the principal, if it lacks it (repeat).")
    ] = None,
    name: Annotated[str, typer.Option(help="A name to recognise it by.")] = "",
    expires: Annotated[str | None, typer.Option(help="When it expires: an ISO time or days ahead (90d).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create an API token (admins only). The secret is printed once; Charter keeps only its hash."""
    from charter.services.tokens import create_token

    with open_context(ctx) as context:
        until = time_option(expires, "--expires", now=context.clock.now()) if expires else None
        token, secret = create_token(context, principal, roles=tuple(role or ()), name=name, expires=until)
    if json_output:
        print_json({**token.to_dict(), "secret": secret})
        return
    out = stdout()
    out.print(f"Token {token.id} for {token.principal} ({token.name}); it is shown once:", markup=False)
    out.print(secret, markup=False)


@tokens.command("list")
def list_command(
    ctx: typer.Context,
    principal: Annotated[str | None, typer.Option(help="Only this principal's tokens.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List tokens (never their secrets): principal, name, created, expiry, revocation."""
    from rich.table import Table

    from charter.services.tokens import list_tokens

    with open_context(ctx) as context:
        found = list_tokens(context, principal=principal)
    if json_output:
        print_json([t.to_dict() for t in found])
        return
    table = Table("id", "principal", "name", "created", "expires", "revoked")
    for t in found:
        table.add_row(t.id, t.principal, t.name, t.created_at[:19] + "Z", t.expires_at or "", t.revoked_at or "")
    stdout().print(table)


@tokens.command("revoke")
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token at once (admins only)."""
    from charter.services.tokens import revoke_token

    with open_context(ctx) as context:
        found = revoke_token(context, token_id)
    stdout().print(f"Revoked token {found.id} of {found.principal}")


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port.", min=1, max=65535)] = 8465,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes sharing the port (one per core is a good start; they share the store).",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Run the server: REST API at /api/v1 (OpenAPI at /api/openapi.json), the dashboard and /metrics."""
    import os

    import uvicorn

    from charter.cli.state import settings
    from charter.services.context import require_home

    found = settings(ctx)
    require_home(found)
    processes = f", {workers} processes" if workers > 1 else ""
    stdout().print(
        f"Charter on http://{host}:{port} (API /api/v1, docs /api/docs{processes}); Ctrl-C stops it", markup=False
    )
    if workers == 1:
        serve_home(found, host, port)
        return
    # Worker processes build their own app from the environment: hand them this run's home and store.
    os.environ["CHARTER_HOME"] = str(found.home)
    os.environ["CHARTER_DATABASE_URL"] = found.database_url
    uvicorn.run("charter.server.app:served_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")  # fmt: skip


def serve_home(found: Settings, host: str, port: int) -> None:
    """Serve one home from this process until Ctrl-C (``charter serve``; ``charter demo`` after its story)."""
    import uvicorn

    from charter.server.app import served_app

    uvicorn.run(served_app(found), host=host, port=port, log_level="warning")
