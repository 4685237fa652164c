"""data_drift over a lake window against the reference profile; attribution_drift's slot."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.errors import InvalidInput
from charter.lake.table import DecisionLake
from charter.metrics import drift
from charter.metrics.drift_report import drift_report, profile_report
from charter.metrics.summary import ReferenceProfile
from tests.engines.conftest import MODEL, START, decisions, write

FEATURES = ["age", "income", "tenure", "region"]
WINDOW = Window(start=START, end=START + dt.timedelta(days=1))


def _columns(table: pa.Table, names: list[str]) -> dict[str, object]:
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in names}


@pytest.fixture
def reference_rows() -> pa.Table:
    return decisions(4000, seed=100)


@pytest.fixture
def reference(reference_rows: pa.Table) -> ReferenceProfile:
    return ReferenceProfile.fit(_columns(reference_rows, FEATURES))


@pytest.fixture
def window_rows(lake: DecisionLake) -> pa.Table:
    """The window: income shifted by half a standard deviation, the rest as in the reference."""
    table = decisions(3000, seed=7, shift=0.5)
    write(lake, table)
    return table


def test_the_shifted_feature_drifts_and_the_others_do_not(
    engine: LocalEngine, reference: ReferenceProfile, reference_rows: pa.Table, window_rows: pa.Table
) -> None:
    result = engine.compute(MODEL, MonitorSpec("data_drift"), WINDOW, reference=reference)
    scores = {v.metric.split(":")[1]: v for v in result.values if v.metric.startswith("drift.score:")}
    assert [f for f, v in scores.items() if v.details["drifted"]] == ["income"]
    share = result.metric("drift.share_drifted")
    assert share is not None and share.value == 0.25 and share.rows == 3000
    assert share.details["drifted_features"] == ["income"] and share.details["dataset_drift"] is False
    # the same numbers as the kernels give on the raw rows: the report on the rows, within each bound
    exact = drift_report(_columns(reference_rows, FEATURES), _columns(window_rows, FEATURES))
    for column in exact.columns:
        ours = scores[column.column]
        assert ours.details["test"] == column.test and ours.details["drifted"] == column.drifted
        assert abs(ours.value - column.score) <= ours.details["bound"] + 1e-9
        assert ours.details["psi"] == pytest.approx(column.psi) if column.psi is not None else True
    # and scipy's Wasserstein distance in reference standard deviations, for the numeric ones
    for name in ("age", "income", "tenure"):
        ref, cur = reference_rows.column(name).to_numpy(), window_rows.column(name).to_numpy()
        scipy_score = stats.wasserstein_distance(ref, cur) / np.std(ref)
        assert abs(scores[name].value - scipy_score) <= scores[name].details["bound"] + 1e-9


def test_merging_batches_gives_the_report_of_the_whole_window(
    lake: DecisionLake, reference: ReferenceProfile, window_rows: pa.Table
) -> None:
    whole = profile_report(reference, reference.summarise(_columns(window_rows, FEATURES)))
    for batch_rows in (97, 1000, 100_000):
        result = LocalEngine(lake, batch_rows=batch_rows).compute(
            MODEL, MonitorSpec("data_drift"), WINDOW, reference=reference
        )
        for column in whole.columns:
            assert result.value(f"drift.score:{column.column}") == pytest.approx(column.score, rel=1e-12, abs=1e-15)


def test_test_threshold_and_share_overrides(
    engine: LocalEngine, reference: ReferenceProfile, reference_rows: pa.Table, window_rows: pa.Table
) -> None:
    spec = MonitorSpec(
        "data_drift",
        features=("income", "age"),
        options={"tests": {"income": "ks"}, "thresholds": {"age": 0.0}, "share": 0.5},
    )
    result = engine.compute(MODEL, spec, WINDOW, reference=reference)
    assert [v.metric for v in result.values] == ["drift.share_drifted", "drift.score:income", "drift.score:age"]
    income = result.metric("drift.score:income")
    assert income is not None and income.details["test"] == "ks" and income.details["score_is"] == "p_value"
    ks = drift.ks(reference_rows.column("income").to_numpy(), window_rows.column("income").to_numpy())
    assert income.value == pytest.approx(ks.p_value, abs=1e-3) and income.details["drifted"]
    age = result.metric("drift.score:age")
    assert age is not None and age.details["threshold"] == 0.0 and age.details["drifted"]  # distance >= 0
    assert result.value("drift.share_drifted") == 1.0
    share = result.metric("drift.share_drifted")
    assert share is not None and share.details["dataset_drift"] is True

    every = MonitorSpec("data_drift", features=("age", "tenure"), options={"test": "ks", "threshold": 0.01})
    result = engine.compute(MODEL, every, WINDOW, reference=reference)
    for value in result.values[1:]:
        assert (value.details["test"], value.details["threshold"]) == ("ks", 0.01)


def test_a_feature_without_values_is_left_out_with_a_note(lake: DecisionLake, reference: ReferenceProfile) -> None:
    table = decisions(500, seed=8)
    table = table.set_column(table.schema.get_field_index("tenure"), "tenure", pa.nulls(500, pa.float64()))
    write(lake, table)
    result = LocalEngine(lake).compute(MODEL, MonitorSpec("data_drift"), WINDOW, reference=reference)
    assert "drift.score:tenure" not in [v.metric for v in result.values]
    assert result.notes == ("feature tenure: no values in the window (every value missing), not tested",)
    share = result.metric("drift.share_drifted")
    assert share is not None and share.details["features"] == 3


def test_profiled_columns_the_model_does_not_log_are_left_out(
    engine: LocalEngine, reference_rows: pa.Table, window_rows: pa.Table
) -> None:
    """A training dataset's profile also holds its label and identifiers: the monitor tests the logged columns."""
    columns = _columns(reference_rows, ["income", "age"])
    profile = ReferenceProfile.fit({**columns, "default": np.arange(4000) % 2})
    result = engine.compute(MODEL, MonitorSpec("data_drift"), WINDOW, reference=profile)
    assert [v.metric for v in result.values] == ["drift.share_drifted", "drift.score:income", "drift.score:age"]
    assert result.notes == ("reference column default: not logged with the decisions, not tested",)
    empty = engine.compute(MODEL, MonitorSpec("data_drift"), Window(last=1, versions=(9,)), reference=profile)
    assert empty.notes == (
        "no decisions in the window",
        "reference column default: not logged with the decisions, not tested",
    )


