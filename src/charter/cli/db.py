"""``charter db``: the control-plane database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import settings

app = typer.Typer(no_args_is_help=True, help="Manage the control-plane database schema.")


@app.command()
def upgrade(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Migrate the database to the schema this Charter needs (recorded on the ledger)."""
    from charter.services.home import upgrade_database

    result = upgrade_database(settings(ctx))
    if json_output:
        print_json({"before": result.before, "after": result.after, "changed": result.changed})
    elif result.changed:
        stdout().print(f"Upgraded the database schema {result.before} -> {result.after}")
    else:
        stdout().print(f"The database schema is up to date ({result.after})")


@app.command()
def status(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the database, its schema revision and the revision this Charter needs.

    Exits 0 when the schema is up to date and 1 otherwise, so a deploy script can check it.
    """
    from charter.services.home import database_status

    info = database_status(settings(ctx))
    if json_output:
        print_json(info.to_dict())
    else:
        stdout().print(
            f"{info.database}: schema {info.revision or 'none'} (this Charter needs {info.required}) — {info.state}"
        )
    if not info.up_to_date:
        raise typer.Exit(1)
