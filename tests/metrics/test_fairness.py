"""Fairness kernels: against fairlearn where it has the metric, by hand where it does not, over every input type."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from typing import Any

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm
from sklearn.metrics import precision_score

from charter.errors import InvalidInput
from charter.metrics import fairness, registry
from charter.metrics.fairness import GroupRates

Case = tuple[np.ndarray, np.ndarray, Any]


def _data(seed: int, groups: int, rows: int = 3000) -> Case:
    """Random labels whose base rate and selection rate differ by group (every group has both classes)."""
    rng = np.random.default_rng(seed)
    names = np.array([f"g{i:02d}" for i in range(groups)])
    sensitive = rng.choice(names, rows)
    index = np.searchsorted(names, sensitive)
    base = rng.uniform(0.2, 0.7, groups)[index]
    y_true = (rng.random(rows) < base).astype(int)
    hit = rng.uniform(0.5, 0.9, groups)[index]
    false_alarm = rng.uniform(0.05, 0.4, groups)[index]
    y_pred = np.where(y_true == 1, rng.random(rows) < hit, rng.random(rows) < false_alarm).astype(int)
    return y_true, y_pred, sensitive


def _intersectional(seed: int) -> Case:
    y_true, y_pred, sex = _data(seed, 2)
    age = np.random.default_rng(seed + 100).choice(np.array(["18-30", "31-50", "51+"]), len(y_true))
    return y_true, y_pred, [sex, age]


CASES: dict[str, Case] = {
    "2 groups": _data(1, 2),
    "3 groups": _data(2, 3),
    "10 groups": _data(3, 10),
    "intersectional": _intersectional(4),
}


def _fairlearn_sensitive(sensitive: Any) -> Any:
    """Intersectional columns as fairlearn takes them: a DataFrame."""
    if isinstance(sensitive, list):
        return pd.DataFrame({f"s{i}": column for i, column in enumerate(sensitive)})
    return sensitive


def _frame(case: Case, metrics: dict[str, Callable[..., Any]]) -> flm.MetricFrame:
    y_true, y_pred, sensitive = case
    return flm.MetricFrame(
        metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=_fairlearn_sensitive(sensitive)
    )


_precision = functools.partial(precision_score, zero_division=0)


# --- against fairlearn -----------------------------------------------------------------

ORACLES: list[tuple[str, Callable[..., float], Callable[[Case], float]]] = [
    (
        "demographic_parity_difference",
        fairness.demographic_parity_difference,
        lambda c: flm.demographic_parity_difference(c[0], c[1], sensitive_features=_fairlearn_sensitive(c[2])),
    ),
    (
        "demographic_parity_ratio",
        fairness.demographic_parity_ratio,
        lambda c: flm.demographic_parity_ratio(c[0], c[1], sensitive_features=_fairlearn_sensitive(c[2])),
    ),
    (
        "disparate_impact (no privileged group)",
        fairness.disparate_impact,
        lambda c: flm.demographic_parity_ratio(c[0], c[1], sensitive_features=_fairlearn_sensitive(c[2])),
    ),
    (
        "equalized_odds_difference",
        fairness.equalized_odds_difference,
        lambda c: flm.equalized_odds_difference(c[0], c[1], sensitive_features=_fairlearn_sensitive(c[2])),
    ),
    (
        "equalized_odds_ratio",
        fairness.equalized_odds_ratio,
        lambda c: flm.equalized_odds_ratio(c[0], c[1], sensitive_features=_fairlearn_sensitive(c[2])),
    ),
    (
        "equal_opportunity_difference",
        fairness.equal_opportunity_difference,
        lambda c: _frame(c, {"m": flm.true_positive_rate}).difference()["m"],
    ),
    (
        "predictive_parity_difference",
        fairness.predictive_parity_difference,
        lambda c: _frame(c, {"m": _precision}).difference()["m"],
    ),
]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("name", "ours", "oracle"), ORACLES, ids=[o[0] for o in ORACLES])
def test_gaps_equal_fairlearn(
    case: str, name: str, ours: Callable[..., float], oracle: Callable[[Case], float]
) -> None:
    y_true, y_pred, sensitive = CASES[case]
    got = ours(y_true, y_pred, sensitive=sensitive)
    assert isinstance(got, float)
    assert got == pytest.approx(float(oracle(CASES[case])), abs=1e-12, rel=0)


def _fairlearn_rates(case: Case) -> pd.DataFrame:
    metrics = {
        "count": flm.count,
        "selection_rate": flm.selection_rate,
        "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate,
        "fnr": flm.false_negative_rate,
        "tnr": flm.true_negative_rate,
        "precision": _precision,
    }
    return _frame(case, metrics).by_group


def _as_table(rates: list[GroupRates]) -> pd.DataFrame:
    columns = ["count", "selection_rate", "tpr", "fpr", "fnr", "tnr", "precision"]
    return pd.DataFrame({c: [getattr(r, c) for r in rates] for c in columns}, index=[r.group for r in rates])


@pytest.mark.parametrize("case", list(CASES))
def test_group_rates_equal_fairlearn_metric_frame(case: str) -> None:
    y_true, y_pred, sensitive = CASES[case]
    rates = fairness.group_rates(y_true, y_pred, sensitive=sensitive)
    expected = _fairlearn_rates(CASES[case])
    ours = _as_table(rates)
    assert list(ours.index) == list(expected.index)  # the same groups, in the same (sorted) order
    for column in ours.columns:
        np.testing.assert_allclose(ours[column].to_numpy(float), expected[column].to_numpy(float), rtol=0, atol=1e-12)
    for r in rates:
        in_group = (
            np.all([np.asarray(c) == g for c, g in zip(sensitive, r.group, strict=True)], axis=0)
            if isinstance(sensitive, list)
            else sensitive == r.group
        )
        assert r.base_rate == pytest.approx(y_true[in_group].mean(), abs=1e-12)


def test_intersectional_groups_are_tuples_of_labels() -> None:
    y_true, y_pred, sensitive = CASES["intersectional"]
    groups = [r.group for r in fairness.group_rates(y_true, y_pred, sensitive=sensitive)]
    assert groups == [(s, a) for s in ("g00", "g01") for a in ("18-30", "31-50", "51+")]
    frame = pd.DataFrame({"sex": sensitive[0], "age": sensitive[1]})
    for given_as in (frame, pl.from_pandas(frame), tuple(sensitive), [pd.Series(sensitive[0]), pa.array(sensitive[1])]):
        assert [r.group for r in fairness.group_rates(y_true, y_pred, sensitive=given_as)] == groups


def test_groups_without_positives_or_negatives_have_zero_rates_as_in_fairlearn() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    y_pred = np.array([1, 0, 0, 1, 0, 1, 0, 0])
    sensitive = np.array(["no positives"] * 3 + ["no negatives"] * 3 + ["mixed"] * 2)
    rates = {r.group: r for r in fairness.group_rates(y_true, y_pred, sensitive=sensitive)}
    assert (rates["no positives"].tpr, rates["no positives"].fnr) == (0.0, 0.0)
    assert (rates["no negatives"].fpr, rates["no negatives"].tnr) == (0.0, 0.0)
    assert rates["mixed"].precision == 0.0  # nothing predicted positive
    expected = _fairlearn_rates((y_true, y_pred, sensitive))
    pd.testing.assert_frame_equal(
        _as_table(list(rates.values())).sort_index().astype(float), expected.astype(float), check_names=False
    )


# --- by hand ---------------------------------------------------------------------------


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 10), (1, 1), (0, 1), (45, 100), (999, 1000), (17, 31)])
def test_selection_rate_interval_is_wilson(k: int, n: int) -> None:
    y_pred = [1] * k + [0] * (n - k)
    (rates,) = fairness.group_rates([0] * n, y_pred, sensitive=["a"] * n)
    assert rates.selection_rate_ci == pytest.approx(_wilson(k, n), abs=1e-12)
    low, high = rates.selection_rate_ci
    assert low <= rates.selection_rate <= high


def test_wilson_textbook_value() -> None:
    # 0 successes in 10 trials: the Wilson 95% interval is [0, 0.2775] (Newcombe 1998, table I).
    (rates,) = fairness.group_rates([0] * 10, [0] * 10, sensitive=["a"] * 10)
    assert rates.selection_rate_ci[0] == pytest.approx(0.0, abs=1e-12)
    assert rates.selection_rate_ci[1] == pytest.approx(0.2775, abs=5e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_wilson_equals_scipy(case: str) -> None:
    from scipy.stats import binomtest

    y_true, y_pred, sensitive = CASES[case]
    for r in fairness.group_rates(y_true, y_pred, sensitive=sensitive):
        k = round(r.selection_rate * r.count)
        interval = binomtest(k, r.count).proportion_ci(confidence_level=0.95, method="wilson")
        assert r.selection_rate_ci == pytest.approx((interval.low, interval.high), abs=1e-12)


def test_too_small_flags_groups_below_min_group_size() -> None:
    sensitive = ["a"] * 29 + ["b"] * 30
    rates = fairness.group_rates([0] * 59, [1] * 59, sensitive=sensitive)
    assert [(r.group, r.count, r.too_small) for r in rates] == [("a", 29, True), ("b", 30, False)]
    rates = fairness.group_rates([0] * 59, [1] * 59, sensitive=sensitive, min_group_size=5)
    assert not any(r.too_small for r in rates)


def _rates_by_hand(y_true: np.ndarray, y_pred: np.ndarray, rows: np.ndarray) -> tuple[float, float, float]:
    """Selection rate, TPR and FPR of the chosen rows."""
    t, p = y_true[rows], y_pred[rows]
    return p.mean(), p[t == 1].mean(), p[t == 0].mean()


@pytest.mark.parametrize("case", ["2 groups", "3 groups", "10 groups"])
def test_privileged_comparisons_pool_every_other_group(case: str) -> None:
    y_true, y_pred, sensitive = CASES[case]
    privileged = "g01"
    sel_p, tpr_p, fpr_p = _rates_by_hand(y_true, y_pred, sensitive == privileged)
    sel_u, tpr_u, fpr_u = _rates_by_hand(y_true, y_pred, sensitive != privileged)
    got = fairness.disparate_impact(y_true, y_pred, sensitive=sensitive, privileged=privileged)
    assert got == pytest.approx(sel_u / sel_p, abs=1e-12)
    got = fairness.average_odds_difference(y_true, y_pred, sensitive=sensitive, privileged=privileged)
    assert got == pytest.approx(((fpr_u - fpr_p) + (tpr_u - tpr_p)) / 2, abs=1e-12)


def test_average_odds_difference_small_example() -> None:
    # privileged "p": TPR 1/2, FPR 1/2; unprivileged "u": TPR 1, FPR 0.
    y_true = [1, 1, 0, 0, 1, 1, 0]
    y_pred = [1, 0, 1, 0, 1, 1, 0]
    sensitive = ["p", "p", "p", "p", "u", "u", "u"]
    assert fairness.average_odds_difference(y_true, y_pred, sensitive=sensitive, privileged="p") == 0.0
    assert fairness.average_odds_difference(y_true, [0, 0, 0, 0, 1, 1, 1], sensitive=sensitive, privileged="p") == 1.0
    assert fairness.disparate_impact(y_true, y_pred, sensitive=sensitive, privileged="p") == pytest.approx(4 / 3)


def test_intersectional_privileged_group_is_a_tuple() -> None:
    y_true, y_pred, sensitive = CASES["intersectional"]
    rows = (sensitive[0] == "g00") & (sensitive[1] == "31-50")
    sel_p, _, _ = _rates_by_hand(y_true, y_pred, rows)
    sel_u, _, _ = _rates_by_hand(y_true, y_pred, ~rows)
    for privileged in (("g00", "31-50"), ["g00", "31-50"]):
        got = fairness.disparate_impact(y_true, y_pred, sensitive=sensitive, privileged=privileged)
        assert got == pytest.approx(sel_u / sel_p, abs=1e-12)


@pytest.mark.parametrize(
    ("y_pred", "expected"),
    [([0, 0, 0, 0], 1.0), ([0, 0, 1, 0], math.inf)],
    ids=["nobody selected", "only the unprivileged selected"],
)
def test_disparate_impact_when_the_privileged_group_selects_nobody(y_pred: list[int], expected: float) -> None:
    got = fairness.disparate_impact([0, 1, 0, 1], y_pred, sensitive=["p", "p", "u", "u"], privileged="p")
    assert got == expected


def test_ratios_are_one_when_every_rate_is_zero() -> None:
    # fairlearn returns NaN here (0 / 0); every group is equal, so Charter says 1.0.
    sensitive = ["a", "a", "b", "b"]
    assert fairness.demographic_parity_ratio([0, 1, 0, 1], [0, 0, 0, 0], sensitive=sensitive) == 1.0
    assert fairness.equalized_odds_ratio([0, 0, 0, 0], [0, 0, 0, 1], sensitive=sensitive) == 0.0  # FPR 0 vs 1/2
    assert fairness.equalized_odds_ratio([0, 0, 0, 0], [0, 0, 0, 0], sensitive=sensitive) == 1.0


def test_one_group_has_no_gap() -> None:
    y_true, y_pred, _ = CASES["2 groups"]
    one = ["all"] * len(y_true)
    assert fairness.demographic_parity_difference(y_true, y_pred, sensitive=one) == 0.0
    assert fairness.demographic_parity_ratio(y_true, y_pred, sensitive=one) == 1.0
    assert fairness.equalized_odds_difference(y_true, y_pred, sensitive=one) == 0.0


def _theil_by_hand(y_true: list[int], y_pred: list[int]) -> float:
    benefits = [p - t + 1 for t, p in zip(y_true, y_pred, strict=True)]
    mu = sum(benefits) / len(benefits)
    return sum((b / mu) * math.log(b / mu) for b in benefits if b > 0) / len(benefits)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected"),
    [
        ([1, 0, 1, 0], [1, 1, 0, 0], math.log(2) / 2),  # benefits 1, 2, 0, 1: mu 1, terms 0, 2 ln 2, 0, 0
        ([1, 0, 1, 0], [1, 0, 1, 0], 0.0),  # everyone benefits 1
        ([1, 1], [0, 0], 0.0),  # everyone benefits 0 (mu = 0; AIF360 gives NaN)
        ([0, 0, 0], [1, 0, 0], (1.5 * math.log(1.5) + 2 * 0.75 * math.log(0.75)) / 3),  # benefits 2, 1, 1
        ([1, 0], [0, 1], math.log(2)),  # benefits 0 and 2: the maximum, ln(n)
    ],
)
def test_theil_index_by_hand(y_true: list[int], y_pred: list[int], expected: float) -> None:
    assert fairness.theil_index(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_theil_index_random(case: str) -> None:
    y_true, y_pred, _ = CASES[case]
    expected = _theil_by_hand(y_true.tolist(), y_pred.tolist())
    assert fairness.theil_index(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


# --- every input type ------------------------------------------------------------------

CONVERTERS: dict[str, Callable[[np.ndarray], Any]] = {
    "list": lambda a: a.tolist(),
    "numpy": lambda a: a,
    "pandas": pd.Series,
    "pandas category": lambda a: pd.Series(a, dtype="category"),
    "polars": pl.Series,
    "pyarrow": pa.array,
}

KERNELS: list[tuple[str, Callable[..., Any]]] = [
    ("group_rates", fairness.group_rates),
    ("demographic_parity_difference", fairness.demographic_parity_difference),
    ("demographic_parity_ratio", fairness.demographic_parity_ratio),
    ("disparate_impact", fairness.disparate_impact),
    ("disparate_impact privileged", functools.partial(fairness.disparate_impact, privileged="g01")),
    ("equalized_odds_difference", fairness.equalized_odds_difference),
    ("equalized_odds_ratio", fairness.equalized_odds_ratio),
    ("equal_opportunity_difference", fairness.equal_opportunity_difference),
    ("average_odds_difference", functools.partial(fairness.average_odds_difference, privileged="g01")),
    ("predictive_parity_difference", fairness.predictive_parity_difference),
    ("theil_index", lambda t, p, sensitive: fairness.theil_index(t, p)),
]


@pytest.mark.parametrize("kind", list(CONVERTERS))
@pytest.mark.parametrize(("name", "kernel"), KERNELS, ids=[k[0] for k in KERNELS])
def test_every_input_type_gives_the_same_numbers(kind: str, name: str, kernel: Callable[..., Any]) -> None:
    y_true, y_pred, sensitive = CASES["3 groups"]
    convert = CONVERTERS[kind]
    expected = kernel(y_true, y_pred, sensitive=sensitive)
    labels = convert(y_true) if kind != "pandas category" else pd.Series(y_true)
    predictions = convert(y_pred) if kind != "pandas category" else pd.Series(y_pred)
    assert kernel(labels, predictions, sensitive=convert(sensitive)) == expected
    assert kernel(y_true.astype(bool), y_pred.astype(float), sensitive=sensitive) == expected


@pytest.mark.parametrize(
    "sensitive",
    [[1, 2, 1, 2], np.array([1, 2, 1, 2]), pd.Series([1, 2, 1, 2]), pl.Series([1, 2, 1, 2]), pa.array([1, 2, 1, 2])],
    ids=["list", "numpy", "pandas", "polars", "pyarrow"],
)
def test_number_labels_come_back_as_python_ints(sensitive: Any) -> None:
    groups = [r.group for r in fairness.group_rates([0, 1, 0, 1], [0, 1, 1, 1], sensitive=sensitive)]
    assert groups == [1, 2]
    assert all(type(g) is int for g in groups)


def test_float_labels_take_the_general_path() -> None:
    rates = fairness.group_rates([0, 1, 0], [1, 1, 0], sensitive=[0.5, 1.5, 0.5])
    assert [(r.group, r.count) for r in rates] == [(0.5, 2), (1.5, 1)]


# --- the fast way and the general way --------------------------------------------------
#
# Common columns (bool or 0/1 integer outcomes; integer, bool or string labels without nulls)
# skip the general conversion and the sort over rows. These tests turn the fast way off and
# check that every input form still gives exactly the same groups, counts and rates.

OUTCOME_FORMS: dict[str, Callable[[np.ndarray], Any]] = {
    "bool": lambda a: a.astype(bool),
    "int8": lambda a: a.astype(np.int8),
    "uint8": lambda a: a.astype(np.uint8),
    "int64": lambda a: a.astype(np.int64),
    "float": lambda a: a.astype(float),
    "list": lambda a: a.tolist(),
    "pandas": pd.Series,
    "polars": pl.Series,
    "pyarrow": pa.array,
}

LABEL_FORMS: dict[str, Callable[[list[Any]], Any]] = {
    "list": list,
    "numpy": np.array,
    "object": lambda v: np.array(v, dtype=object),
    "pandas": pd.Series,
    "pandas category": lambda v: pd.Series(v, dtype="category"),
    "polars": pl.Series,
    "pyarrow": pa.array,
    "pyarrow chunked": lambda v: pa.chunked_array([pa.array(v)[: len(v) // 2], pa.array(v)[len(v) // 2 :]]),
    "pyarrow dictionary": lambda v: pa.array(v).dictionary_encode(),
}

LABEL_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "narrow ints": st.integers(-3, 3),  # one slot per value
    "wide ints": st.sampled_from([-(2**40), 0, 7, 2**40]),  # too wide for slots: np.unique
    "bools": st.booleans(),
    "strings": st.text(alphabet="ab\x00é ß", max_size=3),
}


@st.composite
def _labels(draw: st.DrawFn, n: int) -> tuple[str, list[Any]]:
    form = draw(st.sampled_from(list(LABEL_FORMS)))
    pool = draw(st.lists(LABEL_VALUES[draw(st.sampled_from(list(LABEL_VALUES)))], min_size=1, max_size=5, unique=True))
    return form, draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))


def _general_way(call: Callable[[], Any]) -> Any:
    """``call()`` with the fast way turned off: every input is converted and sorted the general way."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fairness, "_binary", lambda values: None)
        patch.setattr(fairness, "_plain_codes", lambda values: None)
        return call()


