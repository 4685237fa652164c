"""The monitoring loop end to end (issue 7): drift injected halfway through a stream of decisions is caught
in the window after the change and not before; the incident escalates to a real webhook receiver; an
approver approves the rollback; the alias moves back; the postmortem lists it all; the audit verifies."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.services import access, approvals, audit, incidents, policies, remediation
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.escalation import define_policy, define_target, escalate_due
from charter.services.home import init_home
from charter.services.lake import verify_lake
from charter.services.monitoring import run_monitor
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.postmortems import write_postmortem
from charter.services.promotion import promote
from charter.services.registry import ModelSpec, get_model, register_model, register_version
from tests.services.test_incidents import ALWAYS, Receiver

FEATURES = [f"x{i}" for i in range(5)]
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


def test_drift_incident_rollback_postmortem(settings: Settings, tmp_path: Path, receiver: Receiver) -> None:
    clock = FixedClock(START - timedelta(days=1))
    rng = np.random.default_rng(42)
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        access.grant(context, "user:tester", "risk-officer")
        access.grant(context, "local:ann", "approver")
        training = pd.DataFrame(rng.normal(size=(5000, 5)), columns=FEATURES)
        with charter.connect(settings.home, database_url=settings.database_url) as setup:
            setup.register_dataset("applications", training, legal_basis="contract")
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        schema = {"features": [{"name": name, "type": "number"} for name in FEATURES]}
        for number in (1, 2):
            (tmp_path / f"m{number}").write_bytes(f"weights {number}".encode())
            register_version(context, "credit-risk", digest_path(tmp_path / f"m{number}"), input_schema=schema,
                             trained_on=["applications@1"])  # fmt: skip
        (tmp_path / "open-gate.yaml").write_text(ALWAYS)
        policies.add_policies(context, [tmp_path / "open-gate.yaml"])
        for number in (1, 2):
            assert promote(context, f"credit-risk@{number}", "prod").status == "promoted"
        define_target(context, "ops", {"kind": "webhook", "url": receiver.url("/ops")})
        define_target(context, "lead", {"kind": "webhook", "url": receiver.url("/lead")})
        define_policy(context, "on-call", [{"targets": ["ops"]}, {"targets": ["lead"], "after": "15m"}])
        define_monitor(context, monitor_from_spec("credit-risk-drift", {
            "model": "credit-risk", "target": "prod", "kind": "data_drift", "window": {"every": "1h"},
            "warn": 0.2, "critical": 0.5, "escalation": "on-call",
        }))  # fmt: skip

        # Two hours of traffic on prod: like the training data, then three of five features shifted.
        clock.now = lambda: current[0]  # type: ignore[method-assign]
        current = [START]
        with charter.connect(settings.home, database_url=settings.database_url, clock=clock) as cx:
            for minute in range(0, 120, 5):
                current[0] = START + timedelta(minutes=minute)
                rows = rng.normal(size=(200, 5))
                if minute >= 60:
                    rows[:, :3] += 1.5
                cx.log_decisions("credit-risk:prod", rows, (rows[:, 0] > 0).astype(int))
            assert cx.flush(timeout=60)
        assert verify_lake(context, "credit-risk").ok

        # The training data came from memory (no file): input anomalies are scored with the model stored
        # with its profile, over all its columns or the ones a monitor names.
        for name, features in (("credit-risk-anomaly", []), ("credit-risk-anomaly-x0", ["x0", "x1"])):
            define_monitor(context, monitor_from_spec(name, {
                "model": "credit-risk", "target": "prod", "kind": "input_anomaly", "window": {"every": "1h"},
                "features": features, "warn": 0.5,
            }))  # fmt: skip
        current[0] = START + timedelta(hours=1, minutes=5)
        calm = [run_monitor(context, n) for n in ("credit-risk-anomaly", "credit-risk-anomaly-x0")]
        current[0] = START + timedelta(hours=2, minutes=5)
        shifted = [run_monitor(context, n) for n in ("credit-risk-anomaly", "credit-risk-anomaly-x0")]
        for before, after in zip(calm, shifted, strict=True):
            assert before.status == "ok" and before.rows == after.rows == 2400, before
            assert before.value is not None and after.value is not None and after.value > before.value + 0.05

        current[0] = START + timedelta(hours=1, minutes=5)
        before = run_monitor(context, "credit-risk-drift")
        assert (before.status, before.rows, before.incident) == ("ok", 2400, None)
        current[0] = START + timedelta(hours=2, minutes=5)
        after = run_monitor(context, "credit-risk-drift")
        assert after.status == "critical" and after.value == pytest.approx(0.6) and after.incident == "INC-1"
        assert receiver.events("/ops") == ["incident.triggered"]

        current[0] += timedelta(minutes=16)
        assert [i.ref for i in escalate_due(context)] == ["INC-1"]
        assert receiver.events("/lead") == ["incident.escalated"]

        asked = remediation.rollback(context, "INC-1", justification="drift since 11:00 on v2")
        assert asked.status == "pending_approval"
        approvals.approve(as_actor(context, "local:ann"), asked.request.id, justification="v1 was fine yesterday")
        done = remediation.rollback(context, "INC-1", justification="")
        assert done.status == "executed" and get_model(context, "credit-risk").aliases == {"prod": 1}
        assert incidents.get_incident(context, "INC-1").status == "mitigated"

        written = write_postmortem(context, "INC-1", tmp_path / "pm", root_cause="upstream unit change in x0-x2",
                                   actions=[("alert on feed schema changes", "local:ann", None)])  # fmt: skip
        markdown = Path(written.files["markdown"]).read_text()
        for step in ("incident.triggered", "incident.escalated", "change.approved", "change.executed",
                     "incident.mitigated", "upstream unit change in x0-x2", "local:ann"):  # fmt: skip
            assert step in markdown, step
        assert Path(written.files["chart:drift.share_drifted"]).read_text().startswith("<svg") or "<svg" in Path(
            written.files["chart:drift.share_drifted"]).read_text()  # fmt: skip
        assert "<script" not in Path(written.files["html"]).read_text()
        assert audit.verify_ledger(context).ok
        assert verify_lake(context, "credit-risk").ok
