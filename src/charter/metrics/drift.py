"""Drift between a reference sample and a current one: numeric tests and category-frequency distances.

Every kernel takes ``(reference, current)`` first (any of list, numpy array, pandas Series,
polars Series, pyarrow Array; the two may differ in length) and options keyword-only, and
returns a plain ``float`` or a small frozen dataclass. Missing values are dropped: None and
NaN (and ±inf) in numeric inputs, None and NaN in category labels. A side left empty raises
:class:`~charter.errors.InvalidInput` naming it.

Numeric kernels: :func:`psi`, :func:`ks`, :func:`wasserstein`. Category kernels (labels, or
numbers binned first when ``bins`` is given): :func:`jensen_shannon`, :func:`chi_square`,
:func:`z_test`, :func:`hellinger`, :func:`kl_divergence`, :func:`total_variation`,
:func:`l_infinity`. Frequencies are taken over the union of the two samples' categories;
``bins`` cuts numbers at the reference's quantiles, as :func:`psi` does.

Registered ids and default thresholds. The KS, chi-square, z-test, Wasserstein (normed),
Jensen-Shannon, Hellinger and KL defaults mirror Evidently's (tests: drift when p <= 0.05;
distances: drift when value >= threshold). The tests are registered as functions returning
their result; the threshold applies to its ``p_value``, hence ``higher_is_better``.

    drift.psi                 >= 0.1   (bands: < 0.1 none, 0.1-0.25 moderate, >= 0.25 major)
    drift.ks                  p <= 0.05
    drift.wasserstein_normed  >= 0.1   (wasserstein(..., normalised=True))
    drift.jensen_shannon      >= 0.1
    drift.chi_square          p <= 0.05
    drift.z_test              p <= 0.05
    drift.hellinger           >= 0.1
    drift.kl_divergence       >= 0.1   (Evidently's KL is KL(reference || current); ours is the reverse)
    drift.total_variation     none     (Evidently's "TVD" is a permutation-test p-value, not the distance)
    drift.l_infinity          none
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics.inputs import FloatArray, as_float_array, as_label_array, finite
from charter.metrics.registry import Direction, register

#: A column of values: list, numpy array, pandas Series, polars Series or pyarrow Array.
Column: TypeAlias = Any

#: Stands in for a zero proportion where a logarithm or a division needs it (psi, KL,
#: chi-square's expected counts), so an empty bin or an unseen category gives a large
#: finite value instead of inf.
EPSILON = 1e-6


@dataclass(frozen=True)
class KsResult:
    statistic: float
    p_value: float


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    p_value: float


@dataclass(frozen=True)
class ZTestResult:
    statistic: float
    p_value: float


# --- inputs ----------------------------------------------------------------------------


def _numbers(values: Column, *, name: str) -> FloatArray:
    array = finite(as_float_array(values, name=name))
    if array.size == 0:
        raise InvalidInput(f"{name} is empty: no finite values are left after dropping missing ones (None, NaN, inf)")
    return array


def _labels(values: Column, *, name: str) -> npt.NDArray[Any]:
    array = as_label_array(values, name=name)
    present: npt.NDArray[np.bool_] = array != None  # noqa: E711 (elementwise; as_label_array marks missing as None)
    array = array[present]
    if array.size == 0:
        raise InvalidInput(f"{name} is empty: no values are left after dropping missing ones (None, NaN)")
    return array


def _categories(reference: Column, current: Column) -> tuple[npt.NDArray[Any], FloatArray, FloatArray]:
    """The sorted union of categories, and each side's count of every one."""
    ref = _labels(reference, name="reference")
    cur = _labels(current, name="current")
    try:
        categories, inverse = np.unique(np.concatenate([ref, cur]), return_inverse=True)
    except TypeError as exc:
        raise InvalidInput(
            f"reference and current: the category labels cannot be compared with each other ({exc}); "
            "give labels of one kind (all strings, or all numbers)"
        ) from None
    inverse = inverse.reshape(-1)
    counts = [np.bincount(part, minlength=categories.size).astype(np.float64) for part in np.split(inverse, [ref.size])]
    return categories, counts[0], counts[1]


