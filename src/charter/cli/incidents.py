"""``charter incidents``: list, show, acknowledge, resolve incidents, and remediate them under approval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.incidents import Incident
    from charter.services.remediation import Remediation

app = typer.Typer(no_args_is_help=True, help="Incidents: list and show them, acknowledge, resolve, remediate.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RefArg = Annotated[str, typer.Argument(help="The incident, e.g. INC-7 (or 7).")]
WhyOption = Annotated[str, typer.Option("--justification", "-j", help="Why (required; kept with the request).")]


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="triggered, acknowledged, mitigated or resolved.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model's incidents.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only incidents not resolved.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List incidents, newest first."""
    from rich.table import Table

    from charter.services.incidents import list_incidents

    with open_context(ctx) as context:
        found = list_incidents(context, status=status, model=model, open_only=open_only)
    if json_output:
        print_json([i.to_dict() for i in found])
        return
    table = Table("incident", "severity", "status", "model", "title", "alerts", "opened", "assignee")
    for i in found:
        table.add_row(i.ref, i.severity, i.status, i.model, i.title, str(i.alerts), i.opened_at[:19] + "Z",
                      i.assignee or "")  # fmt: skip
    stdout().print(table)


@app.command()
def show(ctx: typer.Context, reference: RefArg, json_output: JsonOption = False) -> None:
    """Show an incident: details, runbook and its timeline from the ledger."""
    from charter.services.incidents import get_incident, timeline

    with open_context(ctx) as context:
        found = get_incident(context, reference)
        steps = timeline(context, reference)
    if json_output:
        print_json({**found.to_dict(), "timeline": steps})
        return
    out = stdout()
    out.print(f"{found.ref} [{found.severity}] {found.status}: {found.title}", markup=False)
    escalation = f"escalation {found.escalation_policy or '-'} (level {found.escalation_level})"
    out.print(
        f"  model {found.model}, monitor {found.monitor or '-'}, alerts {found.alerts}, {escalation}", markup=False
    )
    out.print(f"  opened {found.opened_at}" + (f", resolved {found.resolved_at}" if found.resolved_at else ""))
    out.print(f"  assignee {found.assignee or '- (`charter incidents assign`)'}", markup=False)
    out.print("  timeline:")
    for step in steps:
        out.print(f"    #{step['seq']} {step['ts'][:19]}Z {step['actor']}: {step['action']}", markup=False)
    if found.runbook:
        first = next((line for line in found.runbook.splitlines() if line.strip()), "")
        out.print(f"  runbook: {first.lstrip('# ')} (--json prints it whole)", markup=False)


@app.command("ack")
def acknowledge(
    ctx: typer.Context, reference: RefArg, note: Annotated[str, typer.Option(help="What you are doing.")] = ""
) -> None:
    """Acknowledge an incident: you have it; escalation stops."""
    from charter.services.incidents import acknowledge as ack

    with open_context(ctx) as context:
        found = ack(context, reference, note=note)
    _state(found)


@app.command()
def resolve(ctx: typer.Context, reference: RefArg, note: Annotated[str, typer.Option(help="What fixed it.")]) -> None:
    """Resolve an incident (a note on what fixed it is required)."""
    from charter.services.incidents import resolve as close

    with open_context(ctx) as context:
        found = close(context, reference, note=note)
    _state(found)


@app.command()
def mitigate(
    ctx: typer.Context, reference: RefArg, note: Annotated[str, typer.Option(help="What contained it.")] = ""
) -> None:
    """Mark an incident mitigated: the impact is contained, the cause not yet fixed (escalation stops)."""
    from charter.services.incidents import mitigate as contain

    with open_context(ctx) as context:
        found = contain(context, reference, note=note)
    _state(found)


@app.command()
def assign(
    ctx: typer.Context, reference: RefArg, principal: Annotated[str, typer.Argument(help="Who owns it now.")]
) -> None:
    """Assign an incident to a principal."""
    from charter.services.incidents import assign as give

    with open_context(ctx) as context:
        found = give(context, reference, principal)
    stdout().print(f"{found.ref} assigned to {found.assignee}")


@app.command()
def rollback(ctx: typer.Context, reference: RefArg, justification: WhyOption, json_output: JsonOption = False) -> None:
    """Roll the monitor's alias back to the last version whose gate passed (a change request; rerun once approved)."""
    from charter.services.remediation import rollback as roll_back

    with open_context(ctx) as context:
        done = roll_back(context, reference, justification=justification)
    _remediation(done, json_output)


