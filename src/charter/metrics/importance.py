"""Feature importance from attributions: profiles, shares, top-k, and how much of it rests on protected data.

The kernels behind explanations (docs/explainability.md). An *attribution* is one feature's
contribution to one prediction (a SHAP or LIME value); a feature's *importance* is the mean of
its absolute attributions over the rows explained; its *share* is its importance over the sum of
all importances, so shares sum to 1 and compare models whose outputs have different scales.

A *proxy* of a protected attribute is a feature that carries the attribute's information even
when the attribute itself is not an input: here, a numeric feature whose absolute Pearson
correlation with the attribute is at least :data:`PROXY_THRESHOLD` (for an attribute held as
categories, with the indicator of any one of its values, the largest). Correlation finds linear
proxies only; a gate that needs more should supply its own list.

Pure: arrays in, numbers out; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics.inputs import as_float_array, as_label_array

FloatArray = npt.NDArray[np.float64]

#: |Pearson r| from which a feature counts as a proxy of a protected attribute.
PROXY_THRESHOLD = 0.5
#: Categories of a protected attribute checked for proxies (the most frequent ones).
PROXY_MAX_CATEGORIES = 20
#: Fewer rows than this and correlations are noise: no proxies are reported.
PROXY_MIN_ROWS = 30


@dataclass(frozen=True)
class Proxy:
    """A feature that stands in for a protected attribute: which one, and how strongly."""

    feature: str
    attribute: str
    correlation: float  # signed Pearson r (with the category's indicator for a categorical attribute)
    category: str | None = None  # the attribute's value whose indicator correlates, when it is categorical


def mean_abs_attribution(attributions: Any) -> FloatArray:
    """Mean |attribution| per feature (column) of an (n, k) matrix; NaN cells (rows not explained) are skipped.

    A feature with no value at all gets 0.
    """
    matrix = np.asarray(attributions, dtype=np.float64)
    if matrix.ndim != 2:
        raise InvalidInput(f"attributions: expected a matrix of rows x features, got shape {matrix.shape}")
    absolute = np.abs(matrix)
    valid = ~np.isnan(absolute)
    counts = valid.sum(axis=0)
    sums = np.where(valid, absolute, 0.0).sum(axis=0)
    return np.asarray(np.divide(sums, counts, out=np.zeros(matrix.shape[1]), where=counts > 0), dtype=np.float64)


def importance_shares(importance: Any) -> FloatArray:
    """Importances normalised to sum to 1 (all zeros stay zeros: nothing to share)."""
    values = as_float_array(importance, name="importance")
    if np.isnan(values).any() or (values < 0).any():
        raise InvalidInput("importance: values must be non-negative numbers (mean |attribution|)")
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def top_features(features: Sequence[str], importance: Any, *, k: int | None = None) -> list[str]:
    """Feature names by importance, largest first (ties by name, so the order is stable); the first ``k``."""
    values = as_float_array(importance, name="importance")
    if len(values) != len(features):
        raise InvalidInput(f"importance: {len(values)} values for {len(features)} features")
    order = sorted(range(len(features)), key=lambda i: (-values[i], features[i]))
    ranked = [features[i] for i in order]
    return ranked if k is None else ranked[: max(k, 0)]


def protected_share(shares: Mapping[str, float], protected: Iterable[str]) -> float:
    """The share of importance on the features named in ``protected`` (those that are features)."""
    return float(sum(shares.get(name, 0.0) for name in set(protected)))


def first_protected_rank(ranked: Sequence[str], protected: Iterable[str]) -> int | None:
    """The 1-based rank of the most important protected feature in ``ranked``; None when there is none."""
    wanted = set(protected)
    return next((rank for rank, name in enumerate(ranked, start=1) if name in wanted), None)


def find_proxies(
    features: Mapping[str, Any],
    attributes: Mapping[str, Any],
    *,
    threshold: float = PROXY_THRESHOLD,
) -> dict[str, Proxy]:
    """Features that are proxies of a protected attribute (module docstring); feature -> its strongest link.

    ``features`` maps numeric feature names to their values, ``attributes`` protected attribute
    names to theirs (numbers or categories), all of the same rows. A feature that *is* one of the
    attributes is not its own proxy. Rows where either value is missing are left out of each pair.
    """
    if not 0 < threshold <= 1:
        raise InvalidInput(f"threshold: {threshold!r} must be in (0, 1]")
    columns = {name: as_float_array(values, name=f"feature {name}") for name, values in features.items()}
    lengths = {len(v) for v in columns.values()}
    encoded = {name: _indicators(values, name) for name, values in attributes.items()}
    lengths |= {len(i) for parts in encoded.values() for _, i in parts}
    if len(lengths) > 1:
        raise InvalidInput(f"features and attributes must have the same rows, got lengths {sorted(lengths)}")
    found: dict[str, Proxy] = {}
    for feature, values in columns.items():
        for attribute, parts in encoded.items():
            if attribute == feature:
                continue
            for category, indicator in parts:
                r = _pearson(values, indicator)
                if r is None or abs(r) < threshold:
                    continue
                current = found.get(feature)
                if current is None or abs(r) > abs(current.correlation):
                    found[feature] = Proxy(feature, attribute, r, category)
    return found


def _indicators(values: Any, name: str) -> list[tuple[str | None, FloatArray]]:
    """A numeric attribute as itself; a categorical one as one 0/1 column per frequent value (NaN when missing)."""
    try:
        return [(None, as_float_array(values, name=f"attribute {name}"))]
    except InvalidInput:
        labels = as_label_array(values, name=f"attribute {name}")
    missing = np.array([v is None for v in labels])
    text = np.array(["" if v is None else str(v) for v in labels], dtype=object)
    kept, counts = np.unique(text[~missing], return_counts=True)
    frequent = [str(v) for _, v in sorted(zip(-counts, kept, strict=True))][:PROXY_MAX_CATEGORIES]
    parts: list[tuple[str | None, FloatArray]] = []
    for category in frequent:
        indicator = (text == category).astype(np.float64)
        indicator[missing] = np.nan
        parts.append((category, indicator))
    return parts


def _pearson(a: FloatArray, b: FloatArray) -> float | None:
    both = ~(np.isnan(a) | np.isnan(b))
    if both.sum() < PROXY_MIN_ROWS:
        return None
    x, y = a[both], b[both]
    x, y = x - x.mean(), y - y.mean()
    scale = float(np.sqrt((x * x).sum() * (y * y).sum()))
    if scale == 0.0 or not np.isfinite(scale):
        return None
    return float((x * y).sum() / scale)
