"""A retraining command may write to Charter itself: it runs outside the unit of work that records it.

Run inside that unit of work, a command that registers its new version (what a training
pipeline does) waited for the write lock the unit of work held (SQLite's ``BEGIN IMMEDIATE``,
PostgreSQL's lock on the ledger head) until the store timed out, and failed.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from charter.clock import FixedClock
from charter.config import Settings
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import access, approvals, incidents, remediation
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.registry import ModelSpec, register_model, register_version


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


def test_a_retraining_command_that_writes_to_the_store_runs(settings: Settings, tmp_path: Path) -> None:
    clock = FixedClock()
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        access.grant(context, "local:ann", "approver")
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "m1").write_bytes(b"weights")
        register_version(context, "credit-risk", digest_path(tmp_path / "m1"))
        # The command writes a ledger entry (a signed checkpoint) in the same store, as a pipeline registering
        # its new version would.
        command = [sys.executable, "-m", "charter", "--home", str(settings.home), "--database-url",
                   settings.database_url, "audit", "checkpoint"]  # fmt: skip
        watched = monitor_from_spec("credit-risk-drift", {
            "model": "credit-risk", "target": "@1", "kind": "data_drift", "window": {"every": "1h"}, "critical": 0.5,
            "options": {"retrain_command": command},
        })  # fmt: skip
        define_monitor(context, watched)
        found = incidents.alert(context, watched, status="critical", value=0.6, window_end="w", run_id="r")
        asked = remediation.retrain(context, found.ref, justification="new data")
        approvals.approve(as_actor(context, "local:ann"), asked.request.id, justification="ok")

        done = remediation.retrain(context, found.ref, justification="")

        assert done.status == "executed" and done.result["exit_code"] == 0, done.result
        assert len(list_entries(context.engine, EntryFilter(action="audit.checkpoint"))) == 1
        assert approvals.get_request(context, asked.request.id).state == "executed"
