"""Anomaly scores: robust z and Mahalanobis against scipy, the isolation forest against scikit-learn,
detection of corrupt rows, every table type, the JSON round trip, and bad input."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from charter.errors import ConfigError, InvalidInput
from charter.metrics import registry
from charter.metrics.anomaly import (
    ANOMALOUS_SHARE,
    FORMAT,
    OUT_OF_RANGE_SHARE,
    AnomalyModel,
    AnomalyScores,
    anomalous_share,
    clean_share_bound,
    isolation_forest,
    mahalanobis_mean,
    out_of_range_share,
)

#: Columns on very different scales (as age, income and a ratio would be), correlated.
MEANS = np.array([50.0, 1000.0, 3.0])
SDS = np.array([10.0, 200.0, 0.01])


def _normal(seed: int, rows: int, *, rho: float = 0.6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    correlation = np.array([[rho ** abs(i - j) for j in range(3)] for i in range(3)])
    data = MEANS + SDS * rng.multivariate_normal(np.zeros(3), correlation, rows)
    return {name: data[:, j] for j, name in enumerate(("age", "income", "ratio"))}


def _matrix(table: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack(list(table.values()))


# --- against scipy ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_robust_z_is_the_modified_z_score(seed: int) -> None:
    reference, current = _normal(seed, 500), _normal(seed + 10, 200)
    scores = AnomalyModel.fit(reference).score(current)
    expected = np.column_stack(
        [
            (current[c] - np.median(reference[c])) / (1.4826 * stats.median_abs_deviation(reference[c]))
            for c in reference
        ]
    )
    np.testing.assert_allclose(scores.z, expected, rtol=1e-12)
    np.testing.assert_allclose(scores.robust_z, np.max(np.abs(expected), axis=1), rtol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mahalanobis_without_ridge_matches_scipy(seed: int) -> None:
    reference, current = _normal(seed, 400), _normal(seed + 10, 150)
    ref = _matrix(reference)
    inverse = np.linalg.inv(np.cov(ref, rowvar=False))
    expected = [distance.mahalanobis(row, ref.mean(axis=0), inverse) for row in _matrix(current)]
    model = AnomalyModel.fit(reference, ridge=0.0)
    np.testing.assert_allclose(model.score(current).mahalanobis, expected, rtol=1e-9)
    np.testing.assert_allclose(np.array(model.inverse_covariance), inverse, rtol=1e-9)


def test_the_default_ridge_multiplies_each_variance_by_one_plus_ridge() -> None:
    reference, current = _normal(4, 400), _normal(5, 150)
    ref = _matrix(reference)
    covariance = np.cov(ref, rowvar=False)
    inverse = np.linalg.inv(covariance + 1e-6 * np.diag(np.diag(covariance)))
    model = AnomalyModel.fit(reference)
    scores = model.score(current)
    expected = [distance.mahalanobis(row, ref.mean(axis=0), inverse) for row in _matrix(current)]
    np.testing.assert_allclose(scores.mahalanobis, expected, rtol=1e-9)
    # a millionth on the variances moves no distance by more than about a millionth
    np.testing.assert_allclose(
        scores.mahalanobis, AnomalyModel.fit(reference, ridge=0.0).score(current).mahalanobis, rtol=2e-6
    )
    assert model.ridge == 1e-6


@pytest.mark.parametrize("quantile", [0.999, 0.99, 0.9])
def test_the_mahalanobis_threshold_is_the_chi_square_quantile(quantile: float) -> None:
    reference, current = _normal(6, 300), _normal(7, 300)
    scores = AnomalyModel.fit(reference).score(current, quantile=quantile)
    limit = stats.chi2.ppf(quantile, 3)
    np.testing.assert_allclose(scores.mahalanobis_threshold**2, limit, rtol=1e-12)
    assert np.array_equal(scores.degrees_of_freedom, np.full(300, 3))
    assert np.array_equal(scores.anomalous, (scores.robust_z > 3.5) | (scores.mahalanobis**2 > limit))


def test_out_of_range_counts_the_features_outside_the_reference_range() -> None:
    model = AnomalyModel.fit({"a": [0.0, 1.0, 2.0, 3.0], "b": [10.0, 11.0, 13.0, 12.0]})
    scores = model.score({"a": [0.0, 3.0, -0.1, 3.5, 1.0], "b": [10.0, 13.0, 14.0, 9.0, float("nan")]})
    assert scores.out_of_range.tolist() == [0, 0, 2, 2, 0]
    assert (model.minimum, model.maximum) == ((0.0, 10.0), (3.0, 13.0))


# --- detection on generated data ------------------------------------------------------


def test_a_clean_window_stays_under_the_false_alarm_bound() -> None:
    reference, current = _normal(11, 5000), _normal(12, 20000)
    bound = clean_share_bound(3)
    assert bound == pytest.approx(0.001 + 3 * 2 * stats.norm.sf(3.5), rel=1e-12)
    noise = 3 * math.sqrt(bound / 20000)  # three binomial standard deviations
    assert anomalous_share(reference, current) < min(bound + noise, ANOMALOUS_SHARE)
    range_bound = 2 * 3 / (5000 + 1)  # P(outside [min, max]) = 2 / (n + 1) per continuous feature
    assert out_of_range_share(reference, current) < min(range_bound + 3 * math.sqrt(range_bound / 20000), 0.05)


def test_rows_with_a_feature_times_100_are_flagged() -> None:
    reference, current = _normal(13, 5000), _normal(14, 10000)
    rng = np.random.default_rng(15)
    corrupt = rng.choice(10000, 100, replace=False)  # 1% of the rows
    for rows, column in zip(np.array_split(corrupt, 3), current, strict=True):
        current[column][rows] *= 100
    scores = AnomalyModel.fit(reference).score(current)
    assert scores.anomalous[corrupt].all()
    assert (scores.out_of_range[corrupt] >= 1).all()
    assert (scores.robust_z[corrupt] > 3.5).all()
    assert anomalous_share(reference, current) > ANOMALOUS_SHARE


def test_a_sign_flip_that_breaks_the_correlation_is_caught_by_mahalanobis_only() -> None:
    rng = np.random.default_rng(16)
    a = rng.normal(size=3000)
    reference = {"a": a, "b": 0.95 * a + math.sqrt(1 - 0.95**2) * rng.normal(size=3000)}
    attack = np.linspace(1.0, 2.0, 20)
    scores = AnomalyModel.fit(reference).score({"a": attack, "b": -attack})  # each in range, together impossible
    assert (scores.out_of_range == 0).all()
    assert (scores.robust_z < 3.5).all()
    assert (scores.mahalanobis > scores.mahalanobis_threshold).all()
    assert scores.anomalous.all()


def test_a_row_that_breaks_an_exact_linear_relation_is_anomalous() -> None:
    a = np.arange(1.0, 21.0)
    model = AnomalyModel.fit({"a": a, "b": 2 * a})  # singular covariance: the ridge keeps it invertible
    scores = model.score({"a": [5.0, 5.0], "b": [10.0, 10.5]})
    assert scores.anomalous.tolist() == [False, True]
    assert scores.out_of_range.tolist() == [0, 0]


# --- scale fallbacks, missing and infinite values --------------------------------------


def test_a_zero_mad_falls_back_to_the_mean_absolute_deviation() -> None:
    reference = {"a": [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 8.0], "b": [1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0]}
    model = AnomalyModel.fit(reference)
    assert stats.median_abs_deviation(reference["a"]) == 0
    assert model.scale_method == ("mean_absolute_deviation", "mad")
    assert model.scale[0] == pytest.approx(math.sqrt(math.pi / 2) * 4 / 7, rel=1e-12)
    assert model.score({"a": [9.0], "b": [4.0]}).z[0, 0] == pytest.approx(4 / model.scale[0], rel=1e-12)


def test_a_constant_column_scores_zero_when_equal_and_infinity_otherwise() -> None:
    reference = {"a": [1.0, 2.0, 4.0, 3.0], "c": [2.0, 2.0, 2.0, 2.0]}
    model = AnomalyModel.fit(reference)
    assert (model.scale_method, model.scale[1]) == (("mad", "constant"), 0.0)
    assert model.mahalanobis_columns == ("a",)  # left out of the covariance
    scores = model.score({"a": [2.0, 2.0, 2.0], "c": [2.0, 3.0, 1.0]})
    assert scores.z[:, 1].tolist() == [0.0, math.inf, -math.inf]
    assert scores.anomalous.tolist() == [False, True, True]
    assert scores.out_of_range.tolist() == [0, 1, 1]
    assert scores.degrees_of_freedom.tolist() == [1, 1, 1]


def test_a_missing_current_value_is_skipped_and_the_distance_uses_the_observed_block() -> None:
    reference = _normal(17, 400)
    model = AnomalyModel.fit(reference)
    current = {c: v[:4].copy() for c, v in _normal(18, 4).items()}
    current["income"][1] = np.nan
    current["age"][2] = current["ratio"][2] = np.nan
    for column in current:
        current[column][3] = np.nan
    scores = model.score(current)
    covariance, mean, x = np.array(model.covariance), np.array(model.mean), _matrix(current)
    for row in range(3):
        seen = ~np.isnan(x[row])
        inverse = np.linalg.inv(covariance[np.ix_(seen, seen)])
        expected = distance.mahalanobis(x[row, seen], mean[seen], inverse)
        assert scores.mahalanobis[row] == pytest.approx(expected, rel=1e-9)
        assert scores.mahalanobis_threshold[row] ** 2 == pytest.approx(stats.chi2.ppf(0.999, seen.sum()), rel=1e-12)
        assert scores.robust_z[row] == pytest.approx(np.nanmax(np.abs(scores.z[row])), rel=1e-12)
    assert np.isnan(scores.z[1, 1]) and np.isnan(scores.z[3]).all()
    assert scores.missing.tolist() == [0, 1, 2, 3]
    assert scores.degrees_of_freedom.tolist() == [3, 2, 1, 0]
    # nothing observed: no score, not anomalous (missingness is a data-quality question)
    assert (scores.robust_z[3], scores.mahalanobis[3], scores.mahalanobis_threshold[3]) == (0.0, 0.0, math.inf)
    assert not scores.anomalous[3] and scores.out_of_range[3] == 0


def test_missing_reference_values_are_dropped_per_column_and_the_covariance_uses_complete_rows() -> None:
    reference = {c: v.copy() for c, v in _normal(19, 300).items()}
    reference["age"][:10] = np.nan
    reference["income"][5:20] = np.inf  # ±inf in the reference counts as missing
    model = AnomalyModel.fit(reference)
    income = reference["income"][np.isfinite(reference["income"])]
    assert model.median[1] == np.median(income) and model.maximum[1] == income.max()
    assert model.median[0] == np.nanmedian(reference["age"])
    complete = _matrix(reference)[20:]
    assert (model.rows, model.complete_rows) == (300, 280)
    np.testing.assert_allclose(model.mean, complete.mean(axis=0), rtol=1e-12)
    covariance = np.cov(complete, rowvar=False)
    np.testing.assert_allclose(model.covariance, covariance + 1e-6 * np.diag(np.diag(covariance)), rtol=1e-12)


def test_an_infinite_current_value_is_out_of_range_and_anomalous() -> None:
    model = AnomalyModel.fit(_normal(20, 200))
    scores = model.score({"age": [50.0, math.inf], "income": [1000.0, 1000.0], "ratio": [3.0, 3.0]})
    assert scores.anomalous.tolist() == [False, True]
    assert (scores.out_of_range[1], scores.robust_z[1], scores.mahalanobis[1]) == (1, math.inf, math.inf)


# --- input types and columns -----------------------------------------------------------


def _numpy(columns: dict[str, list[Any]]) -> dict[str, np.ndarray]:
    return {c: np.array([np.nan if v is None else v for v in values]) for c, values in columns.items()}


TABLES: list[tuple[str, Callable[[dict[str, list[Any]]], Any]]] = [
    ("dict of lists", dict),
    ("dict of numpy", _numpy),
    ("dict of pandas Series", lambda columns: {c: pd.Series(v, dtype=float) for c, v in columns.items()}),
    ("pandas", pd.DataFrame),
    ("polars", pl.DataFrame),
    ("pyarrow Table", pa.table),
    ("pyarrow RecordBatch", pa.RecordBatch.from_pydict),
]


def _with_gaps(table: dict[str, np.ndarray], rows: int) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {c: v[:rows].tolist() for c, v in table.items()}
    columns["age"][1] = None
    columns["ratio"][2] = None
    return columns


@pytest.mark.parametrize(("type_name", "convert"), TABLES, ids=[t[0] for t in TABLES])
def test_every_table_type_gives_the_same_model_and_scores(
    type_name: str, convert: Callable[[dict[str, list[Any]]], Any]
) -> None:
    reference, current = _with_gaps(_normal(21, 200), 200), _with_gaps(_normal(22, 50), 50)
    expected_model = AnomalyModel.fit(reference)
    expected = expected_model.score(current)
    model = AnomalyModel.fit(convert(reference))
    assert model == expected_model
    scores = model.score(convert(current))
    for field in ("z", "robust_z", "out_of_range", "mahalanobis", "mahalanobis_threshold", "missing", "anomalous"):
        np.testing.assert_array_equal(getattr(scores, field), getattr(expected, field))
    assert anomalous_share(convert(reference), convert(current)) == anomalous_share(reference, current)


def test_columns_picks_the_numeric_columns_and_current_may_hold_more() -> None:
    reference = pd.DataFrame({"id": ["r1", "r2", "r3", "r4"], "a": [1.0, 2.0, 4.0, 3.0], "b": [2.0, 1.0, 3.0, 5.0]})
    model = AnomalyModel.fit(reference, columns=["b", "a"])
    assert model.columns == ("b", "a")
    scores = model.score(pl.DataFrame({"a": [2.0], "b": [2.0], "ts": ["2024-01-01"]}))
    assert scores.columns == ("b", "a") and scores.z.shape == (1, 2)


def test_the_scores_are_read_only() -> None:
    scores = AnomalyModel.fit({"a": [1.0, 2.0, 3.0]}).score({"a": [2.0]})
    with pytest.raises(ValueError, match="read-only"):
        scores.anomalous[0] = True
    assert isinstance(scores, AnomalyScores)


# --- the JSON round trip ---------------------------------------------------------------


def test_the_model_round_trips_through_json_exactly() -> None:
    reference = {**_normal(23, 300), "flag": np.ones(300)}
    reference["age"][:5] = np.nan
    model = AnomalyModel.fit(reference)
    text = json.dumps(model.to_dict(), allow_nan=False)  # strict JSON: no NaN or Infinity
    again = AnomalyModel.from_dict(json.loads(text))
    assert again == model and json.loads(text)["format"] == FORMAT
    current = {c: v[:40] for c, v in _normal(24, 40).items()} | {"flag": np.r_[np.ones(39), 2.0]}
    current["income"][3] = np.nan
    first, second = model.score(current), again.score(current)
    for field in ("z", "robust_z", "mahalanobis", "mahalanobis_threshold", "anomalous"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))


def _model_dict() -> dict[str, Any]:
    return AnomalyModel.fit({"a": [1.0, 2.0, 4.0, 3.0], "b": [2.0, 1.0, 3.0, 5.0]}).to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"format": "charter.anomaly_model/9"},
            "format must be 'charter.anomaly_model/1', got 'charter.anomaly_model/9'",
        ),
        ({"median": None}, "missing field(s) 'median'"),
        ({"extra": 1}, "unknown field(s) 'extra'"),
        ({"median": [1.0]}, "median must be a list of 2 finite numbers"),
        ({"scale": [1.0, "2"]}, "scale must be a list of 2 finite numbers"),
        ({"minimum": [1.0, float("nan")]}, "minimum must be a list of 2 finite numbers"),
        ({"covariance": [[1.0, 0.0]]}, "covariance must be a 2 x 2 list of lists of finite numbers"),
        (
            {"inverse_covariance": [[1.0, 0.0], [0.0]]},
            "inverse_covariance must be a 2 x 2 list of lists of finite numbers",
        ),
        ({"scale_method": ["mad", "iqr"]}, "scale_method must hold only 'mad', 'mean_absolute_deviation', 'constant'"),
        ({"scale_method": ["mad"]}, "scale_method must hold 2 values, one per column"),
        ({"mahalanobis_columns": ["a", "z"]}, "mahalanobis_columns must hold only 'a', 'b'"),
        ({"columns": "ab"}, "columns must be a list of strings"),
        ({"rows": -1}, "rows must be a whole number >= 0"),
        ({"ridge": "small"}, "ridge must be a number"),
    ],
)
def test_a_bad_stored_model_is_refused_by_field(change: dict[str, Any], message: str) -> None:
    data = _model_dict() | change
    if change.get("median", 0) is None:
        del data["median"]
    with pytest.raises(InvalidInput, match=f"^{re.escape(f'anomaly model: {message}')}$"):
        AnomalyModel.from_dict(data)


# --- window metrics and the registry ---------------------------------------------------


def test_window_metrics_summarise_the_scores() -> None:
    reference, current = _normal(25, 500), _normal(26, 300)
    current["age"][:6] = 1e4
    current["ratio"][6:9] = 3.1  # ten sigma, and outside the range
    model = AnomalyModel.fit(reference)
    scores = model.score(current)
    assert anomalous_share(reference, current) == np.mean(scores.anomalous) == anomalous_share(model, current)
    assert out_of_range_share(reference, current) == np.mean(scores.out_of_range > 0)
    assert mahalanobis_mean(reference, current) == pytest.approx(np.mean(scores.mahalanobis), rel=1e-12)
    assert anomalous_share(reference, current, z_threshold=1e9, quantile=1 - 1e-12) < np.mean(scores.anomalous)
    income_only = AnomalyModel.fit(reference, columns=["income"]).score(current).anomalous
    assert anomalous_share(reference, current, columns=["income"]) == np.mean(income_only) < np.mean(scores.anomalous)


def test_the_anomaly_metrics_are_registered_with_their_thresholds() -> None:
    metrics = registry.all_metrics()
    registered = {(m.id, m.function, m.direction, m.threshold) for m in metrics.values() if m.id.startswith("anomaly.")}
    assert registered == {
        ("anomaly.anomalous_share", anomalous_share, "higher_is_worse", ANOMALOUS_SHARE),
        ("anomaly.out_of_range_share", out_of_range_share, "higher_is_worse", OUT_OF_RANGE_SHARE),
        ("anomaly.mahalanobis_mean", mahalanobis_mean, "higher_is_worse", None),
    }
    assert (ANOMALOUS_SHARE, OUT_OF_RANGE_SHARE) == (0.01, 0.05)
    assert all(metrics[m].summary for m in ("anomaly.anomalous_share", "anomaly.mahalanobis_mean"))


# --- isolation forest ------------------------------------------------------------------


def test_the_isolation_forest_matches_scikit_learn() -> None:
    from sklearn.ensemble import IsolationForest

    reference, current = _normal(27, 1000), _normal(28, 200)
    current["income"][:5] *= 100
    forest = IsolationForest(n_estimators=50, random_state=3).fit(_matrix(reference))
    result = isolation_forest(reference, current, n_estimators=50, random_state=3)
    np.testing.assert_allclose(result.score, -forest.score_samples(_matrix(current)), rtol=1e-12)
    assert np.array_equal(result.anomalous, forest.predict(_matrix(current)) == -1)
    assert result.anomalous[:5].all() and result.columns == ("age", "income", "ratio")


def test_the_isolation_forest_fills_a_missing_value_with_the_reference_median() -> None:
    reference = _normal(29, 500)
    row = {c: [v[0]] for c, v in _normal(30, 1).items()}
    filled = row | {"income": [float(np.median(reference["income"]))]}
    assert isolation_forest(reference, row | {"income": [None]}).score == isolation_forest(reference, filled).score
    far = isolation_forest(reference, row | {"age": [math.inf]})  # clipped to a number the forest accepts
    assert far.score == isolation_forest(reference, row | {"age": [1e6]}).score


def test_the_isolation_forest_without_scikit_learn_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    message = "isolation_forest needs scikit-learn, which is not installed: pip install scikit-learn"
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$") as caught:
        isolation_forest({"a": [1.0, 2.0]}, {"a": [1.0]})
    assert caught.value.code == "config.invalid"


# --- bad input -------------------------------------------------------------------------

GOOD = {"a": [1.0, 2.0, 4.0, 3.0], "b": [2.0, 1.0, 3.0, 5.0]}


def _fitted() -> AnomalyModel:
    return AnomalyModel.fit(GOOD)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: _fitted().score({"a": [1.0]}), "current: column(s) 'b' missing (the model scores 'a', 'b')"),
        (
            lambda: AnomalyModel.fit({**GOOD, "city": ["x", "y", "z", "w"]}),
            "reference column 'city': values must be numbers (could not convert string to float: 'x'); "
            "anomaly scores need numeric columns: choose them with columns=[...]",
        ),
        (
            lambda: _fitted().score({"a": [1.0], "b": ["high"]}),
            "current column 'b': values must be numbers (could not convert string to float: 'high')",
        ),
        (
            lambda: AnomalyModel.fit({"a": [1.0]}),
            "reference: the covariance of 1 column(s) needs at least 2 complete rows (columns + 1, no value "
            "missing), got 1: give more rows, or fewer columns with columns=[...]",
        ),
        (
            lambda: AnomalyModel.fit({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0], "c": [1.0, None, 2.0]}),
            "reference: the covariance of 3 column(s) needs at least 4 complete rows (columns + 1, no value "
            "missing), got 2: give more rows, or fewer columns with columns=[...]",
        ),
        (
            lambda: AnomalyModel.fit({**GOOD, "c": [None, float("nan"), None, float("inf")]}),
            "reference column 'c' has no values (every one is missing: None, NaN or inf); "
            "leave it out with columns=[...]",
        ),
        (
            lambda: AnomalyModel.fit({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]}),
            "reference: the columns must have the same length: 'a' has 3, 'b' has 2",
        ),
        (
            lambda: _fitted().score(pd.Series([1.0, 2.0])),
            "current must be a table: a mapping of column name to values, a pandas or polars DataFrame "
            "or a pyarrow Table, got Series",
        ),
        (
            lambda: _fitted().score({"a": [1.0, 2.0], "b": [1.0]}),
            "current: the columns must have the same length: 'a' has 2, 'b' has 1",
        ),
        (
            lambda: AnomalyModel.fit([1.0, 2.0, 3.0]),
            "reference must be a table: a mapping of column name to values, a pandas or polars DataFrame "
            "or a pyarrow Table, got list",
        ),
        (lambda: AnomalyModel.fit({}), "reference has no columns: anomaly scores need at least one numeric column"),
        (
            lambda: AnomalyModel.fit(pd.DataFrame(np.ones((4, 2)))),
            "reference: column names must be strings, got 0 (int); rename them",
        ),
        (
            lambda: AnomalyModel.fit(GOOD, columns=["a", "z"]),
            "columns: no column(s) 'z' in reference (it has 'a', 'b')",
        ),
        (lambda: AnomalyModel.fit(GOOD, columns=["a", "a"]), "columns: 'a' given more than once"),
        (lambda: AnomalyModel.fit(GOOD, columns="a"), "columns must be a list of column names (strings), got 'a'"),
        (lambda: AnomalyModel.fit(GOOD, ridge=-1.0), "ridge must be a number >= 0, got -1.0"),
        (
            lambda: AnomalyModel.fit({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 4.0, 6.0, 8.0]}, ridge=0.0),
            "reference: the covariance of 'a', 'b' is singular (a column is a linear combination of others); "
            "use ridge > 0 (the default is 1e-06)",
        ),
        (lambda: _fitted().score(GOOD, z_threshold=0), "z_threshold must be a number above 0, got 0"),
        (lambda: _fitted().score(GOOD, quantile=1.0), "quantile must be a number between 0 and 1 (exclusive), got 1.0"),
        (
            lambda: anomalous_share(GOOD, {"a": [], "b": []}),
            "current has no rows: a window metric needs at least one",
        ),
        (
            lambda: out_of_range_share(_fitted(), GOOD, columns=["a"]),
            "columns: the model is already fitted on its columns; give columns= only with a table",
        ),
        (
            lambda: isolation_forest(GOOD, GOOD, n_estimators=0),
            "n_estimators must be a whole number of at least 1, got 0",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$") as caught:
        call()
    assert caught.value.code == "input.invalid"


def test_an_empty_current_table_scores_no_rows() -> None:
    scores = _fitted().score({"a": [], "b": []})
    assert scores.anomalous.shape == (0,) and scores.z.shape == (0, 2)


# --- properties ------------------------------------------------------------------------


@st.composite
def tables(draw: st.DrawFn) -> dict[str, list[float]]:
    features = draw(st.integers(1, 3))
    rows = draw(st.integers(features + 1, 25))
    value = st.integers(-400, 400).map(lambda v: v / 8)
    return {f"x{j}": draw(st.lists(value, min_size=rows, max_size=rows)) for j in range(features)}


@given(tables())
def test_a_reference_row_is_never_out_of_range(reference: dict[str, list[float]]) -> None:
    assert (AnomalyModel.fit(reference).score(reference).out_of_range == 0).all()


@given(tables(), st.data())
@settings(max_examples=50)
def test_scores_follow_the_rows_when_the_current_rows_are_permuted(
    reference: dict[str, list[float]], data: st.DataObject
) -> None:
    rows = len(next(iter(reference.values())))
    order = data.draw(st.permutations(range(rows)))
    model = AnomalyModel.fit(reference)
    scores = model.score(reference)
    shuffled = model.score({c: [v[i] for i in order] for c, v in reference.items()})
    np.testing.assert_allclose(shuffled.mahalanobis, scores.mahalanobis[order], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(shuffled.z, scores.z[order])
    np.testing.assert_array_equal(shuffled.out_of_range, scores.out_of_range[order])


@given(tables())
@settings(max_examples=50)
def test_the_json_round_trip_gives_identical_scores(reference: dict[str, list[float]]) -> None:
    model = AnomalyModel.fit(reference)
    again = AnomalyModel.from_dict(json.loads(json.dumps(model.to_dict(), allow_nan=False)))
    assert again == model
    np.testing.assert_array_equal(again.score(reference).mahalanobis, model.score(reference).mahalanobis)


@pytest.mark.parametrize("columns", [["income"], ["ratio", "age"], ["age", "income", "ratio"]])
def test_a_selected_model_scores_as_one_fitted_on_those_columns(columns: list[str]) -> None:
    reference = _normal(11, 400)
    current = _normal(12, 50, rho=-0.3)
    current["income"][:5] *= 3
    selected = AnomalyModel.fit(reference).select(columns)
    direct = AnomalyModel.fit({c: reference[c] for c in columns})
    assert selected.columns == direct.columns and selected.mahalanobis_columns == direct.mahalanobis_columns
    for name in ("minimum", "maximum", "median", "scale", "mean"):
        assert getattr(selected, name) == pytest.approx(getattr(direct, name), rel=1e-12), name
    mine, theirs = selected.score(current), direct.score(current)
    np.testing.assert_allclose(mine.mahalanobis, theirs.mahalanobis, rtol=1e-9)
    np.testing.assert_array_equal(mine.anomalous, theirs.anomalous)


def test_selecting_an_unknown_column_names_it() -> None:
    model = AnomalyModel.fit(_normal(1, 100))
    with pytest.raises(InvalidInput, match=r"^anomaly model: it has no column\(s\) 'debt'$"):
        model.select(["age", "debt"])
    with pytest.raises(InvalidInput, match=r"select at least one column"):
        model.select([])
