"""``charter explain``: why the model decided what it did, for one logged decision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.explanations import DecisionExplanation

#: Contributions printed (all of them with --json).
SHOWN = 20


def explain_command(
    ctx: typer.Context,
    decision_id: Annotated[str, typer.Argument(help="The decision id (as log() returned it, or from the lake).")],
    model: Annotated[
        str | None, typer.Option(help="The model that made it (default: every model's decisions are searched).")
    ] = None,
    method: Annotated[str, typer.Option(help="shap (exact, additive) or lime (a local surrogate).")] = "shap",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain a logged decision with the verified artifact of the version that made it.

    Prints the base value, each feature's contribution (largest first), the model's output and
    whether the contributions add up to it. A changed artifact is refused.
    """
    from charter.errors import InvalidInput
    from charter.integrations.explainers import METHODS
    from charter.services.explanations import explain_decision

    if method not in METHODS:
        raise InvalidInput(f"--method {method!r} is not one of {', '.join(METHODS)}")
    with open_context(ctx) as context:
        found = explain_decision(context, decision_id, model=model, method=method)
    if json_output:
        print_json(found.to_dict())
        return
    render(found)


def render(found: DecisionExplanation) -> None:
    from rich.table import Table

    out = stdout()
    out.print(f"Decision {found.decision_id} of {found.ref}", markup=False)
    logged = ", ".join(f"{k} {v}" for k, v in found.logged.items())
    if logged:
        out.print(f"  logged: {logged}", markup=False)
    out.print(f"  method: {found.method} ({found.algorithm}), explaining the {found.output_space.replace('_', '-')}")
    out.print(f"  background: {found.background}", markup=False)
    out.print(f"  base value      {found.base_value:.6g}")
    table = Table("feature", "value", "contribution")
    for item in found.contributions[:SHOWN]:
        table.add_row(item.feature, _cell(item.value), f"{item.contribution:+.6g}")
    out.print(table)
    hidden = len(found.contributions) - SHOWN
    if hidden > 0:
        out.print(f"  ... and {hidden} smaller contributions (--json lists all)")
    out.print(f"  model output    {found.model_output:.6g}")
    out.print(f"  base + sum      {found.explained_output:.6g}")
    if found.method == "shap":
        verdict = "holds" if found.additive else "does NOT hold"
        out.print(f"  additivity {verdict} (difference {found.additivity_error:.2g})")
    elif found.fit is not None:
        out.print(f"  surrogate fit R² {found.fit:.3f}")
    for note in found.notes:
        out.print(f"  note: {note}", markup=False)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)
