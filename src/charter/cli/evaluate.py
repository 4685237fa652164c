"""``charter evaluate`` and ``charter evaluations``: score a model version on registered data, list the results."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stderr, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.evaluation import Evaluation

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def evaluate_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The model version, e.g. credit-risk@3 or credit-risk:staging.")],
    dataset: Annotated[str, typer.Option(help="A registered dataset version with true labels, e.g. holdout@2.")],
    label: Annotated[str | None, typer.Option(help="The column with the true labels (default: guessed).")] = None,
    slice_: Annotated[
        list[str] | None, typer.Option("--slice", help="A column to compute metrics per value of (repeat).")
    ] = None,
    suite: Annotated[list[Path] | None, typer.Option(help="An edge-case suite YAML file (repeat).")] = None,
    positive: Annotated[str | None, typer.Option(help="The positive class of a binary model (default: 1).")] = None,
    command: Annotated[
        str | None, typer.Option(help="Predict by running this command instead of loading the artifact.")
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="Predict by calling this HTTP endpoint instead.")] = None,
    explain: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Compute the version's SHAP feature importance.")
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Evaluate a model version on a dataset version: integrity check, metrics, fairness, slices, suites, SHAP."""
    from charter.errors import InvalidInput
    from charter.services.evaluation import Runner, evaluate

    if command and endpoint:
        raise InvalidInput("give --command or --endpoint, not both")
    runner = Runner(command=tuple(shlex.split(command or "")), endpoint=endpoint or "") if command or endpoint else None
    err = stderr()
    with open_context(ctx) as context:
        result = evaluate(
            context, reference, dataset=dataset, label=label, slices=tuple(slice_ or ()), suites=tuple(suite or ()),
            runner=runner, positive=positive, progress=None if json_output else (lambda what: err.print(f"  {what}")),
            explain=explain,
        )  # fmt: skip
    if json_output:
        print_json(result.to_dict())
        return
    render(result)


def evaluations_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The model version, e.g. credit-risk@3.")],
    json_output: JsonOption = False,
) -> None:
    """List a model version's evaluations, newest first, with their headline metrics."""
    from rich.table import Table

    from charter.services.evaluation import list_evaluations

    with open_context(ctx) as context:
        found = list_evaluations(context, reference)
    if json_output:
        print_json([e.to_dict() for e in found])
        return
    table = Table("id", "dataset", "source", "rows", "metrics", "when", "by")
    for e in found:
        headline = ", ".join(f"{k} {v:.4g}" for k, v in list(e.metrics.items())[:4])
        table.add_row(e.id[:8], e.dataset, e.source, str(e.rows), headline, e.created_at[:19] + "Z", e.created_by)
    stdout().print(table)


def render(result: Evaluation) -> None:
    out = stdout()
    out.print(f"Evaluated {result.ref} on {result.dataset} ({result.rows} rows, label {result.label}) — id {result.id}")
    for metric, number in result.metrics.items():
        out.print(f"  {metric:<10} {number:.4f}")
    for attribute, found in result.fairness.items():
        values = ", ".join(f"{k} {v:.3f}" for k, v in found.items() if k != "groups")
        out.print(f"  fairness on {attribute}: {values}", markup=False)
    for column, by_value in result.slices.items():
        out.print(f"  slices by {column}:")
        for key, metrics in by_value.items():
            shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
            out.print(f"    {key}: {shown}", markup=False)
    for name, suite in result.suites.items():
        out.print(f"  suite {name}: {suite.get('passed')}/{suite.get('total')} cases passed")
        for case in suite.get("cases", []):
            if not case.get("passed"):
                out.print(f"    failed {case.get('name')}: {case.get('message')}", markup=False)
    explained = result.explanations
    if explained:
        drivers = ", ".join(f"{f} {explained['shares'].get(f, 0):.0%}" for f in explained["top_features"][:5])
        how = f"{explained['method']} {explained['algorithm']}, {explained['rows']} rows"
        out.print(f"  explained ({how}): {drivers}", markup=False)
        if explained.get("protected_share") is not None:
            sensitive = ", ".join(explained.get("protected_features", [])) or "none among the features"
            out.print(f"  protected share {explained['protected_share']:.1%} ({sensitive})", markup=False)
    for note in result.notes:
        out.print(f"  note: {note}", markup=False)
