"""The drift report: Evidently's default test per column, verdicts, the dataset share, overrides."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from charter.errors import InvalidInput
from charter.metrics.drift_report import default_test, drift_report, psi_band

rng = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("reference", "test"),
    [
        (rng.normal(size=1000), "ks"),
        (rng.normal(size=1001), "wasserstein_normed"),
        (rng.integers(0, 5, size=500).astype(float), "chi_square"),  # 5 distinct values
        (rng.integers(0, 6, size=500).astype(float), "ks"),  # 6 distinct values
        (rng.integers(0, 2, size=500).astype(float), "z_test"),
        (rng.integers(0, 5, size=5000).astype(float), "jensen_shannon"),
        (rng.choice(["a", "b", "c"], size=300).tolist(), "chi_square"),
        (rng.choice(["a", "b"], size=300).tolist(), "z_test"),
        (rng.choice(list("abcdefghij"), size=3000).tolist(), "jensen_shannon"),
    ],
)
def test_the_default_test_follows_evidently(reference: object, test: str) -> None:
    assert default_test(reference) == test


def test_verdicts_match_scipy_and_the_dataset_share() -> None:
    reference = {"a": rng.normal(size=800), "b": rng.normal(size=800), "c": rng.normal(size=800)}
    current = {"a": rng.normal(0.5, 1, 800), "b": rng.normal(size=800), "c": rng.normal(0.6, 1, 800)}
    report = drift_report(reference, current)
    by_column = {c.column: c for c in report.columns}
    for column in "abc":
        p_value = stats.ks_2samp(reference[column], current[column], method="asymp").pvalue
        assert by_column[column].test == "ks"
        assert by_column[column].score == pytest.approx(p_value, abs=1e-9)
        assert by_column[column].drifted == (p_value <= 0.05)
    assert (report.drifted_columns, report.dataset_drift) == (2, True)
    assert report.share == pytest.approx(2 / 3)
    assert not drift_report(reference, current, share=0.9).dataset_drift
    assert by_column["a"].psi_band in ("none", "moderate", "major")


def test_overrides_per_column() -> None:
    reference = {"x": rng.normal(size=500)}
    current = {"x": rng.normal(0.05, 1, 500)}
    report = drift_report(reference, current, tests={"x": "wasserstein_normed"}, thresholds={"x": 0.01})
    (column,) = report.columns
    assert (column.test, column.threshold) == ("wasserstein_normed", 0.01)
    expected = stats.wasserstein_distance(reference["x"], current["x"]) / np.std(reference["x"])
    assert column.score == pytest.approx(expected, rel=1e-9)
    assert column.drifted == (expected >= 0.01)


@pytest.mark.parametrize(("value", "band"), [(0.0, "none"), (0.099, "none"), (0.1, "moderate"), (0.25, "major")])
def test_psi_bands(value: float, band: str) -> None:
    assert psi_band(value) == band


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"current": {}}, "current: column(s) x are missing"),
        ({"tests": {"y": "ks"}}, "tests: no column(s) y in the reference"),
        ({"tests": {"x": "t_test"}}, "tests: x: unknown test 't_test'"),
        ({"share": 0}, "share must be in (0, 1]"),
        ({"current": {"x": []}}, "column 'x': "),
    ],
)
def test_bad_input_is_located(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"reference": {"x": [1.0, 2.0, 3.0]}, "current": {"x": [1.0, 2.0]}, **kwargs}
    with pytest.raises(InvalidInput) as caught:
        drift_report(**arguments)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
