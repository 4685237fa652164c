"""``charter alias``: point an alias (prod, staging, shadow, ...) at a model version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.aliases import AliasMove

app = typer.Typer(no_args_is_help=True, help="Point aliases (prod, staging, shadow, ...) at model versions.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _describe(move: AliasMove) -> str:
    before = "nothing" if move.from_version is None else f"{move.model}@{move.from_version}"
    after = "nothing" if move.to_version is None else f"{move.model}@{move.to_version}"
    return f"{move.model}:{move.alias}: {before} -> {after} (ledger seq {move.ledger_seq})"


@app.command("set")
def set_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version: credit-risk@3 (or credit-risk:staging).")],
    alias: Annotated[str, typer.Argument(help="The alias to point at it, e.g. prod.")],
    json_output: JsonOption = False,
) -> None:
    """Point an alias at a version, recording the move (gates and approvals arrive with promotion)."""
    from charter.services.aliases import set_alias

    with open_context(ctx) as context:
        move = set_alias(context, reference, alias)
    if json_output:
        print_json(move.to_dict())
    else:
        stdout().print(_describe(move))


@app.command()
def remove(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="MODEL:ALIAS, e.g. credit-risk:shadow.")],
    json_output: JsonOption = False,
) -> None:
    """Remove an alias (the history keeps where it pointed)."""
    from charter.services.aliases import remove_alias

    with open_context(ctx) as context:
        move = remove_alias(context, reference)
    if json_output:
        print_json(move.to_dict())
    else:
        stdout().print(_describe(move))


@app.command()
def history(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model's name.")],
    alias: Annotated[str | None, typer.Option(help="Only this alias.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Every move of a model's aliases, oldest first, with the ledger entry that records it."""
    from charter.services import aliases

    with open_context(ctx) as context:
        moves = aliases.history(context, model, alias)
    if json_output:
        print_json([m.to_dict() for m in moves])
        return
    from rich.table import Table

    table = Table("at", "alias", "from", "to", "by", "ledger seq")
    for m in moves:
        table.add_row(
            m.at,
            m.alias,
            "-" if m.from_version is None else str(m.from_version),
            "-" if m.to_version is None else str(m.to_version),
            m.actor,
            str(m.ledger_seq),
        )
    stdout().print(table)
