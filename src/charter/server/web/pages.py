"""Read-only pages: the inventory, a model, a dataset, the policies."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from charter.errors import NotFound
from charter.server.web import graph, views
from charter.server.web.assets import plotly_version
from charter.server.web.routing import SignedIn, WebRoute, acting, render
from charter.services import datasets, documents, evaluation, incidents, lineage, model_cards, policies, registry

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/")
def inventory(request: Request, who: SignedIn) -> Response:
    context = acting(request, who)
    found = datasets.list_datasets(context)
    return render(request, "inventory.html", title="Inventory", models=views.inventory(context), datasets=found)


@router.get("/models/{name}")
def model_page(request: Request, name: str, who: SignedIn, version: int | None = None) -> Response:
    context = acting(request, who)
    model = registry.get_model(context, name)
    versions = registry.list_versions(context, name)
    chosen = None
    if versions:
        chosen = next((v for v in versions if v.version == version), None) if version is not None else versions[-1]
        if chosen is None:
            raise NotFound(f"{name} has no version {version} (versions: {', '.join(str(v.version) for v in versions)})")
    tree = views.lineage_tree(context, chosen.ref) if chosen is not None else None
    open_incidents = incidents.list_incidents(context, model=name, open_only=True)
    charts = views.charts(context, name)
    evaluations = evaluation.list_evaluations(context, chosen.ref) if chosen is not None else []
    return render(
        request, "model.html", title=name, model=model, versions=versions[::-1], chosen=chosen,
        lineage=None if tree is None else graph.layout(tree), gates=views.gate_history(context, versions),
        moves=views.alias_moves(context, name), incidents=open_incidents, charts=charts,
        health=views.health(context, name, len(open_incidents)), sample=views.decisions_sample(context, name),
        evaluations=evaluations[::-1][:5], documents=documents.documents_for(context, chosen.ref) if chosen else [],
        plotly_version=plotly_version(),
    )  # fmt: skip


@router.get("/models/{name}/versions/{version}/card.md")
def model_card(request: Request, name: str, version: int, who: SignedIn) -> Response:
    """The version's model card as Markdown (``charter model card`` and the API render the same)."""
    card = model_cards.render_model_card(acting(request, who), f"{name}@{version}")
    return PlainTextResponse(card.markdown, media_type="text/markdown; charset=utf-8")


@router.get("/datasets/{name}")
def dataset_page(request: Request, name: str, who: SignedIn, version: int | None = None) -> Response:
    context = acting(request, who)
    dataset = datasets.get_dataset(context, name)
    versions = datasets.list_dataset_versions(context, name)
    chosen = None
    if versions:
        chosen = next((v for v in versions if v.version == version), None) if version is not None else versions[-1]
        if chosen is None:
            raise NotFound(f"{name} has no version {version} (versions: 1-{versions[-1].version})")
    now = context.clock.now()
    return render(
        request, "dataset.html", title=name, dataset=dataset, versions=versions[::-1], chosen=chosen, now=now,
        certification=chosen.certification_state(now) if chosen else "uncertified",
        impact=lineage.impact(context, chosen.ref) if chosen else None,
        upstream=views.dataset_upstream(context, chosen.ref) if chosen else None,
    )  # fmt: skip


@router.get("/policies")
def policy_list(request: Request, who: SignedIn) -> Response:
    context = acting(request, who)
    return render(request, "policies.html", title="Policies", policies=policies.list_policies(context))
