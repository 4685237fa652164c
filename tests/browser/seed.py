"""A seeded home for the dashboard's tests: what a team has after a day of governance.

- tokens (and roles) for ``svc:viewer``, ``svc:developer``, ``svc:approver``, ``svc:risk-officer``, ``svc:admin``;
- datasets ``applications`` (five features, certified for training) and ``customers`` (an email column);
- model ``credit-risk`` (high risk, a description with HTML in it) with versions 1 and 2 trained on
  ``applications@1``; a policy that wants an approver's sign-off for ``prod``; version 1 in ``prod``;
- two hours of decisions on ``credit-risk:prod``, drifted in the second hour, and a drift monitor run
  on both windows: the second opened ``INC-1``;
- a pending change request by ``svc:developer`` to promote version 2 to ``prod``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.services import access, approvals, datasets, policies
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.monitoring import run_monitor
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.promotion import promote
from charter.services.registry import ModelSpec, register_model, register_version
from charter.services.tokens import create_token

ROLES = ("viewer", "developer", "approver", "risk-officer", "admin")
FEATURES = [f"x{i}" for i in range(5)]
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DESCRIPTION = 'Scores applications. <script>alert("owned")</script> & more'
POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: prod-sign-off}
spec:
  appliesTo: {stage: [prod]}
  rules:
    - name: approver-sign-off
      expr: approvals.exists(a, a.role == 'approver' && a.decision == 'approved')
      action: require_approval
"""


@dataclass(frozen=True)
class Seeded:
    tokens: dict[str, str]  # role -> secret of svc:<role>
    request_id: str  # the pending promotion of credit-risk@2 to prod


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


def seed_home(settings: Settings, clock: FixedClock, tmp_path: Path, *, decisions: bool = True) -> Seeded:
    """Build the home described above (``decisions=False`` skips the lake, the monitor and the incident)."""
    clock.set(START - timedelta(days=1))
    rng = np.random.default_rng(7)
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        tokens = {}
        for role in ROLES:
            _, tokens[role] = create_token(context, f"svc:{role}", roles=(role,), name=role)
        access.grant(context, settings.actor, "risk-officer")
        datasets.register_dataset(context, datasets.DatasetSpec(
            name="applications", owner="data@example.com", description="Loan applications <b>2025</b>",
            source_uri="s3://lake/applications", licence="internal", legal_basis="contract",
        ))  # fmt: skip
        training = pa.table({name: rng.normal(size=2000) for name in FEATURES})
        datasets.add_dataset_frame(context, "applications", training)
        datasets.certify(context, "applications@1", purpose="training", expires=clock.now() + timedelta(days=90))
        datasets.register_dataset(context, datasets.DatasetSpec(name="customers", legal_basis="consent"))
        datasets.add_dataset_frame(context, "customers", pa.table({
            "email": [f"person{i}@example.com" for i in range(50)], "age": list(range(20, 70)),
        }))  # fmt: skip
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high",
                                          owner="ml@example.com", description=DESCRIPTION))  # fmt: skip
        schema = {"features": [{"name": name, "type": "number"} for name in FEATURES]}
        for number in (1, 2):
            artifact = tmp_path / f"model-{number}.bin"
            artifact.write_bytes(f"weights {number}".encode())
            register_version(context, "credit-risk", digest_path(artifact), input_schema=schema, framework="sklearn",
                             trained_on=["applications@1"])  # fmt: skip
        (tmp_path / "prod-sign-off.yaml").write_text(POLICY)
        policies.add_policies(context, [tmp_path / "prod-sign-off.yaml"])
        developer, approver = as_actor(context, "svc:developer"), as_actor(context, "svc:approver")
        first = promote(developer, "credit-risk@1", "prod", justification="first production model")
        assert first.request is not None
        approvals.approve(approver, first.request.id, justification="validated on holdout")
        assert promote(developer, "credit-risk@1", "prod").status == "promoted"
        if decisions:
            _traffic(settings, context, clock, rng)
        second = promote(developer, "credit-risk@2", "prod", justification="retrained on fresh data")
        assert second.status == "pending_approval" and second.request is not None
        return Seeded(tokens, second.request.id)


def _traffic(settings: Settings, context: Context, clock: FixedClock, rng: np.random.Generator) -> None:
    define_monitor(context, monitor_from_spec("credit-risk-drift", {
        "model": "credit-risk", "target": "prod", "kind": "data_drift", "window": {"every": "1h"},
        "warn": 0.2, "critical": 0.5,
    }))  # fmt: skip
    with charter.connect(settings.home, database_url=settings.database_url, clock=clock) as cx:
        for minute in range(0, 120, 10):
            clock.set(START + timedelta(minutes=minute))
            rows = rng.normal(size=(100, 5))
            if minute >= 60:
                rows[:, :3] += 1.5
            cx.log_decisions("credit-risk:prod", rows, (rows[:, 0] > 0).astype(int))
        assert cx.flush(timeout=60)
    for hours in (1, 2):
        clock.set(START + timedelta(hours=hours, minutes=5))
        run_monitor(context, "credit-risk-drift")
