"""A server on a fresh home for each test (SQLite and PostgreSQL), with tokens for every role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from charter.clock import FixedClock
from charter.config import Settings
from charter.server import create_app
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.tokens import create_token

ROLES = ("viewer", "developer", "approver", "risk-officer", "admin")


@pytest.fixture
def server(settings: Settings, clock: FixedClock) -> Iterator[dict[str, Any]]:
    """``{"client": TestClient, "tokens": {role: secret}, "settings": ..., "clock": ...}``."""
    init_home(settings, clock=clock)
    tokens = {}
    with open_context(settings, clock=clock) as context:
        for role in ROLES:
            _, secret = create_token(context, f"svc:{role}", roles=(role,), name=role)
            tokens[role] = secret
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        yield {"client": client, "tokens": tokens, "settings": settings, "clock": clock}


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
