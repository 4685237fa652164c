"""The drift kernels measured on summaries: a column's profile against a window's summary.

Each function returns the number the exact kernel in :mod:`charter.metrics.drift` would give
on the raw rows, or an estimate of it together with a bound on the difference:
``|estimate - exact| <= bound``.

- PSI: exact (its decile edges are among the profile's edges).
- Category tests and distances on a categorical column: exact.
- KS statistic: exact on an *exact* profile (every distinct reference value is an edge),
  because the reference's CDF is flat between edges. Otherwise the gap between the two CDFs
  is known exactly at every edge, and inside a cell it can move by at most the larger of the
  two sides' shares of that cell (cells that one side leaves empty cannot hide a larger gap):
  the bound is the largest such share. The p-value is computed from the estimate.
- Wasserstein: inside each cell both sides are taken as spread evenly (outer cells run to the
  window's minimum and maximum). The bound is ``sum(width * (r + c))`` over the cells, the
  most the spread could be wrong by; the true error is usually far smaller.
- A numeric column with few distinct values, tested as categories (chi-square, z-test,
  Jensen-Shannon): exact on an exact profile, unless a cell between two reference values
  holds more than one distinct unseen current value (they count as one category).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics import drift
from charter.metrics.drift import KsResult
from charter.metrics.inputs import FloatArray
from charter.metrics.summary import (
    CategoricalProfile,
    CategoricalSummary,
    ColumnProfile,
    NumericProfile,
    NumericSummary,
)


def _shares(profile: NumericProfile, current: NumericSummary) -> tuple[FloatArray, FloatArray]:
    reference = profile.reference.cells().astype(np.float64)
    window = current.cells().astype(np.float64)
    if window.size != reference.size:
        raise InvalidInput(f"the summary has {window.size} cells and the profile {reference.size}: not its profile")
    if window.sum() == 0:
        raise InvalidInput("current is empty: no finite values are left after dropping missing ones (None, NaN, inf)")
    return reference / reference.sum(), window / window.sum()


def psi(profile: NumericProfile, current: NumericSummary) -> float:
    """:func:`charter.metrics.drift.psi` (10 reference-quantile bins), exactly."""
    _shares(profile, current)  # checks the summary fits the profile and is not empty
    at = 2 * np.searchsorted(profile.edge_array(), np.asarray(profile.psi_edges)) + 1  # the cells "at each edge"

    def bins(summary: NumericSummary) -> FloatArray:
        cumulative = np.cumsum(summary.cells())
        return np.diff(np.concatenate([[0], cumulative[at], [cumulative[-1]]])).astype(np.float64)

    return drift.psi_from_counts(bins(profile.reference), bins(current))


def ks(profile: NumericProfile, current: NumericSummary) -> tuple[KsResult, float]:
    """The two-sample KS test and the bound on its statistic (0 on an exact profile)."""
    r, c = _shares(profile, current)
    n, m = profile.reference.count, current.count
    if n == 1 and m == 1:
        raise InvalidInput("reference and current have one value each: the KS p-value needs more values in either")
    statistic = float(np.max(np.abs(np.cumsum(r) - np.cumsum(c))))
    inside = slice(0, None, 2)  # the cells between edges
    hidden = np.where((r[inside] > 0) & (c[inside] > 0), np.maximum(r[inside], c[inside]), 0.0)
    bound = float(hidden.max())
    return KsResult(statistic=statistic, p_value=drift.ks_p_value(statistic, n, m)), bound


def wasserstein(profile: NumericProfile, current: NumericSummary, *, normalised: bool = False) -> tuple[float, float]:
    """The Wasserstein distance (optionally in reference standard deviations) and its bound."""
    r, c = _shares(profile, current)
    edges = profile.edge_array()
    low = min(edges[0], current.minimum if current.minimum is not None else edges[0])
    high = max(edges[-1], current.maximum if current.maximum is not None else edges[-1])
    widths = np.diff(np.concatenate([[low], edges, [high]]))  # of the cells between edges, below and above
    inside = slice(0, None, 2)
    gap_end = np.cumsum(r - c)  # the gap between the CDFs after each cell
    start = np.concatenate([[0.0], gap_end[1::2]])  # the gap where each cell between edges begins
    end = gap_end[inside]
    distance = float(np.sum(_area(start, end, widths)))
    bound = float(np.sum(widths * (r[inside] + c[inside])))
    if not normalised:
        return distance, bound
    if not profile.std:
        raise InvalidInput(
            f"reference is constant (every value is {profile.edges[0]:g}), so its standard deviation is 0 and the "
            "normalised Wasserstein distance is undefined; use normalised=False"
        )
    return distance / profile.std, bound / profile.std


def _area(start: FloatArray, end: FloatArray, widths: FloatArray) -> FloatArray:
    """The area under |g| where g runs linearly from ``start`` to ``end`` over ``widths``."""
    same_sign = start * end >= 0
    magnitude = np.abs(start) + np.abs(end)
    crossing = np.divide(start**2 + end**2, magnitude, out=np.zeros_like(magnitude), where=magnitude > 0)
    return widths * np.where(same_sign, magnitude, crossing) / 2


def categories(profile: ColumnProfile, current: Any) -> tuple[npt.NDArray[Any], FloatArray, FloatArray]:
    """The categories of both sides, sorted, with each side's count of every one.

    A numeric column's categories are its cells: the value at each edge, and the unseen values
    between edges, one category per cell (named by the window's minimum or maximum when the
    cell lies below or above the reference, else NaN).
    """
    if isinstance(profile, CategoricalProfile):
        if not isinstance(current, CategoricalSummary):
            raise InvalidInput("the summary of a categorical column must count labels")
        if current.count == 0:
            raise InvalidInput("current is empty: no values are left after dropping missing ones (None, NaN)")
        reference, window = profile.reference.as_dict(), current.as_dict()
        labels = [label for label, _ in profile.reference.merge(current).counts]
        return (
            np.array(labels, dtype=object),
            np.array([reference.get(label, 0) for label in labels], dtype=np.float64),
            np.array([window.get(label, 0) for label in labels], dtype=np.float64),
        )
    r, _ = _shares(profile, current)
    reference_cells, window_cells = profile.reference.cells(), current.cells()
    names = np.full(r.size, np.nan)
    names[1::2] = profile.edge_array()
    names[0] = np.nan if current.minimum is None else current.minimum
    names[-1] = np.nan if current.maximum is None else current.maximum
    used = (reference_cells > 0) | (window_cells > 0)
    return names[used], reference_cells[used].astype(np.float64), window_cells[used].astype(np.float64)


def score(test: str, profile: ColumnProfile, current: Any) -> tuple[float, float]:
    """A drift report's score for ``test`` (the p-value of a test, else the distance) and its bound."""
    if test in ("ks", "wasserstein_normed"):
        if not isinstance(profile, NumericProfile) or not isinstance(current, NumericSummary):
            raise InvalidInput(f"the {test} test needs a numeric column")
        if test == "ks":
            result, bound = ks(profile, current)
            return result.p_value, bound
        return wasserstein(profile, current, normalised=True)
    names, reference, window = categories(profile, current)
    if test == "chi_square":
        return drift.chi_square_from_counts(reference, window).p_value, 0.0
    if test == "z_test":
        return drift.z_test_from_counts(names, reference, window).p_value, 0.0
    if test == "jensen_shannon":
        return drift.jensen_shannon_from_counts(reference, window), 0.0
    raise InvalidInput(f"unknown test {test!r}")
