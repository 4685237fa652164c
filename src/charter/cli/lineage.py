"""``charter lineage``: record and query where data goes and where models come from."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from rich.tree import Tree

    from charter.services.lineage import LineageNode

app = typer.Typer(no_args_is_help=True, help="Record and query lineage between datasets and models.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    from charter.errors import InvalidInput

    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise InvalidInput(f"{option} {value!r} must look like KEY=VALUE")
        pairs[key] = rest
    return pairs


@app.command()
def add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The dataset version the data comes from, e.g. transactions@2.")],
    to_dataset: Annotated[str | None, typer.Option(help="A dataset version derived from it.")] = None,
    to_model: Annotated[str | None, typer.Option(help="A model version that uses it, e.g. credit-risk@3.")] = None,
    role: Annotated[str, typer.Option(help="derived (datasets); training, validation or evaluation (models).")] = "",
    transform: Annotated[str, typer.Option(help="The transform's name, e.g. build-features.")] = "",
    code: Annotated[str, typer.Option(help="Where its code is: repository, commit and path.")] = "",
    param: Annotated[list[str] | None, typer.Option(help="A transform parameter KEY=VALUE (repeat).")] = None,
    feature: Annotated[
        list[str] | None, typer.Option(help="FEATURE=COLUMN: the target's feature comes from this column (repeat).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record that a dataset version feeds a derived dataset version or a model version."""
    from charter.services.lineage import add_edge

    with open_context(ctx) as context:
        edge = add_edge(
            context, source, to_dataset=to_dataset, to_model=to_model, role=role, transform=transform,
            code_ref=code, parameters=_pairs(param, "--param"), features=_pairs(feature, "--feature"),
        )  # fmt: skip
    if json_output:
        print_json(edge.to_dict())
    else:
        via = f" via {edge.transform}" if edge.transform else ""
        stdout().print(f"{edge.source} -> {edge.target} ({edge.role}{via})")


def _tree(node: LineageNode, tree: Tree | None = None) -> Tree:
    from rich.tree import Tree

    label = f"{node.kind} {node.ref}" + (f"  [{', '.join(node.aliases)}]" if node.aliases else "")
    branch = Tree(label) if tree is None else tree.add(label)
    for edge, source in node.inputs:
        detail = edge.role + (f" via {edge.transform}" if edge.transform else "")
        if edge.code_ref:
            detail += f" ({edge.code_ref})"
        if edge.parameters:
            detail += f" {json.dumps(edge.parameters, sort_keys=True)}"
        if edge.features:
            detail += " features " + ", ".join(f"{f}<-{c}" for f, c in sorted(edge.features.items()))
        child = branch.add(detail)
        _tree(source, child)
    return branch


@app.command()
def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="A model version (credit-risk@3, credit-risk:prod).")],
    dataset: Annotated[bool, typer.Option("--dataset", help="The reference names a dataset version.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Show everything a model version (or dataset version) was built from, as a tree."""
    from charter.services.lineage import upstream

    with open_context(ctx) as context:
        node = upstream(context, reference, kind="dataset" if dataset else "model")
    if json_output:
        print_json(node.to_dict())
    else:
        stdout().print(_tree(node), markup=False)


@app.command()
def impact(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="A dataset version, e.g. transactions@2.")],
    json_output: JsonOption = False,
) -> None:
    """Which datasets and model versions, and which of their aliases, depend on a dataset version."""
    from charter.services.lineage import impact as impact_service

    with open_context(ctx) as context:
        found = impact_service(context, reference)
    if json_output:
        print_json(found.to_dict())
        return
    out = stdout()
    datasets = f"{len(found.derived)} derived dataset version{'' if len(found.derived) == 1 else 's'}"
    models = f"{len(found.models)} model version{'' if len(found.models) == 1 else 's'}"
    out.print(f"{found.dataset} feeds {datasets} and {models}")
    for ref in found.derived:
        out.print(f"  dataset {ref}")
    for model in found.models:
        via = f" via {' -> '.join(model.via)}" if model.via else ""
        aliases = f"  aliases: {', '.join(model.aliases)}" if model.aliases else ""
        out.print(f"  model {model.ref} ({model.role}{via}){aliases}", markup=False)
    if found.aliases_in_use:
        out.print(f"In use under: {', '.join(found.aliases_in_use)}")
