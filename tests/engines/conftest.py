"""Real Delta decision lakes in temp folders, written through the lake's own append."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from charter.engines import LocalEngine
from charter.ids import new_id
from charter.lake.schema import TIMESTAMP
from charter.lake.table import DecisionLake

MODEL = "credit-risk"
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
REGIONS = ["north", "south", "east", "west"]
SEXES = ["F", "M", "X"]


def decisions(
    rows: int,
    *,
    seed: int = 0,
    start: dt.datetime = START,
    step: dt.timedelta = dt.timedelta(seconds=1),
    version: int = 1,
    alias: str | None = "prod",
    registered: bool = True,
    shift: float = 0.0,
) -> pa.Table:
    """Decisions of a credit model: ``income`` shifted by ``shift`` standard deviations when asked."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    income = rng.normal(50_000 + 10_000 * shift, 10_000, rows)
    tenure = rng.exponential(5.0, rows)
    sex = rng.choice(SEXES, rows, p=[0.45, 0.45, 0.1])
    # the score depends on the inputs and on the group, so groups differ in their rates
    logit = (income - 50_000) / 10_000 + (age - 50) / 30 - 0.4 * (sex == "F")
    score = 1 / (1 + np.exp(-logit))
    return pa.table(
        {
            "decision_id": [new_id() for _ in range(rows)],
            "ts": pa.array([start + step * i for i in range(rows)], type=TIMESTAMP),
            "model_version": pa.array([version] * rows, type=pa.int64()),
            "alias": pa.array([alias] * rows, type=pa.string()),
            "registered": pa.array([registered] * rows),
            "latency_ms": rng.lognormal(1.0, 0.8, rows),
            "subject_id": [f"s{i % 50}" for i in range(rows)],
            "age": age,
            "income": income,
            "tenure": tenure,
            "region": rng.choice(REGIONS, rows).tolist(),
            "group_sex": sex.tolist(),
            "score": score,
            "prediction": (score >= 0.5).astype(np.int64),
        }
    )


def outcomes(table: pa.Table, *, seed: int = 1, share: float = 1.0) -> pa.Table:
    """Labels drawn from the scores (so the scores are calibrated) for a ``share`` of the decisions."""
    rng = np.random.default_rng(seed)
    score = table.column("score").to_numpy()
    chosen = rng.random(len(score)) < share
    ids = np.asarray(table.column("decision_id").to_pylist(), dtype=object)[chosen]
    labels = (rng.random(len(score)) < score).astype(np.int64)[chosen]
    stamps = [START + dt.timedelta(days=30)] * len(ids)
    return pa.table({"decision_id": ids.tolist(), "ts": pa.array(stamps, type=TIMESTAMP), "label": labels})


def write(lake: DecisionLake, table: pa.Table, *, kind: Any = "decisions", model: str = MODEL) -> None:
    lake.append(model, kind, table, batch_id=new_id())


@pytest.fixture
def lake(tmp_path: Path) -> DecisionLake:
    return DecisionLake(tmp_path / "lake")


@pytest.fixture
def engine(lake: DecisionLake) -> LocalEngine:
    return LocalEngine(lake, batch_rows=700)  # several batches per window, so merging is exercised
