"""schemathesis against the OpenAPI document a running server serves: no 5xx, every response matches its schema.

The server is uvicorn on 127.0.0.1 (a free port) serving a fresh home, on SQLite and PostgreSQL;
schemathesis reads ``/api/openapi.json`` from it and sends real HTTP requests. Every request
carries the admin token — which the role table admits on the token
routes and the registry, and refuses (403, documented) where another role is needed. Inputs are
valid (on both backends: what passes validation reaches the database) and invalid (schemathesis'
negative mode, on SQLite: it is refused before any query), NUL characters included; a few examples
per operation with a deadline each, so the run stays well under a minute (most of it is
schemathesis building its strategies).

Each operation gets its own Hypothesis test built from ``operation.as_strategy``: schemathesis'
pytest loader for fixtures (``schemathesis.pytest.from_fixture``) does not run under pytest 9
(it reads ``request.node._nodeid``, which pytest 9 removed).

The stateful phase chains calls along the links schemathesis infers from the document (what a
``POST`` returns feeds the ``GET``/``POST`` on that resource), with its stateful checks: a
resource just made can be read, and one just removed is gone. It runs through schemathesis' CLI
with a fixed seed: its Python state machine, run against a server whose store persists from one
example to the next, trips Hypothesis' check that data generation does not depend on outside state.

No route is left out: none reaches outside the process (no notifier is configured, and
retraining runs a command only once a change request for it is approved, which random input
does not produce).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

from charter.server import create_app
from tests.browser.conftest import LiveServer
from tests.server.conftest import auth

EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 2}


def test_the_api_answers_valid_requests_without_a_server_error(server: dict[str, Any]) -> None:
    _check_every_operation(server, GenerationMode.POSITIVE)


# Invalid input is refused before any query runs: once, on SQLite, is enough.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_api_refuses_invalid_requests_without_a_server_error(server: dict[str, Any]) -> None:
    _check_every_operation(server, GenerationMode.NEGATIVE)


def _check_every_operation(server: dict[str, Any], mode: GenerationMode) -> None:
    with LiveServer(create_app(server["settings"], clock=server["clock"])) as live:
        _check_live_server(live.url, server["tokens"]["admin"], mode)


def _check_live_server(url: str, token: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    headers = auth(token)
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
            case.call_and_validate(
                base_url=url, headers=headers, timeout=30, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid: the operation takes no parameters and no body
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_chained_calls_keep_the_api_consistent(server: dict[str, Any], tmp_path: Path) -> None:
    """The stateful phase, by schemathesis' own runner (its CLI) with a fixed seed, on a running server."""
    checks = ("not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,"
              "ensure_resource_availability,use_after_free")  # fmt: skip
    with LiveServer(create_app(server["settings"], clock=server["clock"])) as live:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", f"{live.url}/api/openapi.json",
             "--phases", "stateful", "--checks", checks, "-H", f"Authorization: Bearer {server['tokens']['admin']}",
             "--max-examples", "15", "--seed", "1", "--workers", "1", "--no-color"],
            capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,  # its cache: not in the repo
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    scenarios = re.search(r"Scenarios:\s+(\d+)", done.stdout)
    assert scenarios is not None and int(scenarios.group(1)) > 5, done.stdout[-3000:]
    assert "No issues found" in done.stdout
