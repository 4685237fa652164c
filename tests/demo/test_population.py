"""The demo's generator does what docs/demo.md and its docstring say, and its seed fixes the rows."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from charter.cli.demo import demo_command
from charter.demo import world
from charter.demo.modelling import build_features, in_holdout
from charter.demo.population import BRANCH, BROKER, FEATURES, PROXY, applicants, repayment_logit
from charter.services.classification import classify_column

N = 40_000


@pytest.fixture(scope="module")
def branch() -> Any:
    return applicants(N, BRANCH, np.random.default_rng(1))


@pytest.fixture(scope="module")
def broker() -> Any:
    return applicants(N, BROKER, np.random.default_rng(2))


def test_the_same_seed_gives_the_same_rows() -> None:
    first, again = (applicants(500, BRANCH, np.random.default_rng(7)) for _ in range(2))
    assert first.equals(again)
    assert not first.equals(applicants(500, BRANCH, np.random.default_rng(8)))
    assert list(applicants(3, BROKER, np.random.default_rng(7), first_id=41)["applicant_id"]) == [
        "A0000041", "A0000042", "A0000043",
    ]  # fmt: skip


def test_the_documented_distribution(branch: Any, broker: Any) -> None:
    frames = {"branch": branch, "broker": broker}
    female = {name: f["sex"].eq("female").mean() for name, f in frames.items()}
    assert female == pytest.approx({"branch": 0.5, "broker": 0.6}, abs=0.01)
    income = {name: f["income"].median() for name, f in frames.items()}
    assert income == pytest.approx({"branch": 42, "broker": 33}, rel=0.02)
    history = {name: f.groupby("sex")["credit_history_years"].mean().to_dict() for name, f in frames.items()}
    assert history["branch"] == pytest.approx({"female": 9, "male": 9}, rel=0.03)
    assert history["broker"] == pytest.approx({"female": 3.5, "male": 7.2}, rel=0.03)
    part_time = {name: f.assign(p=f[PROXY] < 30).groupby("sex")["p"].mean().to_dict() for name, f in frames.items()}
    assert part_time["branch"]["female"] == pytest.approx(0.6, abs=0.02) and part_time["branch"]["male"] < 0.07
    assert part_time["broker"]["female"] == pytest.approx(part_time["broker"]["male"], abs=0.02)
    repaid = {name: f.groupby("sex")["repaid"].mean().to_dict() for name, f in frames.items()}
    assert repaid["branch"]["female"] < repaid["branch"]["male"] - 0.05  # through weekly hours only
    assert repaid["broker"]["female"] == pytest.approx(repaid["broker"]["male"], abs=0.02)


def test_the_ground_truth_follows_the_documented_logit(branch: Any) -> None:
    frame = branch
    columns = {name: frame[name].to_numpy(dtype=float) for name in (*FEATURES, PROXY)}
    probability = 1 / (1 + np.exp(-repayment_logit(BRANCH, columns)))
    bins = np.digitize(probability, [0.2, 0.4, 0.6, 0.8])
    for b in range(5):
        chosen = bins == b
        assert frame["repaid"].to_numpy()[chosen].mean() == pytest.approx(probability[chosen].mean(), abs=0.02)


def test_charter_finds_the_personal_data_and_the_protected_attribute(branch: Any) -> None:
    sample = branch.head(1000)
    found = {name: classify_column(name, list(sample[name])) for name in sample.columns}
    assert found["name"].pii_category == "name" and found["email"].pii_category == "email"
    assert found["sex"].protected and found["sex"].pii_category is None
    assert [n for n, c in found.items() if c.pii_category or c.protected] == ["name", "email", "sex"]


def test_the_transform_drops_identifiers_and_splits_by_applicant(branch: Any) -> None:
    raw = branch.head(2000)
    training, holdout = build_features(raw, holdout_share=0.5)
    assert len(training) + len(holdout) == 2000 and abs(len(holdout) - 1000) < 100
    assert not {"applicant_id", "name", "email"} & (set(training.columns) | set(holdout.columns))
    assert in_holdout("A0000001", 0.5) == in_holdout("A0000001", 0.5)
    assert not in_holdout("A0000001", 0.0) and in_holdout("A0000001", 1.0)


def test_the_command_defaults_are_the_demos() -> None:
    defaults = {name: p.default for name, p in inspect.signature(demo_command).parameters.items()}
    assert (defaults["seed"], defaults["hourly"]) == (world.DEFAULT_SEED, world.DEFAULT_HOURLY)
