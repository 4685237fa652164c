"""Data drift of a window against the version's reference profile, and attribution drift.

``data_drift`` summarises each batch in the reference profile's cells
(:meth:`charter.metrics.summary.ReferenceProfile.summarise`), merges the window summaries
exactly, and compares the whole window with the profile by
:func:`charter.metrics.drift_report.profile_report`: Evidently's default test per feature
(overridable), PSI with its band, the KS p-value, and the dataset share.

``attribution_drift`` is the slot for explainability (issue 9); see docs/monitoring.md for
the columns it reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.engines.base import ATTRIBUTION_PREFIX, Finished, MetricValue, Plan, Setup
from charter.errors import InvalidInput
from charter.metrics.drift_report import DATASET_SHARE, TESTS, profile_report
from charter.metrics.summary import NumericSummary, ReferenceProfile, WindowSummary

DRIFT_OPTIONS = ("test", "threshold", "tests", "thresholds", "share")


def data_drift(setup: Setup) -> Plan:
    reference = setup.reference
    if reference is None:
        raise InvalidInput("data_drift: needs the version's reference profile (reference=ReferenceProfile)")
    options = setup.options(DRIFT_OPTIONS)
    skipped: list[str] = []
    if setup.spec.features:
        features = list(setup.spec.features)
        unprofiled = [f for f in features if f not in reference.columns]
        if unprofiled:
            raise InvalidInput(
                f"data_drift: feature(s) {', '.join(unprofiled)} not in the reference profile "
                f"(profiled: {', '.join(reference.columns)})"
            )
        setup.check_features(features)
    else:  # the profiled columns the model logs (a training dataset's profile also has its label, ids, ...)
        features = [c for c in reference.columns if c in setup.schema.names]
        skipped = [c for c in reference.columns if c not in setup.schema.names]
        if not features:
            raise InvalidInput(
                f"data_drift: no column of the reference profile ({', '.join(reference.columns)}) is logged with "
                f"the decisions of {setup.model!r} (features: {', '.join(setup.features()) or 'none'})"
            )
    whole = features == list(reference.columns)
    profile = reference if whole else ReferenceProfile({f: reference.columns[f] for f in features}, reference.rows)
    tests, thresholds, share = _drift_options(options, features)
    workers = setup.workers

    def summarise(batch: pa.RecordBatch) -> WindowSummary:
        return profile.summarise(batch, workers=workers)

    def finish(summary: WindowSummary) -> Finished:
        notes = []
        usable = [f for f in features if summary.columns[f].count > 0]
        for feature in features:
            if feature not in usable:
                notes.append(f"feature {feature}: no values in the window (every value missing), not tested")
        if not usable:
            return Finished([], notes)
        part, window = profile, summary
        if usable != features:  # a profile of the features with values (its id is a hash of every edge: slow)
            part = ReferenceProfile({f: profile.columns[f] for f in usable}, profile.rows)
            window = WindowSummary(part.id, {f: summary.columns[f] for f in usable}, summary.rows)
        report = profile_report(
            part,
            window,
            tests={f: t for f, t in tests.items() if f in usable},
            thresholds={f: t for f, t in thresholds.items() if f in usable},
            share=share,
        )
        values = [
            MetricValue(
                "drift.share_drifted",
                report.share,
                summary.rows,
                {
                    "drifted": report.drifted_columns,
                    "features": len(usable),
                    "dataset_drift": report.dataset_drift,
                    "share_threshold": share,
                    "drifted_features": [c.column for c in report.columns if c.drifted],
                },
            )
        ]
        for column in report.columns:
            values.append(
                MetricValue(
                    f"drift.score:{column.column}",
                    column.score,
                    summary.columns[column.column].count,
                    {
                        "test": column.test,
                        "score_is": "p_value" if TESTS[column.test][1].startswith("p") else "distance",
                        "threshold": column.threshold,
                        "drifted": column.drifted,
                        "psi": column.psi,
                        "psi_band": column.psi_band,
                        "ks_p_value": column.ks_p_value,
                        "bound": column.bound,
                        "missing": _missing(summary.columns[column.column]),
                    },
                )
            )
        return Finished(values, notes)

    return Plan(
        columns=tuple(features),
        summarise=summarise,
        merge=_merge,
        finish=finish,
        empty=profile.empty(),
        notes=tuple(f"reference column {c}: not logged with the decisions, not tested" for c in skipped),
    )


def _merge(a: WindowSummary, b: WindowSummary) -> WindowSummary:
    """``a.merge(b)``; a summary of no rows adds nothing, so it is skipped (the merge loops in Python)."""
    if b.rows == 0 and a.profile_id == b.profile_id:
        return a
    if a.rows == 0 and a.profile_id == b.profile_id:
        return b
    return a.merge(b)


def _missing(column: Any) -> int:
    if isinstance(column, NumericSummary):
        return column.missing + column.infinite + column.invalid
    return int(column.missing)


def _drift_options(options: Any, features: list[str]) -> tuple[dict[str, str], dict[str, float], float]:
    tests: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    if "test" in options:
        tests = dict.fromkeys(features, options["test"])
    if "threshold" in options:
        thresholds = dict.fromkeys(features, options["threshold"])
    for key, target in (("tests", tests), ("thresholds", thresholds)):
        per_feature = options.get(key) or {}
        if not isinstance(per_feature, dict):
            raise InvalidInput(f"data_drift: option {key} must map feature names to values, not {per_feature!r}")
        unknown = sorted(set(per_feature) - set(features))
        if unknown:
            raise InvalidInput(f"data_drift: option {key} names feature(s) not monitored: {', '.join(unknown)}")
        target.update(per_feature)
    for feature, test in tests.items():
        if test not in TESTS:
            raise InvalidInput(f"data_drift: {feature}: unknown test {test!r} (known: {', '.join(TESTS)})")
    for feature, threshold in thresholds.items():
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not np.isfinite(threshold):
            raise InvalidInput(f"data_drift: {feature}: threshold must be a number, not {threshold!r}")
    share = options.get("share", DATASET_SHARE)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InvalidInput(f"data_drift: option share must be a number in (0, 1], not {share!r}")
    return tests, {f: float(t) for f, t in thresholds.items()}, float(share)


# --- attribution drift (the slot for issue 9) -------------------------------------------


def attribution_drift(setup: Setup) -> Plan:
    """Mean |attribution| per feature, and its shift from ``context["reference_importance"]``."""
    setup.options(())
    logged = [n for n in setup.schema.names if n.startswith(ATTRIBUTION_PREFIX)]
    by_feature = {n[len(ATTRIBUTION_PREFIX) :]: n for n in logged}
    wanted = list(setup.spec.features) or list(by_feature)
    unknown = [f for f in wanted if f not in by_feature]
    if unknown and logged:
        raise InvalidInput(
            f"attribution_drift: no attributions logged for feature(s) {', '.join(unknown)} "
            f"(logged for: {', '.join(by_feature)})"
        )
    columns = [by_feature[f] for f in wanted if f in by_feature]
    reference = setup.context.get("reference_importance")
    if reference is not None and not isinstance(reference, dict):
        raise InvalidInput("attribution_drift: context 'reference_importance' must map features to mean |attribution|")

    def summarise(batch: pa.RecordBatch) -> dict[str, tuple[float, int]]:
        sums = {}
        for name in columns:
            values = pc.abs(pc.cast(batch.column(name), pa.float64()))
            valid = pc.and_(pc.is_valid(values), pc.invert(pc.is_nan(values)))
            kept = values.filter(valid)
            sums[name] = (float(pc.sum(kept).as_py() or 0.0), len(kept))
        return sums

    def merge(a: dict[str, tuple[float, int]], b: dict[str, tuple[float, int]]) -> dict[str, tuple[float, int]]:
        return {n: (a[n][0] + b[n][0], a[n][1] + b[n][1]) for n in columns}

    def finish(sums: dict[str, tuple[float, int]]) -> Finished:
        if not columns:
            return Finished([], ["no attributions logged"])
        importance = {n[len(ATTRIBUTION_PREFIX) :]: s / c for n, (s, c) in sums.items() if c}
        if not importance:
            return Finished([], ["no attributions logged"])
        values = [MetricValue(f"attribution.mean_abs:{f}", v, sums[by_feature[f]][1]) for f, v in importance.items()]
        notes = [] if reference is not None else ["no reference_importance in the context: the shift is not computed"]
        if reference is not None:
            shift = _shift(importance, {str(k): float(v) for k, v in reference.items()})
            if shift is not None:
                rows = max(c for _, c in sums.values())
                values.append(MetricValue("attribution.shift", shift, rows, {"features": sorted(importance)}))
        return Finished(values, notes)

    return Plan(tuple(columns), summarise, merge, finish, dict.fromkeys(columns, (0.0, 0)))


def _shift(window: dict[str, float], reference: dict[str, float]) -> float | None:
    """Total variation distance between the two importance profiles, each normalised to sum to 1."""
    features = sorted(set(window) | set(reference))
    a = np.array([window.get(f, 0.0) for f in features])
    b = np.array([reference.get(f, 0.0) for f in features])
    if a.sum() <= 0 or b.sum() <= 0:
        return None
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())
