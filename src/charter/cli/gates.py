"""``charter gate`` and ``charter promote``: policies decide whether a version may move to a stage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from charter.cli.output import awaiting_approval, print_json, stdout

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PolicyOption = Annotated[
    list[Path] | None,
    typer.Option("--policy", help="Also weigh this policy file or folder (repeat); overrides a stored one by name."),
]
PromotePolicyOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--policy",
        help="Also weigh this policy file or folder (repeat); one named like a stored policy "
        "must hold the stored text.",
    ),
]
PackOption = Annotated[list[str] | None, typer.Option("--pack", help="Also weigh this built-in pack (repeat).")]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="CHARTER_SERVER",
        help="Run it on this Charter server (`charter serve`) with the API token in $CHARTER_TOKEN, instead of "
        "opening the database.",
    ),
]


def gate_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The model version, e.g. credit-risk@3.")],
    stage: Annotated[str, typer.Option(help="The alias it is to move to, e.g. prod or staging.")],
    policy: PolicyOption = None,
    pack: PackOption = None,
    fmt: Annotated[str, typer.Option("--format", help="What to print: text, json, junit, sarif or markdown.")] = "text",
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report here (for CI test views).")] = None,
    sarif: Annotated[Path | None, typer.Option(help="Also write a SARIF 2.1.0 report here (code scanning).")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Also write a Markdown summary here (PR comments).")] = None,
    allow_pending: Annotated[
        bool, typer.Option("--allow-pending", help="Exit 0 when only approvals are missing.")
    ] = False,
    server: ServerOption = None,
) -> None:
    """Evaluate every applicable policy for a version and stage; exit 0 pass, 1 blocked, 2 when it cannot run.

    One run can print one format and write others to files, so CI stores one gate result.
    """
    from charter.errors import InvalidInput
    from charter.policy.reports import FORMATS, render

    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    files, packs = tuple(policy or ()), tuple(pack or ())
    if server:
        found = _on_server(ctx, server, "/gates", {"ref": reference, "stage": stage, "packs": list(packs)}, files)
    else:
        from charter.cli.state import open_context
        from charter.services.gates import run_gate

        with open_context(ctx) as context:
            found = run_gate(context, reference, stage, files=files, packs=packs).to_dict()
    summary = {k: v for k, v in found.items() if k != "context"}
    for path, kind in ((junit, "junit"), (sarif, "sarif"), (markdown, "markdown")):
        if path is None:
            continue
        try:
            path.write_text(render(summary, kind), encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write the {kind} report to {path}: {exc.strerror}") from None
    report = render(found if fmt == "json" else summary, fmt)
    stdout().print(report, end="", markup=False, highlight=False, soft_wrap=True)
    outcome = found["decision"]
    passed = outcome == "passed" or (allow_pending and outcome == "pending_approval")
    raise typer.Exit(0 if passed else 1)


def _on_server(
    ctx: typer.Context, server: str, path: str, body: dict[str, Any], files: tuple[Path, ...]
) -> dict[str, Any]:
    """``POST /api/v1{path}`` on a Charter server, with the policy files read here sent along as ``policies``."""
    from charter.cli.state import state
    from charter.client import ApiClient
    from charter.errors import InvalidInput
    from charter.policy.files import read_policy_texts

    if state(ctx).home is not None or state(ctx).database_url is not None:
        raise InvalidInput("--server runs it on the server's store; --home and --database-url do not go with it")
    client = ApiClient(server, token=os.environ.get("CHARTER_TOKEN"), option="--server")
    documents = [{"file": file, "text": text} for text, file in read_policy_texts(files)]
    # Only sent when there are some, so that a server older than the ``policies`` field still runs the rest.
    return dict(client.call("POST", path, {**body, "policies": documents} if documents else body))


def promote_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The model version to promote, e.g. credit-risk@3.")],
    to: Annotated[str, typer.Option("--to", help="The alias to move, e.g. prod.")],
    justification: Annotated[str, typer.Option("--justification", "-j", help="Why (kept with the request).")] = "",
    policy: PromotePolicyOption = None,
    pack: PackOption = None,
    break_glass: Annotated[
        bool, typer.Option("--break-glass", help="Emergency: move it whatever the gate says; a review falls due.")
    ] = False,
    json_output: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """Move an alias to a version if the gate passes; otherwise open a change request or show what blocks it."""
    from charter.policy.reports import text

    files, packs = tuple(policy or ()), tuple(pack or ())
    if server:
        body = {"ref": reference, "alias": to, "justification": justification, "packs": list(packs),
                "break_glass": break_glass}  # fmt: skip
        result = _on_server(ctx, server, "/promotions", body, files)
    else:
        from charter.cli.state import open_context
        from charter.services.promotion import promote

        with open_context(ctx) as context:
            result = promote(context, reference, to, justification=justification, files=files, packs=packs,
                             break_glass=break_glass).to_dict()  # fmt: skip
    gate, request, move = result["gate"], result["change_request"], result["move"]
    if json_output:
        print_json(result)
    else:
        out = stdout()
        out.print(text(gate), end="", markup=False, highlight=False, soft_wrap=True)
        if result["status"] == "promoted" and move is not None:
            how = " (BREAK-GLASS: a review is due)" if result["break_glass"] else ""
            out.print(f"Promoted {gate['ref']} to {move['model']}:{move['alias']}{how}", markup=False)
        elif result["status"] == "pending_approval" and request is not None:
            # The request has what it asked for, but the policy wants more (two risk-officers, say): more may approve.
            missing = request["missing"] or "the further approvals its policy asks for (NEEDS APPROVAL above)"
            out.print(awaiting_approval(request["id"], missing, again="this promote"), markup=False)
        else:
            out.print(f"Not promoted: the gate blocks {gate['ref']} for {to}", markup=False)
    raise typer.Exit(0 if result["status"] == "promoted" else 1)
