"""The engine over a lake the SDK wrote: a wrapped scikit-learn model, its outcomes, a shadow version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LogisticRegression

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.engines import LocalEngine, MonitorSpec, Window
from charter.metrics.drift_report import profile_report
from charter.metrics.summary import ReferenceProfile
from charter.services import lake as lake_service
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.registry import ModelSpec, register_model, register_version

FEATURES = ["age", "income", "tenure"]
SCHEMA = {"features": [{"name": name, "type": "number"} for name in FEATURES]}


@pytest.fixture
def home(settings: Settings, clock: FixedClock, tmp_path: Path) -> Path:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "model.bin").write_bytes(b"weights")
        register_version(context, "credit-risk", digest_path(tmp_path / "model.bin"), input_schema=SCHEMA)
    return settings.home


def test_monitors_over_what_the_sdk_logged(home: Path, settings: Settings) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(900, 3))
    y = (rng.random(900) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype(int)
    model = LogisticRegression().fit(x[:300], y[:300])
    with charter.connect(home, database_url=settings.database_url) as cx:
        governed = cx.wrap(model, "credit-risk@1")
        probabilities = governed.predict_proba(x[300:])[:, 1]
        ids = list(governed.last_decision_ids)
        cx.log_decisions("credit-risk@7", x[:40], model.predict(x[:40]))  # a version the registry never saw
        cx.log_outcomes("credit-risk", ids, y[300:])
        assert cx.flush(timeout=30)
    with open_context(settings) as context:
        lake = lake_service.lake_of(context)
    engine = LocalEngine(lake)
    now = dt.datetime.now(dt.UTC)
    window = Window(start=now - dt.timedelta(days=1), end=now + dt.timedelta(days=1))

    served = Window(start=window.start, end=window.end, versions=(1,))
    result = engine.compute(
        "credit-risk", MonitorSpec("performance"), served, context={"task": "binary_classification"}
    )
    predicted = model.predict(x[300:])
    assert result.value("performance.accuracy") == pytest.approx(sk.accuracy_score(y[300:], predicted))
    assert result.value("performance.roc_auc") == pytest.approx(sk.roc_auc_score(y[300:], probabilities))

    shadow = engine.compute("credit-risk", MonitorSpec("shadow"), window, context={"approved": {(1, None)}})
    assert (shadow.value("shadow.unapproved"), shadow.value("shadow.unregistered")) == (40, 40)

    reference = ReferenceProfile.fit({name: x[:300, i] for i, name in enumerate(FEATURES)})
    drift = engine.compute("credit-risk", MonitorSpec("data_drift"), served, reference=reference)
    expected = profile_report(reference, reference.summarise({n: x[300:, i] for i, n in enumerate(FEATURES)}))
    assert drift.value("drift.share_drifted") == expected.share and drift.rows == 600
    for column in expected.columns:
        assert drift.value(f"drift.score:{column.column}") == pytest.approx(column.score, rel=1e-12)
    quality = engine.compute("credit-risk", MonitorSpec("data_quality"), served, context={"input_schema": SCHEMA})
    assert quality.value("quality.missing_share") == 0.0 and quality.value("quality.schema_violations") == 0
    # the unregistered version's inputs were logged without names (f0, f1, f2): its rows miss the features
    everything = engine.compute("credit-risk", MonitorSpec("data_quality"), window, context={"input_schema": SCHEMA})
    assert everything.value("quality.missing_share") == 40 / 640
    latency = engine.compute("credit-risk", MonitorSpec("latency"), window)
    assert latency.rows == 640 and (latency.value("latency.p99_ms") or 0) > 0
