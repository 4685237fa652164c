"""The explanation of one logged decision, from the Explain button of a model page's decision sample.

A read: it changes nothing, so it is a GET (no CSRF token needed); it admits the roles the REST
route ``GET /decisions/{decision_id}/explanation`` admits, and renders what the same service
returns. A changed artifact is refused (the page shows the error) and the refusal is recorded.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from charter.errors import InvalidInput
from charter.integrations.explainers import METHODS
from charter.server.api.access import ROUTE_ROLES
from charter.server.web.routing import SignedIn, WebRoute, acting, render, require_role
from charter.services.explanations import explain_decision

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ROUTE = "GET /decisions/{decision_id}/explanation"


@router.get("/models/{name}/decisions/{decision_id}/explanation")
def decision_explanation(
    request: Request, name: str, decision_id: str, who: SignedIn, method: str = "shap"
) -> Response:
    require_role(who, ROUTE_ROLES[ROUTE], "explaining a decision")
    if method not in METHODS:
        raise InvalidInput(f"method {method!r} is not one of {', '.join(METHODS)}")
    found = explain_decision(acting(request, who), decision_id, model=name, method=method)
    largest = max((abs(c.contribution) for c in found.contributions), default=0.0) or 1.0
    return render(request, "explanation.html", title=f"Decision {decision_id[:8]}", found=found, model_name=name,
                  method=method, methods=METHODS, largest=largest)  # fmt: skip
