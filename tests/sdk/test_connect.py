"""charter.connect(): a wrapped scikit-learn model's decisions reach the home's lake, masked and anchored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute
import pytest
from sklearn.linear_model import LogisticRegression

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.services import lake as lake_service
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.registry import ModelSpec, register_model, register_version

FEATURES = ["age", "income", "tenure"]


@pytest.fixture
def home(settings: Settings, clock: FixedClock, tmp_path: Path) -> Path:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "model.bin").write_bytes(b"weights")
        schema = {"features": [{"name": name, "type": "number"} for name in FEATURES]}
        register_version(context, "credit-risk", digest_path(tmp_path / "model.bin"), input_schema=schema)
    return settings.home


def test_a_wrapped_model_logs_to_the_lake(home: Path, settings: Settings) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(400, 3)), rng.integers(0, 2, 400)
    model = LogisticRegression().fit(x, y)
    with charter.connect(home, database_url=settings.database_url) as cx:
        governed = cx.wrap(model, "credit-risk@1")
        probabilities = governed.predict_proba(x[:250])
        assert np.array_equal(probabilities, model.predict_proba(x[:250]))  # the model's own answer
        ids = list(governed.last_decision_ids)
        assert len(ids) == 250
        shadow = cx.log_decisions("credit-risk@7", x[:5], model.predict(x[:5]))
        cx.log_outcomes("credit-risk", ids[:10], y[:10])
        assert cx.flush(timeout=30)
        assert not any(s.failed for s in cx.stats().values())
    with open_context(settings) as context:
        lake = lake_service.lake_of(context)
        table = lake.read_table("credit-risk").sort_by("decision_id")
        assert table.num_rows == 255
        assert set(FEATURES) <= set(table.column_names)
        registered = dict(
            zip(table.column("decision_id").to_pylist(), table.column("registered").to_pylist(), strict=True)
        )
        assert all(registered[i] for i in ids) and not any(registered[i] for i in shadow)
        assert lake.read_table("credit-risk", "outcomes").num_rows == 10
        assert lake_service.verify_lake(context, "credit-risk").ok


def test_a_lake_that_cannot_be_written_loses_nothing(home: Path, settings: Settings) -> None:
    blocker = home / "lake"
    blocker.write_text("not a folder")  # every write to the lake fails until it goes
    x = np.random.default_rng(3).normal(size=(300, 3))
    with charter.connect(home, database_url=settings.database_url) as cx:
        ids = [
            i
            for start in range(0, 300, 100)
            for i in cx.log_decisions("credit-risk@1", x[start : start + 100], [1] * 100)
        ]
        assert not cx.flush(timeout=2)  # spooled, not written
        stats = cx.stats()["credit-risk@1"]
        assert stats.spooled >= 1 and stats.written == 0 and stats.last_errors
        blocker.unlink()
        assert cx.flush(timeout=60)
    with open_context(settings) as context:
        table = lake_service.lake_of(context).read_table("credit-risk")
        assert sorted(table.column("decision_id").to_pylist()) == sorted(ids)  # each once
        assert lake_service.verify_lake(context, "credit-risk").ok


@pytest.mark.parametrize("framework", ["xgboost", "lightgbm"])
def test_gradient_boosting_frameworks_are_wrapped(home: Path, settings: Settings, framework: str) -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 3)), rng.integers(0, 2, 300)
    if framework == "xgboost":
        import xgboost

        model: Any = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(x, y)
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=5, num_leaves=4, n_jobs=1, verbose=-1).fit(x, y)
    with charter.connect(home, database_url=settings.database_url) as cx:
        governed = cx.wrap(model, "credit-risk@1")
        assert np.array_equal(governed.predict(x[:40]), model.predict(x[:40]))
        assert np.array_equal(governed.predict_proba(x[:40]), model.predict_proba(x[:40]))
        assert cx.flush(timeout=30)
        assert not any(s.failed or s.errors for s in cx.stats().values()), cx.stats()
    with open_context(settings) as context:
        table = lake_service.lake_of(context).read_table("credit-risk")
        assert table.num_rows == 80 and set(FEATURES) <= set(table.column_names)
        scored = table.filter(pa.compute.is_valid(table.column("score")))
        assert scored.num_rows == 40  # predict_proba calls carry the positive-class probability


def test_a_pytorch_module_is_wrapped(home: Path, settings: Settings) -> None:
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1)).eval()
    inputs = torch.randn(25, 3)
    with charter.connect(home, database_url=settings.database_url) as cx:
        governed = cx.wrap(module, "credit-risk@1")
        with torch.no_grad():
            out = governed(inputs)
            assert torch.equal(out, module(inputs))  # the module's own tensor, unchanged
        assert len(governed.last_decision_ids) == 25
        assert cx.flush(timeout=30)
        assert not any(s.failed or s.errors for s in cx.stats().values()), cx.stats()
    with open_context(settings) as context:
        table = lake_service.lake_of(context).read_table("credit-risk").sort_by("decision_id")
    assert table.num_rows == 25 and set(FEATURES) <= set(table.column_names)
    expected = out.argmax(dim=1).tolist()
    by_id = dict(zip(table.column("decision_id").to_pylist(), table.column("prediction").to_pylist(), strict=True))
    assert [by_id[i] for i in governed.last_decision_ids] == expected


def test_a_pipeline_registers_its_data_and_logs_its_evaluation(home: Path, settings: Settings) -> None:
    import pandas as pd

    from charter.errors import InvalidInput, NotFound
    from charter.services.evaluation import list_evaluations

    frame = pd.DataFrame({"age": [30, 41, 52], "income": [1.0, 2.5, 3.0], "email": ["a@x.org", "b@y.org", "c@z.org"]})
    with charter.connect(home, database_url=settings.database_url) as cx:
        first = cx.register_dataset("training", frame, owner="ml-platform", legal_basis="contract")
        assert (first.ref, first.row_count, first.format) == ("training@1", 3, "arrow")
        assert {c.name: c.pii_category for c in first.columns}["email"] == "email"
        second = cx.register_dataset("training", pa.Table.from_pandas(frame.head(2), preserve_index=False))
        assert second.ref == "training@2"
        found = cx.log_evaluation("credit-risk@1", dataset="training@2", metrics={"roc_auc": 0.83}, rows=2)
        assert (found.source, found.ref, found.metrics) == ("sdk", "credit-risk@1", {"roc_auc": 0.83})
        with pytest.raises(InvalidInput, match=r"metric 'roc_auc' is 'high', not a finite number"):
            cx.log_evaluation("credit-risk@1", dataset="training@2", metrics={"roc_auc": "high"})  # type: ignore[dict-item]
        with pytest.raises(NotFound):
            cx.log_evaluation("fraud@1", dataset="training@2", metrics={"roc_auc": 0.5})
    with open_context(settings) as context:
        assert [e.metrics for e in list_evaluations(context, "credit-risk@1")] == [{"roc_auc": 0.83}]


def test_a_simulated_clock_stamps_the_decisions_and_their_ledger_anchors(home: Path, settings: Settings) -> None:
    """A simulation replaying a day passes its clock; the lake's anchors carry that day, not wall time."""
    from datetime import UTC, datetime

    from charter.clock import format_timestamp
    from charter.ledger.chain import EntryFilter, list_entries

    simulated = FixedClock(datetime(2031, 5, 4, 11, 0, tzinfo=UTC))
    with charter.connect(home, database_url=settings.database_url, clock=simulated) as cx:
        cx.log_decisions("credit-risk@1", np.zeros((3, 3)), np.array([0, 1, 0]))
        assert cx.flush(timeout=30)
    with open_context(settings) as context:
        anchors = list_entries(context.engine, EntryFilter(action=lake_service.COMMITTED))
        times = lake_service.lake_of(context).read_table("credit-risk").column("ts").to_pylist()
    assert [entry.ts for entry in anchors] == [format_timestamp(simulated.now())]
    assert {t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in times} == {simulated.now()}


def test_a_database_url_as_the_first_argument_selects_that_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`charter.connect("postgresql://...")` once made a folder named after the URL and spooled there."""
    from charter.config import load_settings

    monkeypatch.chdir(tmp_path)
    for name in ("CHARTER_HOME", "CHARTER_DATABASE_URL", "CHARTER_LAKE_URI"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path}/store.db"
    init_home(load_settings(env={}, home=tmp_path / ".charter", database_url=url))
    with charter.connect(url) as cx:
        assert cx.settings.database_url == url and cx.settings.home == Path(".charter").resolve()
        cx.log_decisions("credit-risk@1", np.ones((3, 2)), [1, 0, 1])
        assert cx.flush(timeout=30)
    assert not (tmp_path / "sqlite:").exists()
    with open_context(load_settings(env={}, home=tmp_path / ".charter", database_url=url)) as context:
        assert lake_service.verify_lake(context, "credit-risk").rows == 3
