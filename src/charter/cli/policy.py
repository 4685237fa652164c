"""``charter policy``: lint policy files, run their test cases, list the built-in packs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import awaiting_approval, print_json, stdout

if TYPE_CHECKING:
    from charter.services.policies import PolicyChange

app = typer.Typer(
    no_args_is_help=True,
    help="Policies as code: lint and test them, list the built-in packs, store the ones gates weigh.",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("lint")
def lint_command(
    paths: Annotated[list[Path], typer.Argument(help="Policy files, or folders to search for *.yaml policies.")],
    json_output: JsonOption = False,
) -> None:
    """Check policy files: fields, types, CEL and Rego syntax, and context fields that do not exist.

    Every problem is printed as FILE:LINE: MESSAGE. Exits 1 when there is any. Files named
    cases.yaml are policy tests, not policies, and are skipped in folders.
    """
    from charter.policy.lint import lint_paths, policy_files

    problems = lint_paths(paths)
    files, _ = policy_files(paths)
    if json_output:
        print_json({"ok": not problems, "files": len(files), "problems": [p.to_dict() for p in problems]})
    else:
        out = stdout()
        for problem in problems:
            out.print(str(problem), markup=False)
        noun = "file" if len(files) == 1 else "files"
        verdict = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "no problems"
        out.print(f"{len(files)} policy {noun} checked: {verdict}", markup=False)
    if problems:
        raise typer.Exit(1)


@app.command("test")
def run_cases_command(
    folders: Annotated[
        list[Path], typer.Argument(help="Policy folders (<id>/<id>.yaml + cases.yaml), or folders holding them.")
    ],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List passing cases too.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Run each policy's cases.yaml and compare verdicts and decisions with what the cases expect.

    Exits 1 when any case fails; a failing case is printed with the file and line where it is
    written, and what differed.
    """
    from charter.policy.testing import run_policy_tests

    report = run_policy_tests(*folders)
    if json_output:
        print_json(report.to_dict())
    else:
        out = stdout()
        for result in report.results:
            where = f"{result.file}:{result.line}"
            name = f"{result.policy} / {result.case}" if result.case else result.policy
            if result.passed:
                if verbose:
                    out.print(f"PASS {where}: {name}", markup=False)
                continue
            out.print(f"FAIL {where}: {name}", markup=False)
            for failure in result.failures:
                out.print(f"  {failure}", markup=False)
        policies = len({r.policy for r in report.results})
        out.print(
            f"Policy cases: {report.passed} passed, {report.failed} failed "
            f"({policies} polic{'y' if policies == 1 else 'ies'})",
            markup=False,
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("packs")
def packs_command(json_output: JsonOption = False) -> None:
    """List the policy packs shipped with Charter, with their rules and what each rule cites."""
    from charter.policy.packs import list_packs

    packs = list_packs()
    if json_output:
        print_json([pack.to_dict() for pack in packs])
        return
    from rich.table import Table

    out = stdout()
    for pack in packs:
        applies = pack.policy.applies_to.to_dict()
        scope = ", ".join(f"{k}={'|'.join(v)}" for k, v in applies.items() if v) or "every model"
        out.print(f"{pack.name}: {pack.policy.description} (applies to: {scope})", markup=False)
        table = Table("rule", "action", "severity", "references")
        for rule in pack.policy.rules:
            action = f"{rule.action} (advisory)" if rule.advisory else rule.action
            table.add_row(rule.name, action, rule.severity, "; ".join(rule.references))
        out.print(table)


# ---- policies in the store (the ones every gate weighs) ------------------------------------------


@app.command("add")
def add_command(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Policy files, or folders of *.yaml policies.")] = None,
    pack: Annotated[list[str] | None, typer.Option("--pack", help="A built-in pack to add (repeat).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Store policies for every gate to weigh: a new version when a policy's text changed (risk-officer or admin).

    Everything given is checked first; one bad file and nothing is stored.
    """
    from charter.cli.state import open_context
    from charter.services.policies import add_policies

    with open_context(ctx) as context:
        changes = add_policies(context, tuple(paths or ()), tuple(pack or ()))
    if json_output:
        print_json([c.to_dict() for c in changes])
        return
    _print_changes(changes)


def _print_changes(changes: Sequence[PolicyChange]) -> None:
    out = stdout()
    for change in changes:
        verb = {"create": "added", "update": "updated", "unchanged": "unchanged"}[change.action]
        out.print(f"{change.name}@{change.version} {verb} ({change.origin})", markup=False)


@app.command("propose")
def propose_command(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Policy files, or folders of *.yaml policies.")] = None,
    pack: Annotated[list[str] | None, typer.Option("--pack", help="A built-in pack to add (repeat).")] = None,
    justification: Annotated[
        str, typer.Option("--justification", "-j", help="Why this change (needed to open the request).")
    ] = "",
    json_output: JsonOption = False,
) -> None:
    """Ask for a policy change under approval; once a risk-officer approved it, the same command applies it.

    Anyone may ask: the request holds exactly these texts, and its approval, not your role, authorises
    the change. Exit 0 when applied, 1 while it waits for approval.
    """
    from charter.cli.state import open_context
    from charter.services.policies import propose_policies

    with open_context(ctx) as context:
        found = propose_policies(context, tuple(paths or ()), tuple(pack or ()), justification=justification)
    request = found.request
    if json_output:
        print_json(found.to_dict())
    elif found.status == "applied":
        _print_changes(found.changes)
        stdout().print(f"Change request {request.id} executed", markup=False)
    else:
        stdout().print(awaiting_approval(request.id, request.missing(), subject=request.subject), markup=False)
    raise typer.Exit(0 if found.status == "applied" else 1)


@app.command("list")
def list_command(
    ctx: typer.Context,
    all_versions: Annotated[bool, typer.Option("--all", help="Include replaced and removed versions.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List the stored policies (active ones unless --all)."""
    from rich.table import Table

    from charter.cli.state import open_context
    from charter.services.policies import list_policies

    with open_context(ctx) as context:
        found = list_policies(context, include_inactive=all_versions)
    if json_output:
        print_json([p.to_dict() for p in found])
        return
    table = Table("policy", "version", "active", "from", "sha256", "added by", "added at")
    for p in found:
        table.add_row(p.name, str(p.version), "yes" if p.active else "no", p.origin, p.sha256[:12], p.created_by,
                      p.created_at[:19] + "Z")  # fmt: skip
    stdout().print(table)


@app.command("show")
def show_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The policy's name.")],
    version: Annotated[int | None, typer.Option(help="An older version (default: the active one).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Print a stored policy's YAML as it was added (with --json: its record and text)."""
    from charter.cli.state import open_context
    from charter.services.policies import get_policy

    with open_context(ctx) as context:
        found = get_policy(context, name, version)
    if json_output:
        print_json(found.to_dict(with_source=True))
        return
    out = stdout()
    out.print(f"# {found.name}@{found.version} from {found.origin}, sha256 {found.sha256}", markup=False)
    out.print(found.source, end="", markup=False, highlight=False)


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The policy's name.")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on the ledger).")],
) -> None:
    """Stop a policy from applying to gates; its versions are kept for the record (risk-officer or admin)."""
    from charter.cli.state import open_context
    from charter.services.policies import remove_policy

    with open_context(ctx) as context:
        found = remove_policy(context, name, reason=reason)
    stdout().print(f"Removed {found.name} (was version {found.version})", markup=False)
