"""schemathesis against the OpenAPI document the app serves: no 5xx, and every response matches its schema.

The application runs in-process (schemathesis' ASGI transport) on a fresh home, on SQLite and
PostgreSQL, and every request carries the admin token — which the role table admits on the token
routes and the registry, and refuses (403, documented) where another role is needed. Inputs are
valid (on both backends: what passes validation reaches the database) and invalid (schemathesis'
negative mode, on SQLite: it is refused before any query), NUL characters included; a few examples
per operation with a deadline each, so the run stays well under a minute (most of it is
schemathesis building its strategies).

Each operation gets its own Hypothesis test built from ``operation.as_strategy``: schemathesis'
pytest loader for fixtures (``schemathesis.pytest.from_fixture``) does not run under pytest 9
(it reads ``request.node._nodeid``, which pytest 9 removed).

No route is left out: none reaches outside the process (no notifier is configured, and
retraining runs a command only once a change request for it is approved, which random input
does not produce).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

from tests.server.conftest import auth

EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 2}


def test_the_api_answers_valid_requests_without_a_server_error(server: dict[str, Any]) -> None:
    _check_every_operation(server, GenerationMode.POSITIVE)


# Invalid input is refused before any query runs: once, on SQLite, is enough.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_api_refuses_invalid_requests_without_a_server_error(server: dict[str, Any]) -> None:
    _check_every_operation(server, GenerationMode.NEGATIVE)


def _check_every_operation(server: dict[str, Any], mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", server["client"].app)
    headers = auth(server["tokens"]["admin"])
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode], deadline=3000, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid: the operation takes no parameters and no body
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