def test_drift_errors_name_the_problem(engine: LocalEngine, reference: ReferenceProfile, window_rows: pa.Table) -> None:
    def run(spec: MonitorSpec, profile: ReferenceProfile | None = reference) -> str:
        with pytest.raises(InvalidInput) as caught:
            engine.compute(MODEL, spec, WINDOW, reference=profile)
        return str(caught.value)

    assert run(MonitorSpec("data_drift"), None) == (
        "data_drift: needs the version's reference profile (reference=ReferenceProfile)"
    )
    assert run(MonitorSpec("data_drift", features=("debt",))) == (
        "data_drift: feature(s) debt not in the reference profile (profiled: age, income, tenure, region)"
    )
    with_debt = ReferenceProfile.fit({"income": np.arange(100.0), "debt": np.arange(100.0)})
    assert run(MonitorSpec("data_drift", features=("income", "debt")), with_debt) == (
        "data_drift: feature(s) debt not in the decisions of 'credit-risk' (features: age, income, tenure, region)"
    )
    only_debt = ReferenceProfile.fit({"debt": np.arange(100.0), "default": np.arange(100) % 2})
    assert run(MonitorSpec("data_drift"), only_debt) == (
        "data_drift: no column of the reference profile (debt, default) is logged with the decisions of "
        "'credit-risk' (features: age, income, tenure, region)"
    )
    assert run(MonitorSpec("data_drift", options={"tests": {"income": "t_test"}})) == (
        "data_drift: income: unknown test 't_test' (known: ks, chi_square, z_test, wasserstein_normed, jensen_shannon)"
    )
    assert run(MonitorSpec("data_drift", options={"bins": 3})) == (
        "data_drift: unknown option(s) bins (known: test, threshold, tests, thresholds, share)"
    )
    assert run(MonitorSpec("data_drift", options={"share": 0})) == (
        "data_drift: option share must be a number in (0, 1], not 0"
    )
    assert run(MonitorSpec("data_drift", options={"thresholds": {"debt": 0.2}})) == (
        "data_drift: option thresholds names feature(s) not monitored: debt"
    )


def test_attribution_drift_without_attributions_says_so(engine: LocalEngine, window_rows: pa.Table) -> None:
    result = engine.compute(MODEL, MonitorSpec("attribution_drift"), WINDOW)
    assert result.values == () and result.notes == ("no attributions logged",)


def test_attribution_drift_with_attributions(lake: DecisionLake) -> None:
    table = decisions(400, seed=9)
    rng = np.random.default_rng(4)
    income, age = rng.normal(0, 2.0, 400), rng.normal(0, 1.0, 400)
    age[::4] = np.nan  # explanations are sampled: some decisions have none
    table = table.append_column("attribution_income", pa.array(income)).append_column(
        "attribution_age", pa.array(age, from_pandas=True)
    )
    write(lake, table)
    reference = {"income": 1.0, "age": 1.0}
    result = LocalEngine(lake).compute(
        MODEL, MonitorSpec("attribution_drift"), WINDOW, context={"reference_importance": reference}
    )
    mean_income, mean_age = np.abs(income).mean(), np.nanmean(np.abs(age))
    assert result.value("attribution.mean_abs:income") == pytest.approx(mean_income)
    age_value = result.metric("attribution.mean_abs:age")
    assert age_value is not None and age_value.value == pytest.approx(mean_age) and age_value.rows == 300
    shares = np.array([mean_income, mean_age]) / (mean_income + mean_age)
    assert result.value("attribution.shift") == pytest.approx(0.5 * np.abs(shares - 0.5).sum())
    assert "drift" not in str(LocalEngine(lake).compute(MODEL, MonitorSpec("attribution_drift"), WINDOW).values)
