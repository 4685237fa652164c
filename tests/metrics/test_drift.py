"""Drift kernels: against scipy where scipy has the statistic, by hand where it does not, over every input type."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from charter.errors import InvalidInput
from charter.metrics import drift, registry
from charter.metrics.drift import EPSILON

Kernel = Callable[[Any, Any], Any]


def _value(result: Any) -> tuple[float, ...]:
    """A kernel's answer as a tuple of floats, whether it returned a float or a result dataclass."""
    if isinstance(result, float):
        return (result,)
    return (result.statistic, result.p_value)


def _numeric(seed: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if ties:
        return rng.integers(0, 8, 300).astype(float), rng.integers(1, 9, 230).astype(float)
    return rng.normal(0, 1, 400 + seed), rng.normal(0.15 * seed, 1 + 0.1 * seed, 350)


def _labels(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    categories = np.array(["a", "b", "c", "d", "e"])
    shift = rng.dirichlet(np.ones(5))
    return rng.choice(categories, 500), rng.choice(categories, 420 + seed, p=shift)


def _counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Test-side counts over the union of categories (the reference sees every one in these tests)."""
    categories = sorted(set(reference) | set(current))
    return (
        np.array([np.sum(reference == k) for k in categories], dtype=float),
        np.array([np.sum(current == k) for k in categories], dtype=float),
    )


def _qcut_counts(reference: np.ndarray, current: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference-quantile bin, cut by pandas (right-closed bins, outer edges open)."""
    inner = np.unique(np.quantile(reference, np.arange(bins + 1) / bins)[1:-1])
    edges = [-np.inf, *inner, np.inf]

    def count(values: np.ndarray) -> np.ndarray:
        return pd.Series(pd.cut(values, edges, right=True)).value_counts(sort=False).to_numpy(dtype=float)

    return count(reference), count(current)


# --- against scipy ---------------------------------------------------------------------

NUMERIC_ORACLES: list[tuple[str, Kernel, Kernel]] = [
    (
        "ks statistic",
        lambda r, c: drift.ks(r, c).statistic,
        lambda r, c: stats.ks_2samp(r, c, method="asymp").statistic,
    ),
    ("ks p-value", lambda r, c: drift.ks(r, c).p_value, lambda r, c: stats.ks_2samp(r, c, method="asymp").pvalue),
    ("wasserstein", drift.wasserstein, stats.wasserstein_distance),
    (
        "wasserstein normalised",
        lambda r, c: drift.wasserstein(r, c, normalised=True),
        lambda r, c: stats.wasserstein_distance(r, c) / np.std(r),
    ),
    (
        "jensen_shannon bins=10",
        lambda r, c: drift.jensen_shannon(r, c, bins=10),
        lambda r, c: distance.jensenshannon(*_qcut_counts(r, c, 10), base=2),
    ),
    (
        "hellinger bins=7",
        lambda r, c: drift.hellinger(r, c, bins=7),
        lambda r, c: distance.euclidean(*(np.sqrt(n / n.sum()) for n in _qcut_counts(r, c, 7))) / math.sqrt(2),
    ),
]

CATEGORY_ORACLES: list[tuple[str, Kernel, Kernel]] = [
    ("jensen_shannon", drift.jensen_shannon, lambda r, c: distance.jensenshannon(*_counts(r, c), base=2)),
    (
        "chi_square statistic",
        lambda r, c: drift.chi_square(r, c).statistic,
        lambda r, c: stats.chisquare(_counts(r, c)[1], _counts(r, c)[0] / len(r) * len(c)).statistic,
    ),
    (
        "chi_square p-value",
        lambda r, c: drift.chi_square(r, c).p_value,
        lambda r, c: stats.chisquare(_counts(r, c)[1], _counts(r, c)[0] / len(r) * len(c)).pvalue,
    ),
    ("kl_divergence", drift.kl_divergence, lambda r, c: stats.entropy(_counts(r, c)[1], _counts(r, c)[0])),
    (
        "hellinger",
        drift.hellinger,
        lambda r, c: distance.euclidean(*(np.sqrt(n / n.sum()) for n in _counts(r, c))) / math.sqrt(2),
    ),
    (
        "total_variation",
        drift.total_variation,
        lambda r, c: distance.cityblock(*(n / n.sum() for n in _counts(r, c))) / 2,
    ),
    ("l_infinity", drift.l_infinity, lambda r, c: distance.chebyshev(*(n / n.sum() for n in _counts(r, c)))),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("name", "kernel", "oracle"), NUMERIC_ORACLES, ids=[c[0] for c in NUMERIC_ORACLES])
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
def test_numeric_kernels_match_scipy(name: str, kernel: Kernel, oracle: Kernel, seed: int, ties: bool) -> None:
    reference, current = _numeric(seed, ties=ties)
    assert kernel(reference, current) == pytest.approx(float(oracle(reference, current)), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("name", "kernel", "oracle"), CATEGORY_ORACLES, ids=[c[0] for c in CATEGORY_ORACLES])
def test_category_kernels_match_scipy(name: str, kernel: Kernel, oracle: Kernel, seed: int) -> None:
    reference, current = _labels(seed)
    assert kernel(reference, current) == pytest.approx(float(oracle(reference, current)), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        ([True, False, True], [False, False, True]),
        (["no", "yes", "yes", "yes"], ["no", "no", "yes"]),
        ([0, 1, 1, 1, 0] * 40, [1, 1, 1, 1, 0] * 30),
    ],
)
def test_z_test_squared_is_the_uncorrected_chi_square_of_the_2x2_table(
    reference: list[Any], current: list[Any]
) -> None:
    result = drift.z_test(reference, current)
    table = np.array(_counts(np.array(reference, dtype=object), np.array(current, dtype=object)))
    oracle = stats.chi2_contingency(table, correction=False)
    assert result.statistic**2 == pytest.approx(oracle.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(result.statistic)), rel=1e-9)


