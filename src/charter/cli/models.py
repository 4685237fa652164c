"""``charter model``: register models and their versions, list, search and show them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charter.cli.output import PAGE, print_json, progress, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.registry import Model, ModelVersion

app = typer.Typer(no_args_is_help=True, help="Register models and their versions; list, search and show them.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
#: Artifacts at least this big get a progress bar while they are hashed.
PROGRESS_BYTES = 64 << 20


@app.command()
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name: lowercase, digits, '.', '_', '-' (e.g. credit-risk).")],
    task: Annotated[
        str,
        typer.Option(help="binary_classification, multiclass_classification, regression, ranking or generative."),
    ],
    risk_tier: Annotated[str, typer.Option(help="minimal, limited, high or prohibited (EU AI Act tiers).")],
    owner: Annotated[str, typer.Option(help="Who answers for the model.")] = "",
    team: Annotated[str, typer.Option(help="The team that runs it.")] = "",
    description: Annotated[str, typer.Option(help="What the model does.")] = "",
    intended_use: Annotated[str, typer.Option(help="What it may be used for.")] = "",
    limitations: Annotated[str, typer.Option(help="Known limitations and where it must not be used.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeat for several).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Add a model to the inventory (recorded on the ledger)."""
    from charter.services.registry import ModelSpec, register_model

    spec = ModelSpec(
        name=name,
        task=task,
        risk_tier=risk_tier,
        owner=owner,
        team=team,
        description=description,
        intended_use=intended_use,
        limitations=limitations,
        tags=tuple(tag or ()),
    )
    with open_context(ctx) as context:
        model = register_model(context, spec)
    if json_output:
        print_json(model.to_dict())
    else:
        stdout().print(f"Registered model {model.name} ({model.task}, risk tier {model.risk_tier})")


@app.command("add-version")
def add_version(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model's name.")],
    artifact: Annotated[str, typer.Argument(help="The artifact: a local file or folder, or a URI (s3://, ...).")],
    framework: Annotated[str, typer.Option(help="e.g. sklearn, xgboost, lightgbm, pytorch.")] = "",
    flavour: Annotated[str, typer.Option(help="How it is stored, e.g. joblib, torchscript, native.")] = "",
    input_schema: Annotated[
        Path | None, typer.Option(help="JSON file: the input features (see docs/cli.md).", exists=True, dir_okay=False)
    ] = None,
    output_schema: Annotated[
        Path | None, typer.Option(help="JSON file: the outputs.", exists=True, dir_okay=False)
    ] = None,
    git_commit: Annotated[str, typer.Option(help="The commit the model was trained from.")] = "",
    run_url: Annotated[str, typer.Option(help="The pipeline run that produced it.")] = "",
    trained_on: Annotated[
        list[str] | None, typer.Option(help="A dataset version it was trained on, e.g. transactions@2 (repeat).")
    ] = None,
    sha256: Annotated[str | None, typer.Option(help="SHA-256 of a remote artifact (required for URIs).")] = None,
    size: Annotated[int | None, typer.Option(help="Size in bytes of a remote artifact (required for URIs).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Register the next version of a model: its artifact is hashed (SHA-256) and recorded."""
    from charter.services.artifacts import digest_path, given_digest
    from charter.services.feature_schema import load_schema_file
    from charter.services.registry import register_version

    if "://" in artifact and not artifact.startswith("file://"):
        digest = given_digest(artifact, sha256, size)
    else:
        path = Path(artifact.removeprefix("file://"))
        total = path.stat().st_size if path.is_file() else None
        with progress(f"Hashing {path.name}", total if total and total >= PROGRESS_BYTES else None) as tick:
            digest = digest_path(path, progress=tick)
    with open_context(ctx) as context:
        version = register_version(
            context,
            model,
            digest,
            framework=framework,
            flavour=flavour,
            source_commit=git_commit,
            source_url=run_url,
            input_schema=load_schema_file(input_schema, "input") if input_schema else None,
            output_schema=load_schema_file(output_schema, "output") if output_schema else None,
            trained_on=tuple(trained_on or ()),
        )
    if json_output:
        print_json(version.to_dict())
    else:
        stdout().print(
            f"Registered {version.ref}: {version.artifact_uri} "
            f"(sha256 {version.artifact_sha256[:16]}…, {version.artifact_size:,} bytes)"
        )


@app.command("list")
def list_command(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option(help="Only models with this tag.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only models of this owner.")] = None,
    risk_tier: Annotated[str | None, typer.Option(help="Only models of this risk tier.")] = None,
    alias: Annotated[str | None, typer.Option(help="Only models that have this alias (e.g. prod).")] = None,
    search: Annotated[str | None, typer.Option(help="Only models whose name contains this text.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many models (a page).", min=1)] = PAGE,
    offset: Annotated[int, typer.Option(help="Skip this many first (the next page: --offset 50).", min=0)] = 0,
    all_models: Annotated[bool, typer.Option("--all", help="Every matching model (ignores --limit).")] = False,
    json_output: JsonOption = False,
) -> None:
    """List models, by name, filtered by tag, owner, risk tier, alias or name; 50 at a time by default."""
    from charter.services.registry import list_models

    with open_context(ctx) as context:
        found = list_models(
            context, tag=tag, owner=owner, risk_tier=risk_tier, alias=alias, name_contains=search,
            limit=None if all_models else limit, offset=offset,
        )  # fmt: skip
    if json_output:
        print_json([m.to_dict() for m in found])
        return
    from rich.table import Table

    table = Table("name", "task", "risk tier", "owner", "versions", "aliases", "tags")
    for m in found:
        pointers = ", ".join(f"{a}→{v}" for a, v in m.aliases.items())
        table.add_row(m.name, m.task, m.risk_tier, m.owner, str(m.versions), pointers, ", ".join(m.tags))
    stdout().print(table)
    if not all_models and len(found) == limit:
        stdout().print(f"Showing {limit} from {offset}; more with --offset {offset + limit}, or --all.")


@app.command()
def versions(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model's name.")],
    status: Annotated[str | None, typer.Option(help="Only versions with this status (registered, archived).")] = None,
    json_output: JsonOption = False,
) -> None:
    """List a model's versions, oldest first."""
    from charter.services.registry import list_versions

    with open_context(ctx) as context:
        found = list_versions(context, model, status=status)
    if json_output:
        print_json([v.to_dict() for v in found])
        return
    from rich.table import Table

    table = Table("version", "status", "aliases", "artifact sha256", "size", "framework", "created", "by")
    for v in found:
        table.add_row(
            str(v.version),
            v.status,
            ", ".join(v.aliases),
            v.artifact_sha256[:16] + "…",
            f"{v.artifact_size:,}",
            v.framework,
            v.created_at,
            v.creator,
        )
    stdout().print(table)


@app.command()
def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="credit-risk (the model), credit-risk@3 or credit-risk:prod.")],
    json_output: JsonOption = False,
) -> None:
    """Show a model, or one version of it."""
    from charter.services.references import parse_reference
    from charter.services.registry import get_model, resolve_version

    ref = parse_reference(reference)
    with open_context(ctx) as context:
        shown: Model | ModelVersion = (
            get_model(context, ref.model)
            if ref.version is None and ref.alias is None
            else resolve_version(context, ref)
        )
    if json_output:
        print_json(shown.to_dict())
        return
    _print_fields(shown.to_dict())


