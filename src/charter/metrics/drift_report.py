"""The data-drift report: a test per column chosen as Evidently chooses it, and a dataset verdict.

Default choice, by the reference's size and the column's kind and number of distinct
values in the reference:

======================  ==========================================  ====================
reference rows          column                                      test, drift when
======================  ==========================================  ====================
<= 1000                 numeric with more than 5 distinct values    KS, p <= 0.05
<= 1000                 3 to 5 distinct values, or categorical      chi-square, p <= 0.05
<= 1000                 2 distinct values (binary)                  z-test, p < 0.05
> 1000                  numeric with more than 5 distinct values    Wasserstein / std >= 0.1
> 1000                  categorical, or 5 distinct values or fewer  Jensen-Shannon >= 0.1
======================  ==========================================  ====================

The dataset drifts when at least half of its columns drift (``share``). PSI and its band,
and the KS p-value, are reported for every numeric column as well. Any column's test and
threshold can be set.

:func:`drift_report` compares raw columns; :func:`profile_report` compares a window's
summary with a stored reference profile (:mod:`charter.metrics.summary`), the way monitors
do, and gives each score's bound against the exact number (see
:mod:`charter.metrics.summary_drift`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from charter.errors import InvalidInput
from charter.metrics import drift, summary_drift
from charter.metrics.inputs import as_float_array, as_label_array, finite, is_numeric
from charter.metrics.summary import NumericProfile, NumericSummary, ReferenceProfile, WindowSummary

Test = Literal["ks", "chi_square", "z_test", "wasserstein_normed", "jensen_shannon"]
SMALL_REFERENCE = 1000
FEW_VALUES = 5
DATASET_SHARE = 0.5

#: Default threshold and whether the score is a p-value (drift below) or a distance (drift at or above).
TESTS: dict[str, tuple[float, str]] = {
    "ks": (0.05, "p<="),
    "chi_square": (0.05, "p<="),
    "z_test": (0.05, "p<"),
    "wasserstein_normed": (0.1, ">="),
    "jensen_shannon": (0.1, ">="),
}


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    test: str
    score: float  # the p-value for tests, the distance for distances
    threshold: float
    drifted: bool
    psi: float | None = None
    psi_band: str | None = None  # none, moderate or major
    ks_p_value: float | None = None  # the KS test for numeric columns, whatever the chosen test
    bound: float = 0.0  # from summaries: |score - the exact score on the rows| <= bound (0 when exact)


@dataclass(frozen=True)
class DriftReport:
    columns: tuple[ColumnDrift, ...]
    share: float
    drifted_columns: int
    dataset_drift: bool
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.__dict__ for c in self.columns],
            "share": self.share,
            "drifted_columns": self.drifted_columns,
            "dataset_drift": self.dataset_drift,
            "notes": list(self.notes),
        }


def psi_band(value: float) -> str:
    """< 0.1 none, 0.1-0.25 moderate, >= 0.25 major."""
    return "none" if value < 0.1 else "moderate" if value < 0.25 else "major"


def default_test(reference: Any, *, numeric: bool | None = None) -> Test:
    """The test Evidently would choose for this reference column (``numeric`` if already known)."""
    numeric = is_numeric(reference) if numeric is None else numeric
    if numeric:
        values = finite(as_float_array(reference, name="reference"))
        rows, distinct = len(values), len(np.unique(values))
    else:
        labels = as_label_array(reference, name="reference")
        present = labels[labels != None]  # noqa: E711  (elementwise comparison with None)
        rows, distinct = len(present), len({*present.tolist()})
    return choose_test(rows=rows, distinct=distinct, numeric=numeric)


def choose_test(*, rows: int, distinct: int, numeric: bool) -> Test:
    """Evidently's choice from the reference's present rows and distinct values."""
    if rows <= SMALL_REFERENCE:
        if numeric and distinct > FEW_VALUES:
            return "ks"
        return "z_test" if distinct <= 2 else "chi_square"
    return "wasserstein_normed" if numeric and distinct > FEW_VALUES else "jensen_shannon"


def _score(test: str, reference: Any, current: Any) -> float:
    if test == "ks":
        return drift.ks(reference, current).p_value
    if test == "chi_square":
        return drift.chi_square(reference, current).p_value
    if test == "z_test":
        return drift.z_test(reference, current).p_value
    if test == "wasserstein_normed":
        return drift.wasserstein(reference, current, normalised=True)
    return drift.jensen_shannon(reference, current)


def check_options(columns: list[str], tests: Mapping[str, str], thresholds: Mapping[str, float], share: float) -> None:
    """Refuse per-column tests or thresholds for unknown columns, unknown tests, and a share outside (0, 1]."""
    for mapping, what in ((tests, "tests"), (thresholds, "thresholds")):
        unknown = sorted(set(mapping) - set(columns))
        if unknown:
            raise InvalidInput(f"{what}: no column(s) {', '.join(unknown)} in the reference")
    for column, test in tests.items():
        if test not in TESTS:
            raise InvalidInput(f"tests: {column}: unknown test {test!r} (known: {', '.join(TESTS)})")
    if not 0 < share <= 1:
        raise InvalidInput(f"share must be in (0, 1], got {share}")


def _verdict(
    column: str, test: str, score: float, threshold: float, psi: float | None, ks: float | None, bound: float = 0.0
) -> ColumnDrift:
    rule = TESTS[test][1]
    drifted = score <= threshold if rule == "p<=" else score < threshold if rule == "p<" else score >= threshold
    band = None if psi is None else psi_band(psi)
    return ColumnDrift(column, test, float(score), threshold, bool(drifted), psi, band, ks, bound)


def _report(results: list[ColumnDrift], share: float) -> DriftReport:
    count = sum(c.drifted for c in results)
    fraction = count / len(results) if results else 0.0
    return DriftReport(tuple(results), fraction, count, bool(results) and fraction >= share)


def drift_report(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    share: float = DATASET_SHARE,
) -> DriftReport:
    """Compare every column of ``reference`` with the same column of ``current``, on the rows."""
    tests, thresholds = dict(tests or {}), dict(thresholds or {})
    missing = sorted(set(reference) - set(current))
    if missing:
        raise InvalidInput(f"current: column(s) {', '.join(missing)} are missing (reference has them)")
    check_options(list(reference), tests, thresholds, share)
    results = []
    for column in reference:
        numeric = is_numeric(reference[column])
        test = tests.get(column) or default_test(reference[column], numeric=numeric)
        try:
            score = _score(test, reference[column], current[column])
            psi = ks = None
            if numeric and is_numeric(current[column]):
                psi = drift.psi(reference[column], current[column])
                ks = drift.ks(reference[column], current[column]).p_value
        except InvalidInput as exc:
            raise InvalidInput(f"column {column!r}: {exc}") from None
        results.append(_verdict(column, test, score, thresholds.get(column, TESTS[test][0]), psi, ks))
    return _report(results, share)


def profile_report(
    profile: ReferenceProfile,
    current: WindowSummary,
    *,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    share: float = DATASET_SHARE,
) -> DriftReport:
    """Compare a window's summary with the reference profile it was summarised against.

    The same tests, thresholds and verdicts as :func:`drift_report`; each column carries
    the bound of its score against the exact number on the rows.
    """
    if current.profile_id != profile.id:
        raise InvalidInput("current: this summary was made with another reference profile; summarise it with this one")
    tests, thresholds = dict(tests or {}), dict(thresholds or {})
    check_options(list(profile.columns), tests, thresholds, share)
    results = []
    for column, column_profile in profile.columns.items():
        window = current.columns[column]
        numeric = isinstance(column_profile, NumericProfile)
        rows = column_profile.reference.count
        test = tests.get(column) or choose_test(rows=rows, distinct=column_profile.distinct, numeric=numeric)
        try:
            score, bound = summary_drift.score(test, column_profile, window)
            psi = ks = None
            if isinstance(column_profile, NumericProfile) and isinstance(window, NumericSummary):
                psi = summary_drift.psi(column_profile, window)
                ks = summary_drift.ks(column_profile, window)[0].p_value
        except InvalidInput as exc:
            raise InvalidInput(f"column {column!r}: {exc}") from None
        results.append(_verdict(column, test, score, thresholds.get(column, TESTS[test][0]), psi, ks, bound))
    return _report(results, share)