def quantile_edges(sorted_values: FloatArray, bins: int) -> FloatArray:
    """The inner edges that cut sorted values into ``bins`` quantile bins (duplicates collapsed).

    The quantiles are taken at ``i / bins`` (``np.quantile``'s linear method, see
    :func:`sorted_quantiles`); the outer two (minimum and maximum) are dropped, so the outer
    bins are open.
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise InvalidInput(f"bins must be a whole number of at least 1, got {bins!r}")
    probabilities = np.arange(int(bins) + 1, dtype=np.float64) / int(bins)
    return np.unique(sorted_quantiles(sorted_values, probabilities)[1:-1])


def sorted_quantiles(sorted_values: FloatArray, probabilities: FloatArray) -> FloatArray:
    """``np.quantile(values, probabilities)`` (linear method) for values already sorted, bit for bit.

    The virtual index is ``(n - 1) * q``; the result interpolates between the two order
    statistics around it the way numpy does (from the lower one when the fraction is below
    one half, from the upper one otherwise). Sorting once and reading the quantiles off is
    much faster than ``np.quantile`` when many quantiles are wanted.
    """
    n = sorted_values.size
    virtual = (n - 1) * probabilities
    below = np.floor(virtual)
    gamma = virtual - below
    lower = below.astype(np.intp)
    a = sorted_values[lower]
    b = sorted_values[np.minimum(lower + 1, n - 1)]
    difference = b - a
    result = a + difference * gamma
    upper_half = gamma >= 0.5
    result[upper_half] = (b - difference * (1 - gamma))[upper_half]
    return result


def _binned_counts(reference: FloatArray, current: FloatArray, bins: int) -> tuple[FloatArray, FloatArray]:
    """Counts per bin, the bins cut at the reference's quantiles (:func:`quantile_edges`).

    Bins are closed on the right, ``(a, b]``, as in ``pandas.qcut``, so the lowest bin holds
    everything up to the first inner edge.
    """
    inner = quantile_edges(np.sort(reference), bins)
    size = inner.size + 1
    ref = np.bincount(np.searchsorted(inner, reference, side="left"), minlength=size)
    cur = np.bincount(np.searchsorted(inner, current, side="left"), minlength=size)
    return ref.astype(np.float64), cur.astype(np.float64)


def _counts(reference: Column, current: Column, bins: int | None) -> tuple[FloatArray, FloatArray]:
    if bins is None:
        _, ref, cur = _categories(reference, current)
        return ref, cur
    return _binned_counts(_numbers(reference, name="reference"), _numbers(current, name="current"), bins)


def _proportions(reference: Column, current: Column, bins: int | None) -> tuple[FloatArray, FloatArray]:
    ref, cur = _counts(reference, current, bins)
    return ref / ref.sum(), cur / cur.sum()


def _floored(shares: FloatArray) -> FloatArray:
    """Zero proportions replaced by EPSILON (the others are left as they are)."""
    return np.where(shares > 0, shares, EPSILON)


def _relative_entropy(p: FloatArray, q: FloatArray) -> float:
    """sum(p * ln(p / q)) in nats, with 0 * ln(0 / q) = 0; q must be positive where p is."""
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


# --- numeric ---------------------------------------------------------------------------


def psi(reference: Column, current: Column, *, bins: int = 10) -> float:
    """Population stability index: ``sum((c - r) * ln(c / r))`` over reference-quantile bins.

    ``r`` and ``c`` are the reference's and current's share of each bin; the ``bins`` bins
    are cut at the reference's quantiles (outer edges open, duplicate edges collapsed, each
    bin closed on the right). A zero share counts as ``EPSILON`` (1e-6). Conventional bands:
    below 0.1 no drift, 0.1 to 0.25 moderate, 0.25 and above major. Not symmetric: the
    bins come from the reference.
    """
    return psi_from_counts(
        *_binned_counts(_numbers(reference, name="reference"), _numbers(current, name="current"), bins)
    )


def psi_from_counts(reference: FloatArray, current: FloatArray) -> float:
    """:func:`psi` from the two sides' counts per bin (the same bins on both sides)."""
    r = _floored(reference / reference.sum())
    c = _floored(current / current.sum())
    return float(np.sum((c - r) * np.log(c / r)))


