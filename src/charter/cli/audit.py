"""``charter audit``: verify, read and export the hash-chained ledger; sign checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, print_json_line, progress, stdout, time_option
from charter.cli.state import open_context, settings

if TYPE_CHECKING:
    from charter.services.lake import LakeReport

app = typer.Typer(no_args_is_help=True, help="Verify, read and export the audit ledger; sign checkpoints.")

PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="PEM public key that checkpoints must be signed with (default: the home's own key).",
        exists=True,
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@app.command()
def verify(
    ctx: typer.Context,
    public_key: PublicKeyOption = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Verify an exported ledger (charter audit export) instead of the database.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    held: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Also check these exported checkpoints (kept by a witness) against the chain.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    lake: Annotated[
        list[str] | None,
        typer.Option(
            "--lake",
            help="Also verify this model's decision lake against the batches anchored on the ledger (repeatable).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check every entry's hash and link, the recorded head and every signed checkpoint.

    Exits 0 when the ledger is intact, 1 when anything was altered, and names the first
    bad entry and what is wrong with it (edited, missing, inserted, reordered, ...).
    With ``--lake MODEL``, the model's decision lake is checked too, and every changed,
    removed or added row is named.
    """
    from charter.errors import InvalidInput
    from charter.services import audit

    if lake and file is not None:
        raise InvalidInput("--lake checks the home's lake against its database; it cannot be used with --file")
    if file is not None:
        with progress("Verifying export", None) as tick:
            report = audit.verify_export(file, public_key=public_key, settings=settings(ctx), progress=tick, held=held)
    else:
        with open_context(ctx) as context, progress("Verifying ledger", audit.ledger_size(context)) as tick:
            report = audit.verify_ledger(context, public_key=public_key, progress=tick, held=held)
    lakes = _verify_lakes(ctx, lake or [], file)
    if json_output:
        print_json({**report.to_dict(), "lakes": [r.to_dict() for r in lakes]} if lake else report.to_dict())
    else:
        out = stdout()
        if report.ok:
            out.print(
                f"Ledger intact: {_count(report.entries, 'entry', 'entries')} up to seq {report.head_seq} "
                f"(head {report.head_hash[:16]}…), {_count(report.checkpoints, 'checkpoint', 'checkpoints')} verified"
            )
        else:
            first = report.problems[0]
            where = f" at seq {first.seq}" if first.seq is not None else ""
            out.print(f"Ledger NOT intact: {first.kind}{where}: {first.message}", markup=False)
            for problem in report.problems[1:]:
                out.print(f"  also {problem.kind}: {problem.message}", markup=False)
        for checked in lakes:
            _print_lake(checked)
    if not report.ok or not all(checked.ok for checked in lakes):
        raise typer.Exit(1)


def _verify_lakes(ctx: typer.Context, models: list[str], file: Path | None) -> list[LakeReport]:
    if not models or file is not None:
        return []
    from charter.services.lake import verify_lake

    with open_context(ctx) as context:
        return [verify_lake(context, model) for model in models]


def _print_lake(report: LakeReport) -> None:
    out = stdout()
    counts = f"{_count(report.batches, 'batch', 'batches')}, {_count(report.rows, 'row', 'rows')}"
    if report.ok:
        out.print(f"Lake {report.model} intact: {counts}, {report.erased} erased by record", markup=False)
        return
    out.print(f"Lake {report.model} NOT intact ({counts}):", markup=False)
    for problem in report.problems[:50]:
        row = f" row {problem.decision_id}" if problem.decision_id else ""
        out.print(f"  {problem.kind}: {problem.table}{row} (batch {problem.batch}): {problem.detail}", markup=False)
    if len(report.problems) > 50:
        out.print(f"  ... and {len(report.problems) - 50} more (--json lists them all)", markup=False)