@pytest.mark.parametrize(
    ("reference", "current", "statistic"),
    [
        ([True, False, True], [False, False, True], -math.sqrt(6) / 3),  # share of True: 2/3 -> 1/3
        ([1, 0, 1], [0, 0, 1], -math.sqrt(6) / 3),  # share of 1
        (["no", "yes", "yes"], ["no", "no", "yes"], math.sqrt(6) / 3),  # share of "no", first in sorted order
    ],
)
def test_z_test_sign_follows_the_current_minus_reference_share(
    reference: list[Any], current: list[Any], statistic: float
) -> None:
    assert drift.z_test(reference, current).statistic == pytest.approx(statistic, rel=1e-12)


# --- hand-computed values --------------------------------------------------------------

HAND: list[tuple[str, Kernel, Any, Any, float]] = [
    ("psi two bins", lambda r, c: drift.psi(r, c, bins=2), [1, 2, 3, 4], [1, 1, 1, 4], 0.25 * math.log(3)),
    (
        "psi empty current bin",
        lambda r, c: drift.psi(r, c, bins=2),
        [1, 2, 3, 4],
        [1, 1],
        0.5 * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5),
    ),
    (
        # quantiles 1, 1, 1, 1.25, 2 collapse to the bins (-inf, 1], (1, 1.25], (1.25, inf): reference 3, 0, 1
        "psi duplicate edges collapsed",
        lambda r, c: drift.psi(r, c, bins=4),
        [1, 1, 1, 2],
        [0, 1.1, 2, 2],
        (0.25 - 0.75) * math.log(0.25 / 0.75) + (0.25 - EPSILON) * math.log(0.25 / EPSILON) + 0.25 * math.log(2),
    ),
    ("hellinger", drift.hellinger, ["a", "b"], ["a", "a"], math.sqrt(1 - math.sqrt(2) / 2)),
    (
        "hellinger disjoint-ish",
        drift.hellinger,
        ["a", "a", "b", "c"],
        ["b", "c", "c", "d"],
        math.sqrt((0.5 + (0.5 - math.sqrt(0.5)) ** 2 + 0.25) / 2),
    ),
    ("total_variation", drift.total_variation, ["a", "b"], ["a", "a"], 0.5),
    ("total_variation 4 categories", drift.total_variation, ["a", "a", "b", "c"], ["b", "c", "c", "d"], 0.5),
    ("l_infinity", drift.l_infinity, ["a", "b"], ["a", "a"], 0.5),
    ("l_infinity 4 categories", drift.l_infinity, ["a", "a", "b", "c"], ["b", "c", "c", "d"], 0.5),
    ("l_infinity disjoint", drift.l_infinity, ["a"], ["b"], 1.0),
    ("jensen_shannon disjoint", drift.jensen_shannon, ["a"], ["b"], 1.0),
    (
        "kl_divergence unseen category",
        drift.kl_divergence,
        ["a", "a"],
        ["a", "b"],
        0.5 * math.log(0.5) + 0.5 * math.log(0.5 / EPSILON),
    ),
    (
        "wasserstein normalised",
        lambda r, c: drift.wasserstein(r, c, normalised=True),
        [0, 2],
        [1, 3],
        1.0,  # shifted by 1; population std of [0, 2] is 1
    ),
]


