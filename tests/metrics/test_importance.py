"""Importance kernels: profiles, shares, top-k and proxies, against NumPy oracles and as properties."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.metrics.importance import (
    PROXY_THRESHOLD,
    find_proxies,
    first_protected_rank,
    importance_shares,
    mean_abs_attribution,
    protected_share,
    top_features,
)

INPUTS = {
    "list": lambda values: list(values),
    "ndarray": np.asarray,
    "pandas": pd.Series,
    "pyarrow": pa.array,
}


def test_mean_abs_attribution_skips_rows_not_explained() -> None:
    values = np.array([[1.0, -2.0, np.nan], [-3.0, np.nan, np.nan], [5.0, 4.0, np.nan]])
    found = mean_abs_attribution(values)
    assert found.tolist() == [3.0, 3.0, 0.0]
    with pytest.raises(InvalidInput, match=r"expected a matrix of rows x features, got shape \(3,\)"):
        mean_abs_attribution(np.ones(3))


@pytest.mark.parametrize("kind", list(INPUTS))
def test_every_input_type_gives_the_same_shares_and_order(kind: str) -> None:
    importance = INPUTS[kind]([0.5, 2.0, 0.0, 1.5])
    assert importance_shares(importance).tolist() == [0.125, 0.5, 0.0, 0.375]
    assert top_features(["a", "b", "c", "d"], importance, k=2) == ["b", "d"]


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=30))
def test_shares_sum_to_one_and_keep_the_order(values: list[float]) -> None:
    shares = importance_shares(values)
    if sum(values) == 0:
        assert shares.tolist() == [0.0] * len(values)
        return
    assert shares.sum() == pytest.approx(1.0)
    assert (shares >= 0).all()
    names = [f"f{i:02d}" for i in range(len(values))]
    ranked = top_features(names, values)
    ranked_by_share = top_features(names, shares)
    assert sorted(ranked) == names
    by_value = [values[names.index(n)] for n in ranked]
    assert by_value == sorted(by_value, reverse=True)
    assert [shares[names.index(n)] for n in ranked_by_share] == sorted(shares, reverse=True)


def test_ties_are_broken_by_name_and_bad_input_is_refused() -> None:
    assert top_features(["b", "a", "c"], [1.0, 1.0, 2.0]) == ["c", "a", "b"]
    with pytest.raises(InvalidInput, match="importance: 2 values for 3 features"):
        top_features(["a", "b", "c"], [1.0, 2.0])
    with pytest.raises(InvalidInput, match="non-negative"):
        importance_shares([1.0, -0.5])


def test_protected_share_and_rank() -> None:
    shares = {"income": 0.5, "zip": 0.3, "age": 0.2}
    assert protected_share(shares, ["age", "zip", "sex"]) == pytest.approx(0.5)
    assert protected_share(shares, []) == 0.0
    assert first_protected_rank(["income", "zip", "age"], {"age"}) == 3
    assert first_protected_rank(["income", "zip", "age"], {"zip", "age"}) == 2
    assert first_protected_rank(["income"], {"age"}) is None


def test_proxies_match_numpy_correlations() -> None:
    rng = np.random.default_rng(3)
    n = 500
    age = rng.normal(45, 12, n)
    tenure = 0.8 * (age - 45) / 12 + rng.normal(0, 0.4, n)  # strongly tied to age
    income = rng.normal(50, 10, n)  # independent
    sex = rng.choice(np.array(["F", "M"]), n)
    part_time = (sex == "F").astype(float) + rng.normal(0, 0.5, n)
    found = find_proxies(
        {"tenure": tenure, "income": income, "part_time": part_time, "age": age}, {"age": age, "sex": sex}
    )
    assert set(found) == {"tenure", "part_time"}  # age is not its own proxy; income is not a proxy
    assert found["tenure"].attribute == "age" and found["tenure"].category is None
    assert found["tenure"].correlation == pytest.approx(np.corrcoef(tenure, age)[0, 1])
    indicator = (sex == found["part_time"].category).astype(float)
    assert found["part_time"].attribute == "sex"
    assert found["part_time"].correlation == pytest.approx(np.corrcoef(part_time, indicator)[0, 1])
    assert abs(found["part_time"].correlation) >= PROXY_THRESHOLD > abs(np.corrcoef(income, age)[0, 1])


def test_proxies_skip_missing_values_and_tiny_data() -> None:
    rng = np.random.default_rng(4)
    age = rng.normal(45, 12, 200)
    tenure = age / 10 + rng.normal(0, 0.1, 200)
    tenure[:50] = np.nan
    labels: list[Any] = list(np.where(age > 45, "old", "young"))
    labels[:10] = [None] * 10
    found = find_proxies({"tenure": tenure}, {"age": age, "band": labels})
    both = ~np.isnan(tenure)
    assert found["tenure"].correlation == pytest.approx(np.corrcoef(tenure[both], age[both])[0, 1])
    assert find_proxies({"tenure": tenure[:20]}, {"age": age[:20]}) == {}  # too few rows to tell
    with pytest.raises(InvalidInput, match="same rows"):
        find_proxies({"tenure": tenure}, {"age": age[:10]})
    with pytest.raises(InvalidInput, match="threshold"):
        find_proxies({"tenure": tenure}, {"age": age}, threshold=0)