@app.command()
def card(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version: credit-risk@3 or credit-risk:prod.")],
    out: Annotated[Path | None, typer.Option(help="Write the Markdown to this file instead of printing it.")] = None,
) -> None:
    """Render a version's model card (Markdown) from the registry, lineage, evaluations, gates and incidents."""
    from charter.services.model_cards import render_model_card

    with open_context(ctx) as context:
        rendered = render_model_card(context, reference)
    if out is None:
        typer.echo(rendered.markdown, nl=False)
        return
    out.write_text(rendered.markdown, encoding="utf-8")
    stdout().print(f"Wrote the model card of {rendered.ref} to {out}")


def _print_fields(fields: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key, value in fields.items():
        if key == "id" or value in ("", None, [], {}):
            continue
        if isinstance(value, dict | list):
            import json

            value = json.dumps(value, sort_keys=True)
        table.add_row(key.replace("_", " "), str(value))
    stdout().print(table)


@app.command()
def archive(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version, e.g. credit-risk@2.")],
    reason: Annotated[str, typer.Option(help="Why it is retired.")],
    restore: Annotated[bool, typer.Option("--restore", help="Bring an archived version back.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Archive a version (it can no longer take an alias), or --restore it; recorded with the reason."""
    from charter.services.registry import set_status

    with open_context(ctx) as context:
        version = set_status(context, reference, "registered" if restore else "archived", reason=reason)
    if json_output:
        print_json(version.to_dict())
    else:
        stdout().print(f"{version.ref} is now {version.status}")


@app.command("verify-artifact")
def verify_artifact(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version, e.g. credit-risk:prod.")],
    json_output: JsonOption = False,
) -> None:
    """Hash a version's artifact again and compare it with the registry (exit 1 if it changed)."""
    from charter.services.registry import check_artifact

    with open_context(ctx) as context:
        check = check_artifact(context, reference)
    if json_output:
        print_json({**check.__dict__, "intact": check.intact})
    else:
        stdout().print(f"{check.ref}: artifact intact (sha256 {check.actual_sha256[:16]}…)")


@app.command()
def attach(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The model (credit-risk) or one version (credit-risk@3).")],
    file: Annotated[Path, typer.Argument(help="The document file; Charter keeps its location and SHA-256.")],
    kind: Annotated[
        str,
        typer.Option(
            help="model_card, risk_assessment, technical_documentation, data_protection_impact_assessment, "
            "human_oversight_plan or other."
        ),
    ],
    title: Annotated[str, typer.Option(help="A title (default: the file name).")] = "",
    json_output: JsonOption = False,
) -> None:
    """Attach a document (model card, risk assessment, ...) to a model or a version, as evidence for gates."""
    from charter.services.documents import attach as attach_document

    with open_context(ctx) as context:
        found = attach_document(context, reference, kind, file, title=title)
    if json_output:
        print_json(found.to_dict())
        return
    where = found.model if found.version is None else f"{found.model}@{found.version}"
    stdout().print(f"Attached {found.kind} '{found.title}' to {where} (sha256 {found.sha256[:16]}…)", markup=False)


@app.command()
def documents(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The model, or a version (with the model-wide documents).")],
    json_output: JsonOption = False,
) -> None:
    """List the documents attached to a model or a version, newest first."""
    from rich.table import Table

    from charter.services.documents import documents_for

    with open_context(ctx) as context:
        found = documents_for(context, reference)
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    table = Table("kind", "title", "applies to", "sha256", "uri", "attached by")
    for d in found:
        table.add_row(d.kind, d.title, "model" if d.version is None else f"version {d.version}", d.sha256[:12],
                      d.uri, d.created_by)  # fmt: skip
    stdout().print(table)