@pytest.mark.parametrize(("name", "kernel", "reference", "current", "expected"), HAND, ids=[c[0] for c in HAND])
def test_hand_computed_values(name: str, kernel: Kernel, reference: Any, current: Any, expected: float) -> None:
    assert kernel(reference, current) == pytest.approx(expected, rel=1e-12)


def test_chi_square_gives_an_unseen_category_epsilon_of_the_reference_share() -> None:
    shares = np.array([0.5, 0.5, EPSILON]) / (1 + EPSILON)
    oracle = stats.chisquare([1, 0, 1], shares * 2)
    result = drift.chi_square(["a", "a", "b", "b"], ["a", "c"])
    assert (result.statistic, result.p_value) == pytest.approx((oracle.statistic, oracle.pvalue), rel=1e-9)


def test_chi_square_with_bins_tests_the_reference_quantile_bins() -> None:
    reference, current = _numeric(2)
    ref, cur = _qcut_counts(reference, current, 5)
    oracle = stats.chisquare(cur, ref / ref.sum() * cur.sum())
    result = drift.chi_square(reference, current, bins=5)
    assert (result.statistic, result.p_value) == pytest.approx((oracle.statistic, oracle.pvalue), rel=1e-9)


# --- identical samples -----------------------------------------------------------------

NUMBERS = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
WORDS = ["x", "y", "x", "z", "y", "x"]
NUMERIC_KERNELS: list[tuple[str, Kernel]] = [
    ("psi", drift.psi),
    ("ks", drift.ks),
    ("wasserstein", drift.wasserstein),
    ("wasserstein normalised", lambda r, c: drift.wasserstein(r, c, normalised=True)),
    ("jensen_shannon bins", lambda r, c: drift.jensen_shannon(r, c, bins=4)),
    ("chi_square bins", lambda r, c: drift.chi_square(r, c, bins=4)),
    ("hellinger bins", lambda r, c: drift.hellinger(r, c, bins=4)),
    ("kl_divergence bins", lambda r, c: drift.kl_divergence(r, c, bins=4)),
    ("total_variation bins", lambda r, c: drift.total_variation(r, c, bins=4)),
    ("l_infinity bins", lambda r, c: drift.l_infinity(r, c, bins=4)),
]
CATEGORY_KERNELS: list[tuple[str, Kernel]] = [
    ("jensen_shannon", drift.jensen_shannon),
    ("chi_square", drift.chi_square),
    ("z_test", drift.z_test),
    ("hellinger", drift.hellinger),
    ("kl_divergence", drift.kl_divergence),
    ("total_variation", drift.total_variation),
    ("l_infinity", drift.l_infinity),
]


def _identical_answer(result: Any) -> tuple[float, ...]:
    return (0.0, 1.0) if len(_value(result)) == 2 else (0.0,)


@pytest.mark.parametrize(("name", "kernel"), NUMERIC_KERNELS, ids=[c[0] for c in NUMERIC_KERNELS])
def test_identical_numeric_samples_show_no_drift(name: str, kernel: Kernel) -> None:
    result = kernel(NUMBERS, NUMBERS[::-1])
    assert _value(result) == pytest.approx(_identical_answer(result), abs=1e-12)


@pytest.mark.parametrize(("name", "kernel"), CATEGORY_KERNELS, ids=[c[0] for c in CATEGORY_KERNELS])
def test_identical_category_samples_show_no_drift(name: str, kernel: Kernel) -> None:
    labels = ["no", "yes", "yes"] if name == "z_test" else WORDS
    result = kernel(labels, labels[::-1])
    assert _value(result) == pytest.approx(_identical_answer(result), abs=1e-12)


@pytest.mark.parametrize("kernel", [drift.chi_square, drift.z_test])
def test_tests_over_a_single_category_give_no_drift(kernel: Kernel) -> None:
    assert _value(kernel(["a", "a"], ["a"])) == (0.0, 1.0)


