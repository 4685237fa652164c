"""A monitor that declares its remediation (``retrain_command``, ``auto_rollback``) still computes its windows.

Those options are for :mod:`charter.services.remediation`; handed to the monitor's kind, they
were refused as unknown options, so every run of such a monitor ended in ``error``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.services import policies
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.monitoring import run_monitor
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.promotion import promote
from charter.services.registry import ModelSpec, register_model, register_version
from tests.services.test_incidents import ALWAYS

FEATURES = ["x0", "x1"]
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("data_drift", {}), ("fairness", {"group": "sex"})],
)
def test_remediation_options_do_not_reach_the_kind(
    settings: Settings, tmp_path: Path, kind: str, extra: dict[str, str]
) -> None:
    clock = FixedClock(START - timedelta(hours=1))
    rng = np.random.default_rng(3)
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        with charter.connect(settings.home, database_url=settings.database_url) as setup:
            setup.register_dataset("applications", pd.DataFrame(rng.normal(size=(500, 2)), columns=FEATURES))
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "m1").write_bytes(b"weights")
        schema = {"features": [{"name": name, "type": "number"} for name in FEATURES]}
        register_version(context, "credit-risk", digest_path(tmp_path / "m1"), input_schema=schema,
                         trained_on=["applications@1"])  # fmt: skip
        (tmp_path / "open-gate.yaml").write_text(ALWAYS)
        policies.add_policies(context, [tmp_path / "open-gate.yaml"])
        assert promote(context, "credit-risk@1", "prod").status == "promoted"
        define_monitor(context, monitor_from_spec("watched", {
            "model": "credit-risk", "target": "prod", "kind": kind, "window": {"every": "1h"}, "critical": 0.5,
            "direction": "above", "options": {"retrain_command": ["true"], "auto_rollback": "critical"}, **extra,
        }))  # fmt: skip
        clock.set(START + timedelta(minutes=10))
        with charter.connect(settings.home, database_url=settings.database_url, clock=clock) as cx:
            rows = rng.normal(size=(300, 2))
            cx.log_decisions("credit-risk:prod", rows, (rows[:, 0] > 0).astype(int),
                             groups={"sex": rng.choice(["f", "m"], 300)})  # fmt: skip
            assert cx.flush(timeout=60)
        clock.set(START + timedelta(hours=1, minutes=5))

        found = run_monitor(context, "watched")

        assert found.status != "error", found.notes
        assert found.rows == 300 and found.value is not None
