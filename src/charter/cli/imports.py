"""``charter import``: bring inventory in from other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

app = typer.Typer(
    no_args_is_help=True, help="Import models, versions, datasets and lineage from other tools (MLflow, DVC)."
)


@app.command()
def mlflow(
    ctx: typer.Context,
    tracking_uri: Annotated[str, typer.Option(help="The MLflow tracking URI (http://..., sqlite:///..., ...).")],
    registry_uri: Annotated[str | None, typer.Option(help="The model registry URI, if not the tracking URI.")] = None,
    model: Annotated[list[str] | None, typer.Option(help="Only this registered model (repeat).")] = None,
    task: Annotated[str | None, typer.Option(help="Task for new models without a 'charter.task' tag.")] = None,
    risk_tier: Annotated[
        str | None, typer.Option(help="Risk tier for new models without a 'charter.risk_tier' tag.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Import registered models, versions (artifacts fetched and hashed), aliases and run data from MLflow.

    Safe to run again: versions already imported (same artifact digest) and aliases already
    in place are left as they are.
    """
    from charter.services.imports import import_mlflow

    out = stdout()
    with open_context(ctx) as context:
        report = import_mlflow(
            context, tracking_uri, registry_uri=registry_uri, names=tuple(model or ()), task=task,
            risk_tier=risk_tier, progress=None if json_output else (lambda what: out.print(f"  fetching {what}")),
        )  # fmt: skip
    if json_output:
        print_json(report.to_dict())
        return
    out.print(
        f"Imported from MLflow: {len(report.models_created)} new model(s), {len(report.versions_created)} new "
        f"version(s), {len(report.versions_unchanged)} already here, {len(report.aliases_moved)} alias move(s)"
    )
    for line in (*report.versions_created, *report.aliases_moved, *report.dataset_versions_created):
        out.print(f"  {line}")
    if report.edges_added:
        out.print(
            f"Dataset inputs: {len(report.datasets_created)} new dataset(s), {len(report.edges_added)} lineage edge(s)"
        )
    for line in report.edges_added:
        out.print(f"  {line}")
    for line in report.inputs_skipped:
        out.print(f"  skipped {line}", markup=False)
    for line in report.evaluations_recorded:
        out.print(f"  evaluation of {line} (run metrics)", markup=False)


@app.command()
def dvc(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The DVC repository (the folder with .dvc/).", file_okay=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Import the CSV/Parquet outputs a DVC repository tracks as dataset versions, and its stages as lineage.

    Each output becomes a dataset named after its path (data/raw.csv -> data-raw). Stages in
    dvc.lock become lineage edges with the stage's name, command and parameters. Safe to run
    again; outputs not in the workspace or not tabular are listed as skipped.
    """
    from charter.services.imports import import_dvc

    with open_context(ctx) as context:
        report = import_dvc(context, path)
    if json_output:
        print_json(report.to_dict())
        return
    out = stdout()
    out.print(
        f"Imported from DVC: {len(report.datasets_created)} new dataset(s), {len(report.versions_created)} new "
        f"version(s), {len(report.versions_unchanged)} already here, {len(report.edges_added)} lineage edge(s)"
    )
    for line in (*report.versions_created, *report.edges_added):
        out.print(f"  {line}")
    for line in report.skipped:
        out.print(f"  skipped {line}", markup=False)