# --- input types and missing values ----------------------------------------------------

CONVERTERS: list[tuple[str, Callable[[list[Any]], Any]]] = [
    ("list", list),
    ("numpy", lambda v: np.array(v, dtype=object if any(x is None for x in v) else None)),
    ("pandas", pd.Series),
    ("polars", pl.Series),
    ("pyarrow", pa.array),
]


@pytest.mark.parametrize(("type_name", "convert"), CONVERTERS, ids=[c[0] for c in CONVERTERS])
@pytest.mark.parametrize(("name", "kernel"), NUMERIC_KERNELS, ids=[c[0] for c in NUMERIC_KERNELS])
def test_numeric_kernels_give_the_same_number_for_every_input_type(
    name: str, kernel: Kernel, type_name: str, convert: Callable[[list[Any]], Any]
) -> None:
    reference, current = (a.tolist() for a in _numeric(4))
    expected = _value(kernel(reference, current))
    assert _value(kernel(convert(reference), convert(current))) == pytest.approx(expected, rel=1e-12)
    with_missing = _value(kernel(convert([None, *reference]), convert([*current, None])))
    assert with_missing == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("type_name", "convert"), CONVERTERS, ids=[c[0] for c in CONVERTERS])
@pytest.mark.parametrize(("name", "kernel"), CATEGORY_KERNELS, ids=[c[0] for c in CATEGORY_KERNELS])
def test_category_kernels_give_the_same_number_for_every_input_type(
    name: str, kernel: Kernel, type_name: str, convert: Callable[[list[Any]], Any]
) -> None:
    reference, current = (a.tolist() for a in _labels(4))
    if name == "z_test":
        reference, current = ([w in "ab" for w in side] for side in (reference, current))
    expected = _value(kernel(reference, current))
    assert _value(kernel(convert(reference), convert(current))) == pytest.approx(expected, rel=1e-12)
    with_missing = _value(kernel(convert([None, *reference]), convert([*current, None])))
    assert with_missing == pytest.approx(expected, rel=1e-12)


def test_nan_is_dropped_like_none() -> None:
    assert drift.ks([1.0, np.nan, 2.0, 3.0], [2.5, 4.0]) == drift.ks([1.0, 2.0, 3.0], [2.5, 4.0])
    assert drift.hellinger(["a", float("nan"), "b"], pd.Series(["a", None])) == drift.hellinger(["a", "b"], ["a"])


# --- errors ----------------------------------------------------------------------------

NUMERIC_EMPTY = "is empty: no finite values are left after dropping missing ones (None, NaN, inf)"
LABELS_EMPTY = "is empty: no values are left after dropping missing ones (None, NaN)"
EMPTY_CASES = [(name, kernel, NUMERIC_EMPTY) for name, kernel in NUMERIC_KERNELS] + [
    (name, kernel, LABELS_EMPTY) for name, kernel in CATEGORY_KERNELS
]


@pytest.mark.parametrize(("name", "kernel", "message"), EMPTY_CASES, ids=[c[0] for c in EMPTY_CASES])
@pytest.mark.parametrize("side", ["reference", "current"])
def test_an_empty_side_is_refused_by_name(name: str, kernel: Kernel, message: str, side: str) -> None:
    data: list[Any] = [1, 0, 1] if name == "z_test" else [1.0, 2.0, 3.0] if message == NUMERIC_EMPTY else ["a", "b"]
    missing: list[Any] = [None, float("nan")]
    args = (missing, data) if side == "reference" else (data, missing)
    with pytest.raises(InvalidInput, match=f"^{re.escape(f'{side} {message}')}$") as caught:
        kernel(*args)
    assert caught.value.code == "input.invalid"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: drift.z_test(["a", "b", "c"], ["a"]),
            "reference has 3 categories ('a', 'b', 'c'); the z-test needs a binary column (at most two)",
        ),
        (
            lambda: drift.z_test([0, 1], [0, 1, 2, 3, 4, 5]),
            "current has 6 categories (0, 1, 2, 3, 4, ...); the z-test needs a binary column (at most two)",
        ),
        (
            lambda: drift.z_test(["a", "b"], ["c"]),
            "reference and current together have 3 categories ('a', 'b', 'c'); "
            "the z-test needs a binary column (at most two)",
        ),
        (
            lambda: drift.wasserstein([2, 2, 2], [1, 3], normalised=True),
            "reference is constant (every value is 2), so its standard deviation is 0 and the normalised "
            "Wasserstein distance is undefined; use normalised=False",
        ),
        (
            lambda: drift.ks([1.0], [2.0]),
            "reference and current have one value each: the KS p-value needs more values in either",
        ),
        (lambda: drift.psi([1, 2], [1, 2], bins=0), "bins must be a whole number of at least 1, got 0"),
        (lambda: drift.hellinger([1, 2], [1, 2], bins=2.5), "bins must be a whole number of at least 1, got 2.5"),
        (
            lambda: drift.total_variation(["a", 1], ["a"]),
            "reference and current: the category labels cannot be compared with each other "
            "('<' not supported between instances of 'int' and 'str'); give labels of one kind "
            "(all strings, or all numbers)",
        ),
    ],
)
def test_invalid_inputs_are_refused_with_a_message_naming_the_fix(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        call()


# --- properties ------------------------------------------------------------------------

labels = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=40)
numbers = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40)


