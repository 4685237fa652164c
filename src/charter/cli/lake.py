"""``charter lake`` and ``charter erase``: the decision lake's windows, compaction, retention and erasure."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.output import print_json, stdout, time_option
from charter.cli.state import open_context

app = typer.Typer(no_args_is_help=True, help="Read, compact and trim the decision lake (one Delta table per model).")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("list")
def list_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the models that have logged decisions, with their row counts."""
    from charter.services.lake import lake_overview

    with open_context(ctx) as context:
        overview = lake_overview(context)
    if json_output:
        print_json(overview)
        return
    out = stdout()
    if not overview:
        out.print("No decisions logged yet.")
    for item in overview:
        out.print(
            f"{item['model']}: {item['decisions']:,} decisions, {item['outcomes']:,} outcomes, "
            f"table version {item['version']} ({item['uri']})",
            markup=False,
        )


@app.command()
def show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model whose decisions to show.")],
    since: Annotated[
        str | None, typer.Option("--from", help="Only decisions at or after this time (ISO-8601).")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="Only decisions before this time (ISO-8601).")] = None,
    outcomes: Annotated[bool, typer.Option("--outcomes", help="Show the outcomes table instead.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.", min=1)] = 20,
    json_output: JsonOption = False,
) -> None:
    """Show the first rows of a window of a model's decisions (or outcomes)."""
    from charter.services.lake import lake_of

    start = time_option(since, "--from") if since else None
    end = time_option(until, "--to") if until else None
    with open_context(ctx) as context:
        lake = lake_of(context)
        rows: list[dict[str, object]] = []
        for batch in lake.read(model, "outcomes" if outcomes else "decisions", start=start, end=end):
            rows += batch.slice(0, limit - len(rows)).to_pylist()
            if len(rows) >= limit:
                break
    for row in rows:
        row_hash = row.get("_row_hash")
        if isinstance(row_hash, bytes):
            row["_row_hash"] = row_hash.hex()
    if json_output:
        print_json(rows)
        return
    from rich.table import Table

    if not rows:
        stdout().print("No rows in that window.")
        return
    table = Table(*[name for name in rows[0] if not name.startswith("_")])
    for row in rows:
        table.add_row(*[_cell(value) for name, value in row.items() if not name.startswith("_")])
    stdout().print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


@app.command()
def compact(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model whose tables to compact.")],
    json_output: JsonOption = False,
) -> None:
    """Rewrite a model's many small files into few large ones; rows (and their anchors) are unchanged."""
    from charter.services.lake import compact as compact_lake

    with open_context(ctx) as context:
        metrics = compact_lake(context, model)
    if json_output:
        print_json(metrics)
        return
    for kind, numbers in metrics.items():
        removed, added = numbers.get("numFilesRemoved", 0), numbers.get("numFilesAdded", 0)
        stdout().print(f"{model} {kind}: {removed} files rewritten into {added}", markup=False)


@app.command()
def retain(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model whose old decisions to delete.")],
    days: Annotated[int, typer.Option(help="Keep this many days of decisions and outcomes; delete older ones.")],
    json_output: JsonOption = False,
) -> None:
    """Delete (and vacuum) decisions and outcomes older than --days, recorded on the ledger."""
    from charter.services.lake import apply_retention

    with open_context(ctx) as context:
        done = apply_retention(context, model, days=days)
    if json_output:
        print_json(done.to_dict())
    else:
        stdout().print(
            f"{model}: deleted {done.decisions:,} decisions and {done.outcomes:,} outcomes older than {days} days",
            markup=False,
        )


def erase_command(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option("--subject", help="The subject id whose decisions to erase (GDPR art. 17).")],
    model: Annotated[
        list[str] | None, typer.Option(help="Only this model's lake (repeatable; default: every model).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Erase a subject's decisions and outcomes everywhere in the lake.

    The files that held them are vacuumed, and a ledger entry records which rows went (their
    decision ids and row hashes, not their content), so `charter audit verify --lake` still passes.
    """
    from charter.services.lake import erase_subject

    with open_context(ctx) as context:
        done = erase_subject(context, subject, models=model)
    if json_output:
        print_json([e.to_dict() for e in done])
        return
    out = stdout()
    total = sum(e.decisions for e in done)
    out.print(f"Erased {total:,} decisions of the subject from {len(done)} model(s)", markup=False)
    for e in done:
        out.print(f"  {e.model}: {e.decisions:,} decisions, {e.outcomes:,} outcomes", markup=False)
