"""The SDK's lake sink: PII masked per the model's training data, batches written and anchored once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput
from charter.ids import new_id
from charter.lake.schema import TIMESTAMP
from charter.services import lake as lake_service
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.decisions import LakeSink, batch_id_of, model_policy
from charter.services.home import init_home
from charter.services.registry import ModelSpec, register_model, register_version


@pytest.fixture
def context(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as ctx:
        register_dataset(ctx, DatasetSpec(name="applicants", legal_basis="contract"))
        (tmp_path / "applicants.csv").write_text(
            "name,email,income,ssn\nAda,ada@example.org,10,123-45-6789\nAlan,alan@example.org,20,987-65-4321\n"
        )
        add_dataset_version(ctx, "applicants", tmp_path / "applicants.csv")
        register_model(ctx, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "model.bin").write_bytes(b"weights")
        register_version(ctx, "credit-risk", digest_path(tmp_path / "model.bin"), trained_on=["applicants@1"])
        yield ctx


def _batch(rows: int = 4) -> pa.RecordBatch:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return pa.record_batch(
        {
            "decision_id": [new_id() for _ in range(rows)],
            "ts": pa.array([start] * rows, type=TIMESTAMP),
            "model_version": pa.array([1] * rows, type=pa.int64()),
            "registered": [True] * rows,
            "email": [f"user{i}@example.org" for i in range(rows)],
            "income": [float(i) for i in range(rows)],
            "prediction": [i % 2 for i in range(rows)],
        }
    )


def test_personal_data_is_pseudonymised_before_the_lake(context: Context) -> None:
    policy = model_policy(context, "credit-risk")
    assert policy.rule("email").action == "pseudonymise" and policy.rule("income").action == "keep"
    sink = LakeSink(context.settings)
    batch = _batch()
    sink.write_decisions("credit-risk", batch)
    sink.write_decisions("credit-risk", batch)  # a replay from the spool: written once
    stored = lake_service.lake_of(context).read_table("credit-risk")
    assert stored.num_rows == 4
    emails = stored.column("email").to_pylist()
    assert all(e.startswith("p1:") for e in emails) and not any("example.org" in e for e in emails)
    assert stored.column("income").to_pylist() == [0.0, 1.0, 2.0, 3.0]
    outcomes = pa.record_batch(
        {"decision_id": batch.column("decision_id"), "ts": batch.column("ts"), "label": [1, 0, 1, 1]}
    )
    sink.write_outcomes("credit-risk", outcomes)
    sink.write_outcomes("credit-risk", outcomes)
    assert lake_service.lake_of(context).read_table("credit-risk", "outcomes").num_rows == 4
    sink.close()
    report = lake_service.verify_lake(context, "credit-risk")
    assert report.ok and report.batches == 2


def test_an_unregistered_model_is_logged_unmasked(context: Context) -> None:
    assert not model_policy(context, "shadow-model").rules
    sink = LakeSink(context.settings)
    sink.write_decisions("shadow-model", _batch(2))
    assert lake_service.lake_of(context).read_table("shadow-model").column("email").to_pylist()[0].endswith(".org")
    sink.close()


def test_batch_ids_come_from_the_content() -> None:
    batch = _batch(3)
    shuffled = batch.take([2, 0, 1])
    assert batch_id_of(batch) == batch_id_of(shuffled) != batch_id_of(_batch(3))
    assert len(batch_id_of(batch)) == 32


def test_a_declared_rule_replaces_the_default(context: Context) -> None:
    sink = LakeSink(context.settings, privacy={"credit-risk": {"email": "mask", "income": {"action": "drop"}}})
    sink.write_decisions("credit-risk", _batch(2))
    stored = lake_service.lake_of(context).read_table("credit-risk")
    assert stored.column("email").to_pylist() == ["***", "***"] and "income" not in stored.column_names
    sink.close()
    with pytest.raises(InvalidInput, match="vibes"):
        LakeSink(context.settings, privacy={"credit-risk": {"email": "vibes"}})
