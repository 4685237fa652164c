"""The authorisation matrix: every route of /api/v1 x every role, no token and a revoked token.

The routes come from the application itself (``iter_route_contexts(app.routes)``), so a route added
without an entry in :data:`charter.server.api.access.ROUTE_ROLES` fails here. For each route:
no token and a revoked token get exactly 401; a role the table does not name gets exactly 403; a
role it names gets neither (nor a 5xx) — the request may still fail for its placeholder parameters
(404, 409, 400, 422), which is the service answering, past the gate.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from charter.clock import FixedClock
from charter.config import load_settings
from charter.server import create_app
from charter.server.api.access import PUBLIC, ROUTE_ROLES
from charter.server.security import ROLES, AuthFailures
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.tokens import create_token, revoke_token
from tests.conftest import ADMIN_URL, require_postgres, schema_url
from tests.server.conftest import auth

PREFIX = "/api/v1"
ANY_ID = "00000000-0000-7000-8000-000000000000"
CALLERS = ("no token", "revoked token", *ROLES)
POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: matrix-policy}
spec:
  appliesTo: {models: [no-such-model]}
  rules:
    - {name: always, expr: "true"}
"""

#: Path parameters by name (a route whose parameter means something else overrides it below).
PARAMETERS = {
    "name": "matrix-model", "version": "1", "alias": "prod", "column": "age", "model": "matrix-model",
    "ref": "matrix-model@1", "certification_id": ANY_ID, "request_id": ANY_ID, "token_id": ANY_ID,
    "evaluation_id": ANY_ID,
}  # fmt: skip
#: Valid-shaped requests: path parameters, query and body per route.
REQUESTS: dict[str, dict[str, Any]] = {
    "POST /models": {"json": {"name": "matrix-model", "task": "regression", "risk_tier": "minimal"}},
    "POST /models/{name}/versions": {"json": {"artifact": "s3://matrix/m.bin", "sha256": "0" * 64, "size": 1}},
    "POST /models/{name}/versions/{version}/status": {"json": {"status": "archived", "reason": "matrix"}},
    "POST /models/{name}/documents": {"json": {"path": "/nonexistent/card.md", "kind": "model_card"}},
    "POST /datasets": {"json": {"name": "matrix-data"}},
    "GET /datasets/{name}": {"path": {"name": "matrix-data"}},
    "GET /datasets/{name}/versions": {"path": {"name": "matrix-data"}},
    "POST /datasets/{name}/versions": {"path": {"name": "matrix-data"}, "json": {"path": "/nonexistent/d.csv"}},
    "GET /datasets/{name}/versions/{version}": {"path": {"name": "matrix-data"}},
    "PATCH /datasets/{name}/versions/{version}/columns/{column}": {"path": {"name": "matrix-data"}, "json": {}},
    "POST /datasets/{name}/versions/{version}/certifications": {
        "path": {"name": "matrix-data"},
        "json": {"purpose": "matrix", "expires_at": "2099-01-01T00:00:00Z"},
    },
    "POST /certifications/{certification_id}/revoke": {"json": {"reason": "matrix"}},
    "GET /lineage/{ref}/impact": {"path": {"ref": "matrix-data@1"}},
    "POST /lineage/edges": {"json": {"source": "matrix-data@1", "to_model": "matrix-model@1"}},
    "POST /policies": {"content": POLICY, "headers": {"Content-Type": "application/yaml"}},
    "GET /policies/{name}": {"path": {"name": "matrix-policy"}},
    "DELETE /policies/{name}": {"path": {"name": "matrix-policy"}, "params": {"reason": "matrix"}},
    "GET /evaluations": {"params": {"ref": "matrix-model@1"}},
    "POST /evaluations": {"json": {"ref": "matrix-model@1", "dataset": "holdout", "metrics": {"rmse": 1.0}}},
    "GET /gates": {"params": {"ref": "matrix-model@1"}},
    "POST /gates": {"json": {"ref": "matrix-model@1", "stage": "prod"}},
    "POST /promotions": {"json": {"ref": "matrix-model@1", "alias": "prod", "justification": "matrix"}},
    "POST /change-requests/{request_id}/approve": {"json": {"justification": "matrix"}},
    "POST /change-requests/{request_id}/reject": {"json": {"justification": "matrix"}},
    "POST /change-requests/{request_id}/revoke": {"json": {"reason": "matrix"}},
    "POST /change-requests/{request_id}/review": {"json": {"justification": "matrix"}},
    "GET /monitors/{name}": {"path": {"name": "matrix-monitor"}},
    "POST /monitors/{name}/runs": {"path": {"name": "matrix-monitor"}, "json": {}},
    "GET /monitors/{name}/series": {"path": {"name": "matrix-monitor"}},
    "POST /incidents/{ref}/resolve": {"json": {"note": "matrix"}},
    "POST /incidents/{ref}/assign": {"json": {"principal": "user:matrix"}},
    "POST /incidents/{ref}/rollback": {"json": {"justification": "matrix"}},
    "POST /incidents/{ref}/retrain": {"json": {"justification": "matrix"}},
    "POST /incidents/{ref}/suppress": {"json": {"seconds": 60, "justification": "matrix"}},
    "POST /tokens": {"json": {"principal": "svc:matrix"}},
    "GET /decisions:resolve": {"params": {"reference": "matrix-model@1"}},
    "GET /decisions/{decision_id}/explanation": {"path": {"decision_id": ANY_ID}},
}
for _key in ("GET /incidents/{ref}", "POST /incidents/{ref}/ack", "POST /incidents/{ref}/mitigate",
             *(k for k in REQUESTS if k.startswith("POST /incidents/"))):  # fmt: skip
    REQUESTS.setdefault(_key, {}).setdefault("path", {"ref": "INC-999"})