def ks(reference: Column, current: Column) -> KsResult:
    """Two-sample two-sided Kolmogorov-Smirnov test.

    The statistic is exact (the largest gap between the two empirical CDFs). The p-value is
    the asymptotic one, as ``scipy.stats.ks_2samp(..., method="asymp")`` gives it:
    ``scipy.stats.kstwo.sf(statistic, round(n * m / (n + m)))`` (scipy supplies the
    Kolmogorov distribution), up to an effective size of 10,000; above, the limiting
    distribution with Stephens' correction (:func:`ks_p_value`). Note scipy's default
    ``method="auto"`` (and so Evidently) uses the exact p-value up to 10,000 values per side;
    the two differ noticeably only for small samples.
    """
    ref = np.sort(_numbers(reference, name="reference"))
    cur = np.sort(_numbers(current, name="current"))
    if ref.size == 1 and cur.size == 1:
        raise InvalidInput("reference and current have one value each: the KS p-value needs more values in either")
    both = np.concatenate([ref, cur])
    gaps = np.searchsorted(ref, both, side="right") / ref.size - np.searchsorted(cur, both, side="right") / cur.size
    statistic = float(np.max(np.abs(gaps)))
    return KsResult(statistic=statistic, p_value=ks_p_value(statistic, ref.size, cur.size))


