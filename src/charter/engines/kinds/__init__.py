"""The monitor kinds, registered explicitly under their stable names.

Each kind is a function ``kind(setup) -> Plan`` (:mod:`charter.engines.base`): it checks the
spec, the context and the table, and returns the columns it reads and its summarise / merge /
finish steps. docs/monitoring.md documents each kind's metrics, options and context keys;
``CONTEXT_KEYS`` and ``OPTIONS`` say the same for code and tests.
"""

from __future__ import annotations

from collections.abc import Callable

from charter.engines.base import Plan, Setup
from charter.engines.kinds.anomaly import input_anomaly
from charter.engines.kinds.drift import DRIFT_OPTIONS, attribution_drift, data_drift
from charter.engines.kinds.fairness import fairness
from charter.engines.kinds.operations import latency, shadow, volume
from charter.engines.kinds.performance import estimated_performance, performance
from charter.engines.kinds.quality import data_quality

KINDS: dict[str, Callable[[Setup], Plan]] = {
    "data_drift": data_drift,
    "data_quality": data_quality,
    "performance": performance,
    "estimated_performance": estimated_performance,
    "fairness": fairness,
    "latency": latency,
    "volume": volume,
    "input_anomaly": input_anomaly,
    "shadow": shadow,
    "attribution_drift": attribution_drift,
}

#: The context keys each kind reads: required ones first, then "(optional)" ones.
CONTEXT_KEYS: dict[str, tuple[str, ...]] = {
    "data_drift": (),
    "data_quality": ("input_schema (optional when a reference profile is given)",),
    "performance": ("task",),
    "estimated_performance": (
        "task (optional)",
        "calibrator (optional)",
        "reference_scores (optional)",
        "reference_labels (optional)",
    ),
    "fairness": (),
    "latency": (),
    "volume": (),
    "input_anomaly": ("anomaly_model",),
    "shadow": ("approved",),
    "attribution_drift": ("reference_importance (optional)",),
}

#: The options each kind accepts in ``MonitorSpec.options``.
OPTIONS: dict[str, tuple[str, ...]] = {
    "data_drift": DRIFT_OPTIONS,
    "data_quality": (),
    "performance": ("positive", "average"),
    "estimated_performance": ("threshold",),
    "fairness": ("positive", "privileged", "min_group_size"),
    "latency": ("quantiles", "error_column"),
    "volume": (),
    "input_anomaly": ("z_threshold", "quantile"),
    "shadow": (),
    "attribution_drift": (),
}

#: The metric names each kind can give (``<feature>`` stands for a feature's name, ``<q>`` for a
#: quantile in percent); a run leaves out those it cannot compute, with a note.
METRICS: dict[str, tuple[str, ...]] = {
    "data_drift": ("drift.share_drifted", "drift.score:<feature>"),
    "data_quality": (
        "quality.missing_share",
        "quality.missing_share:<feature>",
        "quality.type_violation_share",
        "quality.type_violation_share:<feature>",
        "quality.out_of_range_share",
        "quality.out_of_range_share:<feature>",
        "quality.unseen_category_share",
        "quality.unseen_category_share:<feature>",
        "quality.schema_violations",
    ),
    "performance": (
        "performance.accuracy",
        "performance.precision",
        "performance.recall",
        "performance.f1",
        "performance.roc_auc",
        "performance.pr_auc",
        "performance.log_loss",
        "performance.brier",
        "performance.mae",
        "performance.rmse",
        "performance.mape",
        "performance.r2",
    ),
    "estimated_performance": (
        "estimated.accuracy",
        "estimated.precision",
        "estimated.recall",
        "estimated.f1",
        "estimated.roc_auc",
    ),
    "fairness": (
        "fairness.demographic_parity_difference",
        "fairness.demographic_parity_ratio",
        "fairness.disparate_impact",
        "fairness.equalized_odds_difference",
        "fairness.equalized_odds_ratio",
        "fairness.equal_opportunity_difference",
        "fairness.predictive_parity_difference",
        "fairness.average_odds_difference",
    ),
    "latency": ("latency.p<q>_ms", "latency.mean_ms", "latency.max_ms", "latency.error_share"),
    "volume": ("volume.decisions", "volume.per_hour"),
    "input_anomaly": ("anomaly.anomalous_share", "anomaly.out_of_range_share", "anomaly.mahalanobis_mean"),
    "shadow": ("shadow.unapproved", "shadow.unapproved_share", "shadow.unregistered"),
    "attribution_drift": ("attribution.mean_abs:<feature>", "attribution.shift"),
}

__all__ = ["CONTEXT_KEYS", "KINDS", "METRICS", "OPTIONS"]
