"""Who may call each route of the REST API: one table, read by the routes and by the authorisation matrix test.

A route is named by its method and its path under ``/api/v1`` (``"POST /models"``) and declares its
callers with ``who: Annotated[Caller, roles("POST /models")]``. The table states what the route
admits; several services check again with their own rules (policy changes and certification need
their role; an approval must come from a role the change request names, never from its requester),
so a caller the route admits may still be refused by the service for that particular object.

``docs/api.md`` shows the same table; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from charter.server.security import ROLES, allow

#: Reading anything: any principal with any role.
READ = ROLES
#: Registry writes: models, versions, datasets, lineage, evaluations, documents.
REGISTRY = ("developer", "admin")
#: Adding, changing and removing policies (the service checks too).
POLICY = ("risk-officer", "admin")
#: Certifying datasets and revoking certifications (the service checks too).
CERTIFY = ("risk-officer",)
#: Deciding on change requests (the service checks the request's own requirement and separation of duties).
DECIDE = ("approver", "risk-officer")
#: Reviewing a break-glass change afterwards (the service checks too).
REVIEW = ("risk-officer",)
#: Operating the governance loop: gates, promotions, remediation requests, monitor runs, incident handling.
OPERATE = ("developer", "approver", "risk-officer", "admin")
#: Managing API tokens.
ADMIN = ("admin",)

#: Routes that need no token.
PUBLIC = frozenset({"GET /health"})

#: ``"METHOD /path"`` (under /api/v1) -> the roles the route admits.
ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "GET /whoami": READ,
    # models, versions, aliases, documents
    "GET /models": READ,
    "POST /models": REGISTRY,
    "GET /models/{name}": READ,
    "GET /models/{name}/versions": READ,
    "POST /models/{name}/versions": REGISTRY,
    "GET /models/{name}/versions/{version}": READ,
    "GET /models/{name}/versions/{version}/card": READ,
    "POST /models/{name}/versions/{version}/status": REGISTRY,
    "GET /models/{name}/aliases/{alias}": READ,
    "GET /models/{name}/aliases/{alias}/history": READ,
    "GET /models/{name}/documents": READ,
    "POST /models/{name}/documents": REGISTRY,
    # datasets
    "GET /datasets": READ,
    "POST /datasets": REGISTRY,
    "GET /datasets/{name}": READ,
    "GET /datasets/{name}/versions": READ,
    "POST /datasets/{name}/versions": REGISTRY,
    "GET /datasets/{name}/versions/{version}": READ,
    "PATCH /datasets/{name}/versions/{version}/columns/{column}": REGISTRY,
    "POST /datasets/{name}/versions/{version}/certifications": CERTIFY,
    "POST /datasets/{name}/versions/{version}/certifications:propose": OPERATE,
    "POST /certifications/{certification_id}/revoke": CERTIFY,
    # lineage
    "GET /lineage/{ref}/upstream": READ,
    "GET /lineage/{ref}/impact": READ,
    "POST /lineage/edges": REGISTRY,
    # policies
    "GET /policies": READ,
    "POST /policies": POLICY,
    "POST /policies:propose": OPERATE,
    "GET /policies/{name}": READ,
    "DELETE /policies/{name}": POLICY,
    # evaluations
    "GET /evaluations": READ,
    "POST /evaluations": REGISTRY,
    "GET /evaluations/{evaluation_id}": READ,
    # gates and promotions
    "GET /gates": READ,
    "POST /gates": OPERATE,
    "POST /promotions": OPERATE,
    # change requests and approvals
    "GET /change-requests": READ,
    "GET /change-requests/{request_id}": READ,
    "POST /change-requests/{request_id}/approve": DECIDE,
    "POST /change-requests/{request_id}/reject": DECIDE,
    "POST /change-requests/{request_id}/revoke": OPERATE,
    "POST /change-requests/{request_id}/review": REVIEW,
    # monitors
    "GET /monitors": READ,
    "GET /monitors/{name}": READ,
    "POST /monitors/{name}/runs": OPERATE,
    "GET /monitors/{name}/series": READ,
    # incidents and remediation
    "GET /incidents": READ,
    "GET /incidents/{ref}": READ,
    "GET /incidents/{ref}/postmortem": READ,
    "POST /incidents/{ref}/ack": OPERATE,
    "POST /incidents/{ref}/mitigate": OPERATE,
    "POST /incidents/{ref}/resolve": OPERATE,
    "POST /incidents/{ref}/assign": OPERATE,
    "POST /incidents/{ref}/rollback": OPERATE,
    "POST /incidents/{ref}/retrain": OPERATE,
    "POST /incidents/{ref}/suppress": OPERATE,
    # inbound alerts: Alertmanager's webhook receiver posts with a service token
    "POST /alerts/alertmanager": OPERATE,
    # ledger
    "GET /ledger": READ,
    "POST /ledger/verify": READ,
    # decision lake
    "GET /lake": READ,
    "GET /lake/{model}/decisions": READ,
    "POST /lake/{model}/verify": READ,
    # decision ingest (server/api/decisions/): the SDK's HTTP sink logs with a service token
    "POST /decisions:batch": REGISTRY,
    "POST /outcomes:batch": REGISTRY,
    "GET /decisions:resolve": READ,
    # explanations of logged decisions (computed with the verified artifact)
    "GET /decisions/{decision_id}/explanation": READ,
    # tokens
    "GET /tokens": ADMIN,
    "POST /tokens": ADMIN,
    "POST /tokens/{token_id}/revoke": ADMIN,
}


def roles(route: str) -> Any:
    """The dependency admitting the callers :data:`ROUTE_ROLES` names for ``route`` (a KeyError if unlisted)."""
    return Depends(allow(*ROUTE_ROLES[route]))
