"""``charter apply`` and ``charter diff``: governance manifests, the way terraform plans and applies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.apply import Change

FilesOption = Annotated[
    list[Path], typer.Option("--file", "-f", help="A manifest file or a folder of them (repeat for several).")
]
SIGNS = {"create": "+", "change": "~", "unchanged": "="}


def _value(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "…"  # a policy's whole text: its digest says it changed


def _print_plan(changes: list[Change]) -> None:
    out = stdout()
    for change in changes:
        out.print(f"{SIGNS[change.action]} {change.kind} {change.name} ({change.action}, {change.where})", markup=False)
        if change.action == "change":
            for key, (old, new) in change.diffs.items():
                out.print(f"    {key}: {_value(old)} -> {_value(new)}", markup=False)
    counts = {action: sum(c.action == action for c in changes) for action in SIGNS}
    out.print(f"Plan: {counts['create']} to create, {counts['change']} to change, {counts['unchanged']} unchanged.")


def apply_command(
    ctx: typer.Context,
    files: FilesOption,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the plan (and result) as JSON.")] = False,
) -> None:
    """Show what the manifests would change, then apply it all in one transaction (on --yes or confirmation)."""
    from charter.errors import InvalidInput
    from charter.services import apply as service

    documents = service.load(files)
    with open_context(ctx) as context:
        planned = service.plan(context, documents)
        pending = [c for c in planned if c.action != "unchanged"]
        if not json_output:
            _print_plan(planned)
        if not pending:
            if json_output:
                print_json({"applied": False, "changes": [c.to_dict() for c in planned]})
            else:
                stdout().print("No changes.")
            return
        if not yes:
            if json_output or not sys.stdin.isatty():
                raise InvalidInput("not applying without confirmation: run again with --yes")
            if not typer.confirm("Apply these changes?", default=False):
                stdout().print("Nothing applied.")
                raise typer.Exit(1)
        done = service.apply(context, documents)
    if json_output:
        print_json({"applied": True, "changes": [c.to_dict() for c in done]})
    else:
        applied = [c for c in done if c.action != "unchanged"]
        stdout().print(f"Applied {len(applied)} change{'' if len(applied) == 1 else 's'}.")


def diff_command(
    ctx: typer.Context,
    files: FilesOption,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Report drift between the manifests and the registry; exit 1 when they differ (for CI)."""
    from charter.services import apply as service

    documents = service.load(files)
    with open_context(ctx) as context:
        planned = service.plan(context, documents)
    if json_output:
        print_json([c.to_dict() for c in planned])
    else:
        _print_plan(planned)
    if any(c.action != "unchanged" for c in planned):
        raise typer.Exit(1)