def _without_slots(call: Callable[[], Any]) -> Any:
    """``call()`` with integer labels and intersectional groups sorted by np.unique instead of given a slot each."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fairness, "_SPARE_SLOTS", -(2**62))
        return call()


def _label_types(rates: list[GroupRates]) -> list[Any]:
    return [tuple(map(type, r.group)) if isinstance(r.group, tuple) else type(r.group) for r in rates]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_fast_way_gives_what_the_general_way_gives(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40), label="rows")
    y_true, y_pred = (np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))) for _ in range(2))
    true_form, pred_form = (data.draw(st.sampled_from(list(OUTCOME_FORMS))) for _ in range(2))
    columns = [data.draw(_labels(n), label="labels") for _ in range(data.draw(st.integers(1, 2), label="columns"))]

    def call() -> tuple[list[GroupRates], float]:
        sensitive = [LABEL_FORMS[form](values) for form, values in columns]
        true, pred = OUTCOME_FORMS[true_form](y_true), OUTCOME_FORMS[pred_form](y_pred)
        rates = fairness.group_rates(true, pred, sensitive=sensitive[0] if len(sensitive) == 1 else sensitive)
        return rates, fairness.theil_index(true, pred)

    fast, general, sorted_ = call(), _general_way(call), _without_slots(call)
    assert fast == general == sorted_
    assert _label_types(fast[0]) == _label_types(general[0]) == _label_types(sorted_[0])


@pytest.mark.parametrize("kind", ["list", "object", "pandas", "polars", "pyarrow"])
def test_a_trailing_nul_makes_a_different_label(kind: str) -> None:
    # numpy's own strings cannot hold a trailing NUL; every other form keeps it, as the general way does.
    sensitive = LABEL_FORMS[kind](["a", "a\x00", "a"])
    assert [r.group for r in fairness.group_rates([0, 1, 1], [0, 1, 0], sensitive=sensitive)] == ["a", "a\x00"]


@pytest.mark.parametrize("dtype", [np.int8, np.uint64])
def test_integer_labels_at_the_ends_of_their_type(dtype: type[np.integer[Any]]) -> None:
    info = np.iinfo(dtype)
    sensitive = np.array([info.max, info.min, info.max], dtype=dtype)
    rates = fairness.group_rates([0, 1, 1], [0, 1, 0], sensitive=sensitive)
    assert [(r.group, r.count) for r in rates] == [(int(info.min), 1), (int(info.max), 2)]
    assert all(type(r.group) is int for r in rates)


# --- errors ----------------------------------------------------------------------------

ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "empty",
        lambda: fairness.demographic_parity_difference([], [], sensitive=[]),
        "y_true: no values; fairness metrics need at least one (y_true, y_pred, sensitive) row",
    ),
    (
        "empty theil",
        lambda: fairness.theil_index([], []),
        "y_true: no values; the Theil index needs at least one (y_true, y_pred) pair",
    ),
    (
        "y lengths",
        lambda: fairness.group_rates([0, 1], [0, 1, 1], sensitive=["a", "b"]),
        "the inputs must have the same length: y_true has 2, y_pred has 3",
    ),
    (
        "sensitive length",
        lambda: fairness.group_rates([0, 1], [0, 1], sensitive=["a", "b", "c"]),
        "the inputs must have the same length: y_true has 2, sensitive has 3",
    ),
    (
        "intersectional length",
        lambda: fairness.group_rates([0, 1], [0, 1], sensitive=[["a", "b"], ["x"]]),
        "the inputs must have the same length: y_true has 2, sensitive[1] has 1",
    ),
    (
        "non-binary y_true",
        lambda: fairness.equalized_odds_difference([0, 2, 1, 3], [0, 1, 1, 0], sensitive=["a"] * 4),
        "y_true: expected binary labels 0 and 1 (or False and True), got 2, 3",
    ),
    (
        "non-binary numpy y_true",
        lambda: fairness.group_rates(np.array([0, 2, 1, 1]), np.array([0, 1, 1, 0]), sensitive=np.array([1, 1, 2, 2])),
        "y_true: expected binary labels 0 and 1 (or False and True), got 2",
    ),
    (
        "negative int8 y_pred",
        lambda: fairness.theil_index(np.array([0, 1], dtype=np.int8), np.array([-1, 1], dtype=np.int8)),
        "y_pred: expected binary labels 0 and 1 (or False and True), got -1",
    ),
    (
        "missing pyarrow y_true",
        lambda: fairness.group_rates(pa.array([0, None, 1]), np.array([0, 1, 1]), sensitive=pa.array(["a", "b", "b"])),
        "y_true: 1 missing value(s) (NaN or null); fairness metrics need complete rows, so drop those rows first",
    ),
    (
        "non-binary y_pred",
        lambda: fairness.theil_index([0, 1], [0.5, 1]),
        "y_pred: expected binary labels 0 and 1 (or False and True), got 0.5",
    ),
    (
        "missing y_pred",
        lambda: fairness.group_rates([0, 1], [None, 1], sensitive=["a", "b"]),
        "y_pred: 1 missing value(s) (NaN or null); fairness metrics need complete rows, so drop those rows first",
    ),
    (
        "text y_true",
        lambda: fairness.group_rates(["yes", "no"], [0, 1], sensitive=["a", "b"]),
        "y_true: values must be numbers (could not convert string to float: 'yes')",
    ),
    (
        "missing group",
        lambda: fairness.group_rates([0, 1, 1], [0, 1, 1], sensitive=pd.Series(["a", None, np.nan])),
        "sensitive: 2 missing group label(s) (None, NaN or null); "
        "give those rows a label such as 'unknown', or drop them first",
    ),
    (
        "missing pyarrow group",
        lambda: fairness.group_rates(np.array([0, 1, 1]), np.array([0, 1, 1]), sensitive=pa.array(["a", None, "b"])),
        "sensitive: 1 missing group label(s) (None, NaN or null); "
        "give those rows a label such as 'unknown', or drop them first",
    ),
    (
        "missing intersectional group",
        lambda: fairness.group_rates([0, 1], [0, 1], sensitive=[["a", "b"], [1.0, np.nan]]),
        "sensitive[1]: 1 missing group label(s) (None, NaN or null); "
        "give those rows a label such as 'unknown', or drop them first",
    ),
    (
        "mixed labels",
        lambda: fairness.group_rates([0, 1], [0, 1], sensitive=["a", 1.5]),
        "sensitive: the group labels cannot be compared with each other "
        "('<' not supported between instances of 'float' and 'str'); "
        "give labels of one kind (all strings, or all numbers)",
    ),
    (
        "unknown privileged",
        lambda: fairness.disparate_impact([0, 1], [0, 1], sensitive=["a", "b"], privileged="c"),
        "privileged: 'c' is not one of the groups ('a', 'b')",
    ),
    (
        "only privileged",
        lambda: fairness.average_odds_difference([0, 1], [0, 1], sensitive=["a", "a"], privileged="a"),
        "privileged: every row is in the privileged group 'a'; the comparison needs at least one row in another group",
    ),
    (
        "min_group_size",
        lambda: fairness.group_rates([0, 1], [0, 1], sensitive=["a", "b"], min_group_size=-1),
        "min_group_size: must be a whole number of at least 0, got -1",
    ),
]


@pytest.mark.parametrize(("name", "call", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_parameter(name: str, call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$") as caught:
        call()
    assert caught.value.code == "input.invalid"


# --- invariants ------------------------------------------------------------------------


@st.composite
def _rows(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 60))
    bits = st.lists(st.integers(0, 1), min_size=n, max_size=n)
    groups = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
    return np.array(draw(bits)), np.array(draw(bits)), np.array(groups)


RATIOS = [fairness.demographic_parity_ratio, fairness.disparate_impact, fairness.equalized_odds_ratio]
DIFFERENCES = [
    fairness.demographic_parity_difference,
    fairness.equalized_odds_difference,
    fairness.equal_opportunity_difference,
    fairness.predictive_parity_difference,
]


@settings(max_examples=200, deadline=None)
@given(_rows())
def test_ratios_lie_in_zero_one_and_differences_are_not_negative(case: Case) -> None:
    y_true, y_pred, sensitive = case
    for ratio in RATIOS:
        assert 0.0 <= ratio(y_true, y_pred, sensitive=sensitive) <= 1.0
    for difference in DIFFERENCES:
        assert 0.0 <= difference(y_true, y_pred, sensitive=sensitive) <= 1.0
    assert 0.0 <= fairness.theil_index(y_true, y_pred) <= math.log(len(y_true)) + 1e-12
    privileged = sensitive[0]
    if (sensitive != privileged).any():
        assert -1.0 <= fairness.average_odds_difference(y_true, y_pred, sensitive=sensitive, privileged=privileged) <= 1
    rates = fairness.group_rates(y_true, y_pred, sensitive=sensitive)
    assert sum(r.count for r in rates) == len(y_true)
    for r in rates:
        assert r.selection_rate_ci[0] <= r.selection_rate <= r.selection_rate_ci[1]


# --- registration ----------------------------------------------------------------------

EXPECTED = {
    "fairness.average_odds_difference": ("higher_is_worse", 0.1),
    "fairness.demographic_parity_difference": ("higher_is_worse", 0.1),
    "fairness.demographic_parity_ratio": ("higher_is_better", 0.8),
    "fairness.disparate_impact": ("higher_is_better", 0.8),
    "fairness.equal_opportunity_difference": ("higher_is_worse", 0.1),
    "fairness.equalized_odds_difference": ("higher_is_worse", 0.1),
    "fairness.equalized_odds_ratio": ("higher_is_better", 0.8),
    "fairness.predictive_parity_difference": ("higher_is_worse", 0.1),
    "fairness.theil_index": ("higher_is_worse", None),
}


def test_every_fairness_metric_is_registered_and_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "MODULES", ("charter.metrics.fairness",))
    metrics = {i: m for i, m in registry.all_metrics().items() if i.startswith("fairness.")}
    assert {i: (m.direction, m.threshold) for i, m in metrics.items()} == EXPECTED
    for metric_id, metric in metrics.items():
        assert metric.summary.strip(), metric_id
        assert metric_id in (fairness.__doc__ or ""), f"{metric_id} is missing from the fairness module docstring"
        assert metric.function is getattr(fairness, metric_id.split(".")[1])
    assert "absolute value" in metrics["fairness.average_odds_difference"].summary


# --- confusion counts: what a window keeps --------------------------------------------------


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.sampled_from(["a", "b", "c"])), max_size=40), st.data()
)
def test_confusion_counts_merge_exactly_over_any_split(rows: list[tuple[int, int, str]], data: Any) -> None:
    cut = data.draw(st.integers(0, len(rows)))

    def counts(part: list[tuple[int, int, str]]) -> fairness.ConfusionCounts:
        if not part:
            return fairness.ConfusionCounts((), (), (), (), ())
        true, pred, group = zip(*part, strict=True)
        return fairness.confusion_counts(list(true), list(pred), sensitive=list(group))

    whole = counts(rows)
    assert counts(rows[:cut]).merge(counts(rows[cut:])) == whole
    assert fairness.ConfusionCounts.from_dict(json.loads(json.dumps(whole.to_dict()))) == whole


def test_metrics_from_counts_equal_the_kernels() -> None:
    generator = np.random.default_rng(3)
    y_true, y_pred = generator.integers(0, 2, 3000), generator.integers(0, 2, 3000)
    sex, band = generator.choice(["F", "M"], 3000), generator.choice(["18-30", "31-60", "61+"], 3000)
    for sensitive in (sex, [sex, band]):
        counts = fairness.ConfusionCounts.from_dict(
            json.loads(json.dumps(fairness.confusion_counts(y_true, y_pred, sensitive=sensitive).to_dict()))
        )
        assert counts.group_rates() == fairness.group_rates(y_true, y_pred, sensitive=sensitive)
        for metric_id, metric in registry.all_metrics().items():
            if not metric_id.startswith("fairness."):
                continue
            options = {"privileged": counts.groups[0]} if metric_id == "fairness.average_odds_difference" else {}
            expected = (
                metric.function(y_true, y_pred)
                if metric_id == "fairness.theil_index"
                else metric.function(y_true, y_pred, sensitive=sensitive, **options)
            )
            assert counts.metric(metric_id, **options) == pytest.approx(expected, abs=1e-12), metric_id
    whole = fairness.confusion_counts(y_true, y_pred)
    assert whole.groups == ("all",)
    assert whole.performance() == pytest.approx(
        {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "precision": skm.precision_score(y_true, y_pred),
            "recall": skm.recall_score(y_true, y_pred),
            "f1": skm.f1_score(y_true, y_pred),
        },
        abs=1e-12,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"groups": ["a"]}, "not confusion counts"),
        ({"groups": ["a"], "tn": [1], "fp": [1], "fn": [1], "tp": [1, 2]}, "not confusion counts"),
        ({"groups": ["a"], "tn": [-1], "fp": [0], "fn": [0], "tp": [0]}, "a count is negative"),
    ],
)
def test_bad_stored_counts_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        fairness.ConfusionCounts.from_dict(data)
    with pytest.raises(InvalidInput, match=r"no fairness metric 'fairness\.vibes'"):
        fairness.confusion_counts([1], [1]).metric("fairness.vibes")