@app.command()
def checkpoint(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Sign the ledger's current head (sequence, hash, time) with the home's Ed25519 key."""
    from charter.services import audit

    with open_context(ctx) as context:
        cp = audit.sign_checkpoint(context)
    if json_output:
        print_json(cp.to_dict())
    else:
        stdout().print(f"Signed checkpoint at seq {cp.seq} (head {cp.head_hash[:16]}…) with {cp.key_id}")


@app.command()
def checkpoints(
    ctx: typer.Context,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write the checkpoints as JSON lines for an outside witness."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List signed checkpoints, or export them for verification with the public key alone."""
    from charter.ledger.checkpoints import export_document
    from charter.services import audit

    with open_context(ctx) as context:
        found = audit.checkpoints(context)
    if export is not None:
        import json

        from charter.errors import NotFound

        if not found:
            raise NotFound("there are no checkpoints to export yet; sign one with `charter audit checkpoint`")
        export.write_text("".join(json.dumps(export_document(cp), sort_keys=True) + "\n" for cp in found))
        stdout().print(f"Exported {_count(len(found), 'checkpoint', 'checkpoints')} to {export}")
        return
    if json_output:
        print_json([cp.to_dict() for cp in found])
        return
    from rich.table import Table

    table = Table("seq", "signed at", "head hash", "key")
    for cp in found:
        table.add_row(str(cp.seq), cp.ts, cp.head_hash[:16] + "…", cp.key_id)
    stdout().print(table)


@app.command("verify-checkpoints")
def verify_checkpoints(
    file: Annotated[
        Path,
        typer.Argument(
            help="Checkpoints exported by `charter audit checkpoints --export`.", exists=True, dir_okay=False
        ),
    ],
    public_key: Annotated[
        Path,
        typer.Option(
            "--public-key", help="The PEM public key to check the signatures with.", exists=True, dir_okay=False
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Check exported checkpoints with only a public key: no Charter home or database needed."""
    from charter.services import audit

    results = audit.check_checkpoint_file(file, public_key=public_key)
    if json_output:
        print_json([r.to_dict() for r in results])
    else:
        out = stdout()
        for r in results:
            mark = "valid  " if r.valid else "INVALID"
            out.print(f"{mark} seq {r.checkpoint.seq} signed {r.checkpoint.ts}: {r.reason}", markup=False)
    if not all(r.valid for r in results):
        raise typer.Exit(1)


@app.command("public-key")
def public_key_command(ctx: typer.Context) -> None:
    """Print the public key that verifies this home's checkpoints (give it to your witness)."""
    from charter.errors import SigningKeyMissing
    from charter.ledger.keys import public_pem
    from charter.services import audit

    key = audit.trusted_public_key(settings(ctx))
    if key is None:
        raise SigningKeyMissing("this home has no signing key; run `charter init`")
    typer.echo(public_pem(key), nl=False)


@app.command()
def log(
    ctx: typer.Context,
    subject: Annotated[
        str | None, typer.Option(help="Only entries about this subject, e.g. model:credit-risk.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries by this actor.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action; a trailing * matches a prefix (model.*).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only entries at or after this ISO-8601 time.")] = None,
    until: Annotated[str | None, typer.Option(help="Only entries before this ISO-8601 time.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 50,
    all_entries: Annotated[bool, typer.Option("--all", help="Every matching entry (ignores --limit).")] = False,
    oldest_first: Annotated[bool, typer.Option("--oldest-first", help="Oldest entries first.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON lines, one entry per line.")] = False,
) -> None:
    """Show ledger entries, newest first, filtered by subject, actor, action and time."""
    from charter.ledger.chain import EntryFilter
    from charter.services import audit

    where = EntryFilter(
        subject=subject,
        actor=actor,
        action=action,
        since=None if since is None else time_option(since, "--since"),
        until=None if until is None else time_option(until, "--until"),
    )
    with open_context(ctx) as context:
        entries = audit.log(context, where, limit=None if all_entries else limit, oldest_first=oldest_first)
    if json_output:
        for entry in entries:
            print_json_line(entry.to_dict())
        return
    from rich.table import Table

    table = Table()
    # seq, time (to the second here; --json has microseconds) and action keep their width on a
    # narrow terminal; actor, subject and payload give way.
    table.add_column("seq", no_wrap=True, min_width=max((len(str(e.seq)) for e in entries), default=3))
    table.add_column("time", no_wrap=True, min_width=20)
    table.add_column("actor", no_wrap=True)
    table.add_column("action", no_wrap=True, min_width=max((len(e.action) for e in entries), default=6))
    table.add_column("subject", no_wrap=True)
    table.add_column("payload", overflow="fold", min_width=8)
    for entry in entries:
        payload = entry.payload if len(entry.payload) <= 80 else entry.payload[:79] + "…"
        when = entry.ts[:19] + "Z" if len(entry.ts) > 20 else entry.ts
        table.add_row(str(entry.seq), when, entry.actor, entry.action, entry.subject, payload)
    stdout().print(table)


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Export the whole ledger and its checkpoints as JSON lines, verifiable offline with --file."""
    import sys

    from charter.services import audit

    with open_context(ctx) as context:
        if output is None:
            audit.export(context, sys.stdout)
            return
        with output.open("w", encoding="utf-8") as handle, progress("Exporting", audit.ledger_size(context)) as tick:
            count = audit.export(context, handle, progress=tick)
    stdout().print(f"Exported {_count(count, 'entry', 'entries')} to {output}")