@app.command()
def retrain(ctx: typer.Context, reference: RefArg, justification: WhyOption, json_output: JsonOption = False) -> None:
    """Request retraining with the monitor's retrain command (always needs an approval; run again once approved)."""
    from charter.services.remediation import retrain as request_retrain

    with open_context(ctx) as context:
        done = request_retrain(context, reference, justification=justification)
    _remediation(done, json_output)


@app.command()
def suppress(
    ctx: typer.Context,
    reference: RefArg,
    justification: WhyOption,
    for_: Annotated[str, typer.Option("--for", help="How long, e.g. 2h (at most 7d).")] = "1h",
    json_output: JsonOption = False,
) -> None:
    """Silence an incident's escalation for a while (a change request; run again once approved)."""
    from charter.clock import parse_duration
    from charter.services.remediation import suppress as silence

    with open_context(ctx) as context:
        done = silence(context, reference, duration=parse_duration(for_, "--for"), justification=justification)
    _remediation(done, json_output)


@app.command()
def receive(
    ctx: typer.Context,
    payload: Annotated[str, typer.Argument(help="A file with Alertmanager's webhook JSON, or - for standard input.")],
    escalation: Annotated[str | None, typer.Option(help="The escalation policy for incidents it opens.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Open, join or resolve incidents from an Alertmanager webhook notification (alerts about the serving stack)."""
    import json
    import sys
    from pathlib import Path

    from charter.errors import InvalidInput
    from charter.services.incidents import from_alertmanager

    try:
        text = sys.stdin.read() if payload == "-" else Path(payload).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise InvalidInput(f"cannot read {payload}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInput(f"{payload} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{payload}: an Alertmanager webhook payload is a JSON object")
    with open_context(ctx) as context:
        found = from_alertmanager(context, data, escalation=escalation)
    if json_output:
        print_json([i.to_dict() for i in found])
        return
    for incident in found:
        stdout().print(f"{incident.ref} [{incident.severity}] {incident.status}: {incident.title}", markup=False)


def _state(found: Incident) -> None:
    stdout().print(f"{found.ref} is {found.status}")


def _remediation(done: Remediation, json_output: bool) -> None:
    if json_output:
        print_json(done.to_dict())
        return
    out = stdout()
    if done.status == "executed":
        out.print(f"{done.action} executed ({done.request.id}): {done.result}", markup=False)
    else:
        out.print(
            f"{done.action} requested: change request {done.request.id} waits for {done.request.missing()}; "
            f"once approved (`charter approvals approve {done.request.id} -j ...`), run this command again",
            markup=False,
        )


def postmortem_command(
    ctx: typer.Context,
    reference: RefArg,
    out: Annotated[str, typer.Option("--out", "-o", help="The folder to write into.")] = "postmortems",
    root_cause: Annotated[str, typer.Option(help="What caused it (Markdown).")] = "",
    factor: Annotated[list[str] | None, typer.Option(help="A contributing factor (repeat).")] = None,
    action: Annotated[
        list[str] | None, typer.Option(help="An action item: TEXT@OWNER or TEXT@OWNER@YYYY-MM-DD (repeat).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write an incident's postmortem: Markdown, HTML and SVG charts, with its ledger-backed timeline."""
    from datetime import date
    from pathlib import Path

    from charter.errors import InvalidInput
    from charter.services.postmortems import write_postmortem

    items: list[tuple[str, str, date | None]] = []
    for given in action or []:
        text, _, rest = given.partition("@")
        owner, _, due = rest.partition("@")
        try:
            items.append((text.strip(), owner.strip(), date.fromisoformat(due) if due else None))
        except ValueError:
            raise InvalidInput(f"--action {given!r}: the due date {due!r} is not YYYY-MM-DD") from None
        if not text.strip():
            raise InvalidInput(f"--action {given!r} has no text; give TEXT@OWNER")
    with open_context(ctx) as context:
        written = write_postmortem(context, reference, Path(out), root_cause=root_cause,
                                   factors=tuple(factor or ()), actions=items)  # fmt: skip
    if json_output:
        print_json(written.to_dict())
        return
    out_console = stdout()
    out_console.print(f"Postmortem of {written.incident}:")
    for kind, path in written.files.items():
        out_console.print(f"  {kind:<10} {path}", markup=False)