@given(labels, labels)
def test_category_distances_are_non_negative_bounded_and_symmetric(reference: list[str], current: list[str]) -> None:
    for kernel in (drift.jensen_shannon, drift.hellinger, drift.total_variation, drift.l_infinity):
        value = kernel(reference, current)
        assert 0.0 <= value <= 1.0 + 1e-12
        assert value == pytest.approx(kernel(current, reference), abs=1e-12)


@given(numbers, numbers, st.integers(1, 20))
def test_psi_and_binned_distances_are_non_negative(reference: list[float], current: list[float], bins: int) -> None:
    assert drift.psi(reference, current, bins=bins) >= 0.0
    for kernel in (drift.jensen_shannon, drift.hellinger, drift.total_variation, drift.l_infinity):
        assert kernel(reference, current, bins=bins) >= 0.0


# --- registry --------------------------------------------------------------------------

EXPECTED_THRESHOLDS: dict[str, float | None] = {
    "drift.psi": 0.1,
    "drift.ks": 0.05,
    "drift.wasserstein_normed": 0.1,
    "drift.jensen_shannon": 0.1,
    "drift.chi_square": 0.05,
    "drift.z_test": 0.05,
    "drift.hellinger": 0.1,
    "drift.kl_divergence": 0.1,
    "drift.total_variation": None,
    "drift.l_infinity": None,
}


def test_every_drift_kernel_is_registered_and_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    # Load only the drift module: the registry's other kernel modules have tests of their own.
    monkeypatch.setattr(registry, "MODULES", ("charter.metrics.drift",))
    metrics = {i: m for i, m in registry.all_metrics().items() if i.startswith("drift.")}
    assert {i: m.threshold for i, m in metrics.items()} == EXPECTED_THRESHOLDS
    for metric_id, metric in metrics.items():
        assert metric.summary.strip(), metric_id
        assert metric_id in (drift.__doc__ or ""), f"{metric_id} is missing from the drift module docstring"
        assert callable(metric.function)
    kernels = {getattr(m.function, "func", m.function) for m in metrics.values()}
    public = {drift.psi, drift.ks, drift.wasserstein, drift.jensen_shannon, drift.chi_square, drift.z_test}
    public |= {drift.hellinger, drift.kl_divergence, drift.total_variation, drift.l_infinity}
    assert kernels == public
    reference, current = _numeric(1)
    normed = metrics["drift.wasserstein_normed"].function(reference, current)
    assert normed == drift.wasserstein(reference, current, normalised=True)


@pytest.mark.parametrize("n", [10_001, 50_000, 400_000])
def test_large_samples_take_the_limiting_ks_distribution(n: int) -> None:
    for statistic in np.linspace(0.0, 12 / math.sqrt(n), 25):
        ours = drift.ks_p_value(float(statistic), 2 * n, 2 * n)  # effective size n
        assert abs(ours - stats.kstwo.sf(statistic, n)) <= 1.3e-3
    assert drift.ks_p_value(0.2, 5000, 5000) == stats.kstwo.sf(0.2, 2500)  # scipy's own up to 10,000


@given(st.floats(0.0, 12.0))
def test_the_kolmogorov_tail_matches_scipy(x: float) -> None:
    from charter.metrics.drift import kolmogorov_sf

    assert kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), abs=1e-12)