def route_keys(app: Any) -> set[str]:
    """``METHOD /path`` of every API route the application serves under /api/v1."""
    found = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.path.startswith(PREFIX):
            found |= {f"{method} {route.path.removeprefix(PREFIX)}" for method in route.methods}
    return found


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One server per backend for the whole matrix, with a token per role and a revoked one."""
    schema = None
    url = None
    if request.param == "postgresql":
        require_postgres()
        schema = f"t_{uuid.uuid4().hex[:20]}"
        with create_engine(ADMIN_URL).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = schema_url(schema)
    home = tmp_path_factory.mktemp("matrix") / "home"
    settings = load_settings(env={}, home=home, database_url=url, actor="user:tester")
    clock = FixedClock()
    init_home(settings, clock=clock)
    tokens = {}
    with open_context(settings, clock=clock) as context:
        for role in ROLES:
            tokens[role] = create_token(context, f"svc:{role}", roles=(role,))[1]
        revoked, tokens["revoked token"] = create_token(context, "svc:revoked", roles=ROLES)
        revoke_token(context, revoked.id)
    app = create_app(settings, clock=clock)
    app.state.auth_failures = AuthFailures(limit=1_000_000)  # the revoked token fails on every route, on purpose
    try:
        with TestClient(app) as client:
            yield {"app": app, "client": client, "tokens": tokens}
    finally:
        if schema is not None:
            with create_engine(ADMIN_URL).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def send(matrix: dict[str, Any], key: str, caller: str) -> Any:
    method, path = key.split(" ", 1)
    spec = REQUESTS.get(key, {})
    values = {**PARAMETERS, **spec.get("path", {})}
    url = PREFIX + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    headers = {} if caller == "no token" else auth(matrix["tokens"][caller])
    body = {k: spec[k] for k in ("json", "content") if k in spec}
    if method in ("POST", "PATCH", "PUT") and not body:
        body = {"json": {}}
    return matrix["client"].request(
        method, url, params=spec.get("params"), headers={**headers, **spec.get("headers", {})}, **body
    )


def test_every_route_is_in_the_table_and_documents_its_errors(matrix: dict[str, Any]) -> None:
    served = route_keys(matrix["app"])
    unlisted = sorted(served - set(ROUTE_ROLES) - PUBLIC)
    assert not unlisted, f"routes missing from ROUTE_ROLES (charter/server/api/access.py): {unlisted}"
    stale = sorted((set(ROUTE_ROLES) | PUBLIC) - served)
    assert not stale, f"ROUTE_ROLES names routes the app does not serve: {stale}"
    for route in iter_route_contexts(matrix["app"].routes):
        original = route.original_route
        if not isinstance(original, APIRoute) or not route.path.startswith(PREFIX):
            continue
        assert original.response_model is not None, route.path
        assert original.summary or original.description, route.path
        assert 401 in original.responses or route.path == f"{PREFIX}/health", route.path


@pytest.mark.parametrize("key", sorted(set(ROUTE_ROLES) | PUBLIC))
def test_each_route_admits_exactly_its_roles(matrix: dict[str, Any], key: str) -> None:
    allowed = ROUTE_ROLES.get(key, ())
    wrong = []
    for caller in CALLERS:
        answer = send(matrix, key, caller)
        status = answer.status_code
        if key in PUBLIC:
            ok = status == 200
        elif caller in ("no token", "revoked token"):
            ok = status == 401 and answer.json()["code"] == "auth.unauthenticated"
        elif caller not in allowed:
            ok = status == 403 and answer.json()["message"].startswith("this route needs the role")
        else:
            ok = status not in (401, 403) and status < 500
        if not ok:
            wrong.append(f"{caller}: {status} {answer.text[:200]}")
    assert not wrong, f"{key} (admits {', '.join(allowed) or 'anyone'}):\n" + "\n".join(wrong)


def test_the_matrix_placeholders_name_real_routes() -> None:
    assert set(REQUESTS) <= set(ROUTE_ROLES), sorted(set(REQUESTS) - set(ROUTE_ROLES))


def test_docs_list_every_route_with_its_roles() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    rows = {
        f"{m.group(1)} {m.group(2)}": m.group(3).strip()
        for m in re.finditer(r"^\| (GET|POST|PATCH|PUT|DELETE) \| `/api/v1(\S+)` \| ([^|]+) \|", docs, re.M)
    }
    for key, roles in ROUTE_ROLES.items():
        shown = "any role" if roles == ROLES else ", ".join(roles)
        assert rows.get(key) == shown, f"docs/api.md: {key} should list roles {shown!r}, lists {rows.get(key)!r}"
    assert set(rows) == set(ROUTE_ROLES) | PUBLIC, sorted(set(rows) ^ (set(ROUTE_ROLES) | PUBLIC))