#: Above this effective sample size the KS p-value comes from the limiting distribution (see ks_p_value).
KS_EXACT_UP_TO = 10_000


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """The asymptotic two-sided p-value of a two-sample KS statistic for samples of ``n`` and ``m`` values.

    Up to an effective size ``round(n * m / (n + m))`` of 10,000 it is scipy's
    ``kstwo.sf(statistic, effective size)``, as ``ks_2samp(method="asymp")`` computes it.
    Above, scipy's evaluation can take a second per call (for statistics whose p-value is
    small but not tiny), so the limiting Kolmogorov distribution is used with Stephens'
    correction, ``kstwobign.sf(statistic * (sqrt(N) + 0.12 + 0.11 / sqrt(N)))``: it differs from
    scipy's value by at most 1.3e-3 at N = 10,000, and by less as N grows. The limiting
    distribution is summed here (:func:`kolmogorov_sf`), so large windows never load scipy.
    """
    effective_n = float(np.round(n * m / (n + m)))
    if effective_n <= KS_EXACT_UP_TO:
        from scipy import stats  # loaded on first use: importing scipy.stats takes half a second

        p_value = float(stats.kstwo.sf(statistic, effective_n))
    else:
        root = math.sqrt(effective_n)
        p_value = kolmogorov_sf(statistic * (root + 0.12 + 0.11 / root))
    return float(np.clip(p_value, 0.0, 1.0))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (scipy's ``kstwobign.sf``), to about 1e-15.

    For x >= 1: ``2 * sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2)``; below, one minus the CDF's
    theta-function form ``sqrt(2 pi) / x * sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2))``. Both
    series converge within a few dozen terms in their ranges.
    """
    if x < 0.05:  # the CDF is below 1e-200 here (and x * x may underflow)
        return 1.0
    if x >= 1.0:
        k = np.arange(1, 101, dtype=np.float64)
        return float(min(1.0, max(0.0, 2 * np.sum((-1) ** (k - 1) * np.exp(-2 * k * k * x * x)))))
    k = np.arange(1, 101, dtype=np.float64)
    cdf = math.sqrt(2 * math.pi) / x * np.sum(np.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)))
    return float(min(1.0, max(0.0, 1.0 - cdf)))


def wasserstein(reference: Column, current: Column, *, normalised: bool = False) -> float:
    """1-D earth mover's distance: the area between the two empirical CDFs.

    With ``normalised=True`` it is divided by the reference's population standard deviation
    (``ddof=0``, as Evidently's ``np.std``), so it reads in reference standard deviations.
    Evidently floors that deviation at 0.001; a constant reference is an error here instead.
    """
    ref = np.sort(_numbers(reference, name="reference"))
    cur = np.sort(_numbers(current, name="current"))
    points = np.sort(np.concatenate([ref, cur]))
    left = points[:-1]
    gaps = np.searchsorted(ref, left, side="right") / ref.size - np.searchsorted(cur, left, side="right") / cur.size
    distance = float(np.sum(np.abs(gaps) * np.diff(points)))
    if not normalised:
        return distance
    if ref[0] == ref[-1]:
        raise InvalidInput(
            f"reference is constant (every value is {ref[0]:g}), so its standard deviation is 0 and the "
            "normalised Wasserstein distance is undefined; use normalised=False"
        )
    return distance / float(np.std(ref))


# --- categories ------------------------------------------------------------------------


def jensen_shannon(reference: Column, current: Column, *, bins: int | None = None) -> float:
    """Jensen-Shannon distance (the square root of the divergence, base 2), in [0, 1].

    The same number as ``scipy.spatial.distance.jensenshannon(r, c, base=2)`` on the two
    frequency vectors.
    """
    return jensen_shannon_from_counts(*_counts(reference, current, bins))


def jensen_shannon_from_counts(reference: FloatArray, current: FloatArray) -> float:
    """:func:`jensen_shannon` from the two sides' counts per category (the same categories on both)."""
    r, c = reference / reference.sum(), current / current.sum()
    middle = (r + c) / 2
    divergence = (_relative_entropy(r, middle) + _relative_entropy(c, middle)) / (2 * math.log(2))
    return math.sqrt(max(divergence, 0.0))


def chi_square(reference: Column, current: Column, *, bins: int | None = None) -> ChiSquareResult:
    """Chi-square goodness-of-fit of the current counts against the reference proportions.

    Expected counts are ``r * n_current`` over the union of categories, with ``k - 1``
    degrees of freedom. A category the reference never saw gets the share ``EPSILON``
    (1e-6) and the shares are rescaled to sum to 1, so the expected counts total the
    observed ones (as ``scipy.stats.chisquare`` requires) and a new category gives a large
    statistic rather than inf. One category in all: statistic 0, p-value 1. The p-value is
    ``scipy.stats.chi2.sf`` (scipy supplies the chi-square distribution).
    """
    return chi_square_from_counts(*_counts(reference, current, bins))


def chi_square_from_counts(reference: FloatArray, current: FloatArray) -> ChiSquareResult:
    """:func:`chi_square` from the two sides' counts per category (the same categories on both)."""
    if reference.size == 1:
        return ChiSquareResult(statistic=0.0, p_value=1.0)
    shares = _floored(reference / reference.sum())
    expected = shares / shares.sum() * current.sum()
    statistic = float(np.sum((current - expected) ** 2 / expected))
    from scipy import stats

    return ChiSquareResult(statistic=statistic, p_value=float(stats.chi2.sf(statistic, reference.size - 1)))


def z_test(reference: Column, current: Column) -> ZTestResult:
    """Two-proportion z-test (pooled variance, two-sided) for a binary column.

    The proportion tested is the share of True/1 when the categories are 0/1 or
    False/True, otherwise of the first category in sorted order. The statistic is
    ``(current share - reference share) / se``; the p-value ``erfc(|z| / sqrt(2))`` is
    ``2 * norm.sf(|z|)``. One category in all: statistic 0, p-value 1. More than two
    categories raises InvalidInput.
    """
    return z_test_from_counts(*_categories(reference, current))


def z_test_from_counts(categories: npt.NDArray[Any], ref: FloatArray, cur: FloatArray) -> ZTestResult:
    """:func:`z_test` from the sorted categories and the two sides' counts of each."""
    if categories.size > 2:
        seen = [name for name, counts in (("reference", ref), ("current", cur)) if np.count_nonzero(counts) > 2]
        where = f"{seen[0]} has" if seen else "reference and current together have"
        shown = ", ".join(repr(c) for c in categories[:5]) + (", ..." if categories.size > 5 else "")
        raise InvalidInput(
            f"{where} {categories.size} categories ({shown}); the z-test needs a binary column (at most two)"
        )
    if categories.size == 1:
        return ZTestResult(statistic=0.0, p_value=1.0)
    index = 1 if bool(categories[0] == 0) and bool(categories[1] == 1) else 0
    n_ref, n_cur = ref.sum(), cur.sum()
    pooled = (ref[index] + cur[index]) / (n_ref + n_cur)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    statistic = float((cur[index] / n_cur - ref[index] / n_ref) / se)
    return ZTestResult(statistic=statistic, p_value=math.erfc(abs(statistic) / math.sqrt(2)))


def hellinger(reference: Column, current: Column, *, bins: int | None = None) -> float:
    """Hellinger distance ``sqrt(sum((sqrt(r) - sqrt(c)) ** 2) / 2)``, in [0, 1]."""
    r, c = _proportions(reference, current, bins)
    return math.sqrt(float(np.sum((np.sqrt(r) - np.sqrt(c)) ** 2)) / 2)


def kl_divergence(reference: Column, current: Column, *, bins: int | None = None) -> float:
    """Kullback-Leibler divergence KL(current || reference) in nats: ``sum(c * ln(c / r))``.

    A category the reference never saw counts with ``r = EPSILON`` (1e-6, not rescaled),
    so it gives a large finite value rather than inf. Not symmetric.
    """
    r, c = _proportions(reference, current, bins)
    return _relative_entropy(c, _floored(r))


def total_variation(reference: Column, current: Column, *, bins: int | None = None) -> float:
    """Total variation distance ``sum(|r - c|) / 2``, in [0, 1]."""
    r, c = _proportions(reference, current, bins)
    return float(np.sum(np.abs(r - c))) / 2


def l_infinity(reference: Column, current: Column, *, bins: int | None = None) -> float:
    """The largest difference in any one category's share, ``max(|r - c|)``, in [0, 1]."""
    r, c = _proportions(reference, current, bins)
    return float(np.max(np.abs(r - c)))


# --- registration ----------------------------------------------------------------------

_P = "the threshold is on the result's p_value: drift when p_value <= 0.05 (Evidently's default)"
_D = "drift when >= 0.1 (Evidently's default)"
_WORSE: Direction = "higher_is_worse"
_BETTER: Direction = "higher_is_better"  # for the tests: the threshold applies to their p-value
_wasserstein_normed = functools.partial(wasserstein, normalised=True)
_METRICS: tuple[tuple[str, Callable[..., Any], Direction, float | None, str], ...] = (
    ("drift.psi", psi, _WORSE, 0.1, "Population stability index; < 0.1 none, 0.1-0.25 moderate, >= 0.25 major."),
    ("drift.ks", ks, _BETTER, 0.05, f"Two-sample Kolmogorov-Smirnov test of a numeric column; {_P}."),
    ("drift.wasserstein_normed", _wasserstein_normed, _WORSE, 0.1, f"Wasserstein distance in reference stds; {_D}."),
    ("drift.jensen_shannon", jensen_shannon, _WORSE, 0.1, f"Jensen-Shannon distance (base 2) of frequencies; {_D}."),
    ("drift.chi_square", chi_square, _BETTER, 0.05, f"Chi-square test against the reference proportions; {_P}."),
    ("drift.z_test", z_test, _BETTER, 0.05, f"Two-proportion z-test for a binary column; {_P}."),
    ("drift.hellinger", hellinger, _WORSE, 0.1, f"Hellinger distance of category frequencies; {_D}."),
    ("drift.kl_divergence", kl_divergence, _WORSE, 0.1, f"KL(current || reference) in nats; {_D}."),
    ("drift.total_variation", total_variation, _WORSE, None, "Total variation distance, in [0, 1]; no default."),
    ("drift.l_infinity", l_infinity, _WORSE, None, "Largest change in one category's share, in [0, 1]; no default."),
)
for _id, _function, _direction, _threshold, _summary in _METRICS:
    register(_id, _function, direction=_direction, threshold=_threshold, summary=_summary)
