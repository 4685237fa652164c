"""Window summaries: exact cells, exact merges over any split, round trips, and drift measured on them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from charter.errors import InvalidInput
from charter.metrics import drift, summary_drift
from charter.metrics.drift_report import drift_report, profile_report
from charter.metrics.summary import (
    FINE_BINS,
    CategoricalProfile,
    CategoricalSummary,
    NumericProfile,
    NumericSummary,
    ReferenceProfile,
    WindowSummary,
    fit_numeric,
    merge,
    numeric_cells,
    sorted_quantiles,
)

rng = np.random.default_rng(11)

floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
# values a window may hold: mostly a few repeated numbers (so they hit edges), some NaN and inf
window_values = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0, 2.5, -3.0, 7.0]), floats, st.just(float("nan")), st.just(float("inf"))),
    max_size=60,
)
labels = st.lists(st.one_of(st.sampled_from(["a", "b", "c", "zeta"]), st.none()), max_size=60)


def _profile(columns: dict[str, Any]) -> ReferenceProfile:
    return ReferenceProfile.fit(columns, workers=1)


REFERENCE = _profile(
    {
        "x": rng.normal(size=3000),  # a quantile profile
        "small": rng.integers(0, 9, size=3000).astype(float),  # an exact profile
        "colour": rng.choice(["red", "green", "blue"], size=3000).tolist(),
    }
)


# --- quantiles and cells -----------------------------------------------------------------


@given(hnp.arrays(np.float64, st.integers(1, 200), elements=floats), st.lists(st.floats(0, 1), min_size=1))
def test_sorted_quantiles_are_numpys_bit_for_bit(values: np.ndarray, probabilities: list[float]) -> None:
    q = np.array(probabilities)
    assert np.array_equal(sorted_quantiles(np.sort(values), q), np.quantile(values, q))


def test_sorted_quantiles_on_the_profile_grid() -> None:
    values = rng.standard_t(3, size=10_001)
    grid = np.arange(FINE_BINS + 1) / FINE_BINS
    assert np.array_equal(sorted_quantiles(np.sort(values), grid), np.quantile(values, grid))


@settings(max_examples=200)
@given(window_values, st.lists(st.sampled_from([-3.0, 0.0, 1.0, 2.5, 4.0, 7.0]), min_size=1, unique=True))
def test_cells_count_below_at_and_between_every_edge(values: list[float], edge_list: list[float]) -> None:
    edges = np.array(sorted(edge_list))
    summary = numeric_cells(values, edges, name="x")
    finite = [v for v in values if np.isfinite(v)]
    expected = [sum(v < edges[0] for v in finite)]
    for i, edge in enumerate(edges):
        expected.append(sum(v == edge for v in finite))
        upper = edges[i + 1] if i + 1 < edges.size else np.inf
        expected.append(sum(edge < v < upper for v in finite))
    assert list(summary.counts) == expected
    assert summary.missing == sum(np.isnan(v) for v in values)
    assert summary.infinite == sum(np.isinf(v) for v in values)
    assert summary.rows == len(values)
    assert (summary.minimum, summary.maximum) == ((min(finite), max(finite)) if finite else (None, None))


def test_a_numeric_profile_holds_its_edges_moments_and_reference_counts() -> None:
    values = rng.lognormal(size=5000)
    profile = fit_numeric(values)
    assert not profile.exact and profile.distinct == 5000
    edges = profile.edge_array()
    assert values.min() in edges and values.max() in edges  # and more edges beyond, for far-off windows
    assert edges[0] < values.min() - 1000 * np.ptp(values) and edges[-1] > values.max() + 1000 * np.ptp(values)
    assert set(profile.psi_edges) <= set(profile.edges)
    assert np.array_equal(np.array(profile.psi_edges), np.unique(np.quantile(values, np.arange(11) / 10)[1:-1]))
    assert profile.reference.count == 5000 and sum(profile.reference.counts[0::2]) < 5000
    assert profile.mean == pytest.approx(values.mean(), rel=1e-12)
    assert profile.std == pytest.approx(values.std(), rel=1e-12)

    exact = fit_numeric([3.0, 1.0, 1.0, None, float("inf"), 2.0])
    assert exact.exact and exact.distinct == 3
    assert {1.0, 2.0, 3.0} <= set(exact.edges)
    assert (exact.reference.missing, exact.reference.infinite, exact.reference.count) == (1, 1, 4)


def test_text_in_a_numeric_window_is_counted_not_fatal() -> None:
    summary = REFERENCE.columns["x"].summarise(np.array([0.5, "abc", None, 2, "1.5"], dtype=object))
    assert isinstance(summary, NumericSummary)
    assert (summary.invalid, summary.missing, summary.count) == (2, 1, 2)
    with pytest.raises(InvalidInput, match=r"reference: 1 value\(s\) are not numbers"):
        fit_numeric(np.array([1.0, "x"], dtype=object), name="reference")


# --- merging -----------------------------------------------------------------------------


@settings(max_examples=150)
@given(window_values, labels, st.data())
def test_summarising_a_whole_equals_merging_its_parts(numbers: list[float], names: list[Any], data: Any) -> None:
    rows = min(len(numbers), len(names))
    frame = {"small": numbers[:rows], "x": numbers[:rows][::-1], "colour": names[:rows]}
    cut = data.draw(st.integers(0, rows))
    parts = [{k: v[:cut] for k, v in frame.items()}, {k: v[cut:] for k, v in frame.items()}]
    whole = REFERENCE.summarise(frame, workers=1)
    merged = merge(REFERENCE.summarise(part, workers=1) for part in parts)
    assert merged == whole
    for column in ("small", "x"):
        ours, theirs = merged.columns[column], whole.columns[column]
        assert isinstance(ours, NumericSummary) and isinstance(theirs, NumericSummary)
        assert ours.moments_close(theirs, rel=1e-12)
    assert merge([REFERENCE.empty(), whole]) == whole
    assert WindowSummary.from_dict(json.loads(json.dumps(whole.to_dict()))) == whole
    assert WindowSummary.from_arrow(whole.to_arrow()) == whole
    for again in (
        WindowSummary.from_dict(json.loads(json.dumps(whole.to_dict()))),
        WindowSummary.from_arrow(whole.to_arrow()),
    ):
        assert [getattr(c, "total", None) for c in again.columns.values()] == [
            getattr(c, "total", None) for c in whole.columns.values()
        ]


@settings(max_examples=50)
@given(st.lists(window_values, min_size=1, max_size=6))
def test_a_stream_of_batches_equals_the_table(chunks: list[list[float]]) -> None:
    profile = _profile({"v": rng.normal(size=50)})
    batches = [pa.record_batch({"v": pa.array(chunk, type=pa.float64())}) for chunk in chunks]
    everything = [value for chunk in chunks for value in chunk]
    assert profile.summarise_batches(batches) == profile.summarise({"v": everything})
    assert profile.summarise_batches([]) == profile.empty()


def test_merging_refuses_summaries_of_other_profiles() -> None:
    other = _profile({"x": rng.normal(size=100), "small": [1.0, 2.0] * 50, "colour": ["a"] * 100})
    window = {"x": [0.0], "small": [1.0], "colour": ["red"]}
    with pytest.raises(InvalidInput, match="cannot merge summaries of different profiles"):
        REFERENCE.summarise(window).merge(other.summarise(window))
    with pytest.raises(InvalidInput, match="another reference profile"):
        profile_report(REFERENCE, other.summarise(window))
    with pytest.raises(InvalidInput, match="merge needs at least one"):
        merge([])


# --- inputs ------------------------------------------------------------------------------


def _tables() -> dict[str, Any]:
    x = [0.3, None, 1.5, float("inf"), -2.0, 0.3]
    small = [1.0, 2.0, 2.0, 5.0, None, 9.0]
    colour = ["red", "blue", None, "red", "teal", "red"]
    frame = pd.DataFrame({"x": x, "small": small, "colour": colour})
    return {
        "dict of lists": {"x": x, "small": small, "colour": colour},
        "dict of numpy": {"x": np.array(x, dtype=float), "small": np.array(small, dtype=float), "colour": colour},
        "pandas": frame,
        "polars": pl.DataFrame({"x": x, "small": small, "colour": colour}, strict=False),
        "pyarrow table": pa.table({"x": x, "small": small, "colour": colour}),
        "pyarrow batch": pa.record_batch({"x": x, "small": small, "colour": colour}),
    }


def test_every_input_type_gives_the_same_summary() -> None:
    summaries = {name: REFERENCE.summarise(table) for name, table in _tables().items()}
    first = summaries["dict of lists"]
    assert all(summary == first for summary in summaries.values())
    colour = first.columns["colour"]
    assert isinstance(colour, CategoricalSummary)
    assert colour.counts == (("blue", 1), ("red", 3), ("teal", 1)) and colour.missing == 1
    x = first.columns["x"]
    assert isinstance(x, NumericSummary) and (x.missing, x.infinite, x.count) == (1, 1, 4)
    assert x.mean == pytest.approx(np.mean([0.3, 1.5, -2.0, 0.3]), rel=1e-15)
    assert x.std == pytest.approx(np.std([0.3, 1.5, -2.0, 0.3]), rel=1e-12)
    for summary in summaries.values():
        column = summary.columns["x"]
        assert isinstance(column, NumericSummary) and column.moments_close(x, rel=0.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: REFERENCE.summarise({"x": [1.0]}), r"current: column\(s\) small, colour are missing"),
        (lambda: REFERENCE.summarise({"x": [1.0], "small": [], "colour": []}), "current: the columns must have"),
        (lambda: REFERENCE.summarise([1, 2]), "current: expected a mapping of column name to values"),
        (
            lambda: ReferenceProfile.fit({"x": [None, float("nan")]}),
            "every value is missing, so there is nothing to profile",
        ),
        (lambda: ReferenceProfile.fit({"x": [1.0]}, categorical=["y"]), r"categorical: no column\(s\) y"),
        (lambda: WindowSummary.from_dict({"rows": 1}), "not a window summary"),
        (lambda: ReferenceProfile.from_dict({"columns": {"x": {"kind": "what"}}}), "not a reference profile"),
        (lambda: WindowSummary.from_arrow(pa.table({"a": [1]})), "not a window summary table"),
    ],
)
def test_bad_input_is_named(call: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


def test_profiles_round_trip_through_json() -> None:
    text = json.dumps(REFERENCE.to_dict())
    again = ReferenceProfile.from_dict(json.loads(text))
    assert again == REFERENCE and again.id == REFERENCE.id
    window = {"x": rng.normal(size=50), "small": rng.integers(0, 9, 50).astype(float), "colour": ["red"] * 50}
    assert again.summarise(window) == REFERENCE.summarise(window)
    assert isinstance(again.columns["small"], NumericProfile) and isinstance(
        again.columns["colour"], CategoricalProfile
    )


def test_categorical_columns_can_be_forced() -> None:
    profile = ReferenceProfile.fit({"code": [1, 2, 2, 3]}, categorical=["code"])
    column = profile.columns["code"]
    assert isinstance(column, CategoricalProfile) and column.reference.counts == ((1, 1), (2, 2), (3, 1))


# --- drift on summaries ------------------------------------------------------------------


def _both(reference: Any, current: Any) -> tuple[NumericProfile, NumericSummary]:
    profile = fit_numeric(reference)
    return profile, profile.summarise(current)


@pytest.mark.parametrize("seed", range(4))
def test_psi_on_summaries_is_exact(seed: int) -> None:
    generator = np.random.default_rng(seed)
    reference, current = generator.gamma(2.0, size=20_000), generator.gamma(2.3, size=7_000)
    assert summary_drift.psi(*_both(reference, current)) == pytest.approx(drift.psi(reference, current), abs=1e-12)
    small_reference = generator.integers(0, 40, 300).astype(float)
    small_current = generator.integers(3, 45, 200).astype(float)
    assert summary_drift.psi(*_both(small_reference, small_current)) == pytest.approx(
        drift.psi(small_reference, small_current), abs=1e-12
    )


@settings(max_examples=60)
@given(
    hnp.arrays(np.float64, st.integers(2, 300), elements=st.integers(-20, 20).map(float)),
    hnp.arrays(np.float64, st.integers(2, 300), elements=st.floats(-25, 25)),
)
def test_ks_on_an_exact_profile_is_exact(reference: np.ndarray, current: np.ndarray) -> None:
    result, bound = summary_drift.ks(*_both(reference, current))
    expected = drift.ks(reference, current)
    assert bound == 0.0
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.p_value, abs=1e-9)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (rng.normal(size=50_000), rng.normal(0.1, 1.0, 20_000)),
        (rng.normal(size=50_000), rng.normal(0.0, 1.3, 20_000)),
        (rng.exponential(size=30_000), rng.exponential(1.5, 30_000)),
        (rng.normal(size=5_000), rng.normal(8.0, 1.0, 5_000)),  # current entirely above the reference
        (rng.standard_t(2, size=40_000), rng.standard_t(2, size=10_000)),
    ],
)
def test_ks_and_wasserstein_on_summaries_stay_within_their_bounds(reference: np.ndarray, current: np.ndarray) -> None:
    profile, window = _both(reference, current)
    result, ks_bound = summary_drift.ks(profile, window)
    exact_ks = drift.ks(reference, current).statistic
    assert result.statistic <= exact_ks + 1e-12
    assert exact_ks - result.statistic <= ks_bound + 1e-12
    for normalised in (False, True):
        estimate, bound = summary_drift.wasserstein(profile, window, normalised=normalised)
        exact = drift.wasserstein(reference, current, normalised=normalised)
        assert abs(estimate - exact) <= bound + 1e-12
        assert abs(estimate - exact) <= 0.01 * max(exact, 0.05)  # in practice far inside the bound


def test_category_tests_on_summaries_equal_the_exact_ones() -> None:
    reference = rng.choice(["a", "b", "c", "d"], size=900, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    current = rng.choice(["a", "b", "c", "e"], size=700).tolist()
    profile = ReferenceProfile.fit({"c": reference})
    window = profile.summarise({"c": current})
    column, summary = profile.columns["c"], window.columns["c"]
    assert summary_drift.score("chi_square", column, summary)[0] == pytest.approx(
        drift.chi_square(reference, current).p_value, abs=1e-12
    )
    assert summary_drift.score("jensen_shannon", column, summary)[0] == pytest.approx(
        drift.jensen_shannon(reference, current), abs=1e-12
    )
    binary_reference, binary_current = rng.integers(0, 2, 500).astype(float), rng.integers(0, 2, 400).astype(float)
    profile = ReferenceProfile.fit({"b": binary_reference})
    window = profile.summarise({"b": binary_current})
    assert summary_drift.score("z_test", profile.columns["b"], window.columns["b"])[0] == pytest.approx(
        drift.z_test(binary_reference, binary_current).p_value, abs=1e-12
    )


@pytest.mark.parametrize("rows", [600, 5_000])
def test_the_profile_report_agrees_with_the_report_on_rows(rows: int) -> None:
    reference = {
        "age": rng.normal(40, 10, rows),
        "income": rng.lognormal(10, 1, rows),
        "children": rng.integers(0, 4, rows).astype(float),
        "owner": rng.integers(0, 2, rows).astype(float),
        "region": rng.choice(["n", "s", "e", "w"], rows).tolist(),
    }
    current = {
        "age": rng.normal(44, 10, rows),
        "income": rng.lognormal(10, 1, rows),
        "children": rng.integers(0, 5, rows).astype(float),
        "owner": rng.integers(0, 2, rows).astype(float),
        "region": rng.choice(["n", "s", "e", "w"], rows, p=[0.4, 0.2, 0.2, 0.2]).tolist(),
    }
    exact = drift_report(reference, current)
    profile = ReferenceProfile.fit(reference)
    estimated = profile_report(profile, profile.summarise(current))
    for on_rows, on_summary in zip(exact.columns, estimated.columns, strict=True):
        assert on_summary.test == on_rows.test
        assert abs(on_summary.score - on_rows.score) <= on_summary.bound + 1e-9
        assert on_summary.drifted == on_rows.drifted
        assert on_summary.psi == pytest.approx(on_rows.psi, abs=1e-12)
    assert (estimated.drifted_columns, estimated.dataset_drift) == (exact.drifted_columns, exact.dataset_drift)


def test_an_empty_window_is_named_in_the_report() -> None:
    with pytest.raises(InvalidInput, match="column 'x': current is empty"):
        profile_report(REFERENCE, REFERENCE.empty())
