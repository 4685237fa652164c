"""The web dashboard: server-rendered pages (Jinja2) over the same services as the CLI and the REST API.

``router`` is picked up by :func:`charter.server.create_app`. Pages (docs/dashboard.md):

======================================  ==========================================================
``/login``, ``/logout``                 sign in with an API token; sign out
``/login/link``, ``/login/once``        sign in with a stored one-time code (works once, on any server
                                        of the home): ``link`` asks to confirm, ``once`` (``charter demo``'s) does not
``/``                                   inventory: models, risk tier, aliases, health; datasets
``/models/{name}``                      versions, aliases, gates, lineage, monitor charts, incidents,
                                        a sample of decisions, what drives the version (SHAP)
``/models/{name}/decisions/{id}/...``   ``explanation``: one decision explained (the Explain button)
``/datasets/{name}``                    provenance, column classification, certification, quality
``/incidents``, ``/incidents/{ref}``    incidents; timeline; acknowledge, resolve, request rollback
``/approvals``                          change requests to decide (approve/reject with a justification)
``/audit``                              the ledger, paged, and a Verify button
``/policies``                           the active policies and their rules
``/static/...``                         the stylesheet, the chart script and plotly.js (no CDN)
======================================  ==========================================================
"""

from __future__ import annotations

from fastapi import APIRouter

from charter.server.web import assets, auth, explanations, ops, pages
from charter.server.web.routing import WebRoute
from charter.server.web.session import create_login_link

__all__ = ["create_login_link", "router"]

router = APIRouter(route_class=WebRoute, include_in_schema=False)
for _part in (auth, pages, explanations, ops, assets):
    router.include_router(_part.router)
