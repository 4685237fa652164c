"""Every metric under a stable id (``drift.psi``, ``performance.roc_auc``) with its default threshold.

Registered explicitly (no import-time magic): each kernel module calls :func:`register`
for its metrics, and :func:`all_metrics` imports those modules. Tests check that every
registered metric is documented and tested.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["higher_is_worse", "higher_is_better"]

#: Kernel modules that register metrics, in the order they are listed.
MODULES = (
    "charter.metrics.drift",
    "charter.metrics.fairness",
    "charter.metrics.performance",
    "charter.metrics.estimate",
    "charter.metrics.anomaly",
    "charter.metrics.quality",
)


@dataclass(frozen=True)
class Metric:
    id: str
    function: Callable[..., Any]
    direction: Direction
    threshold: float | None  # the default alert threshold, None when there is no sensible default
    summary: str


_REGISTRY: dict[str, Metric] = {}


def register(
    metric_id: str,
    function: Callable[..., Any],
    *,
    direction: Direction,
    threshold: float | None,
    summary: str,
) -> None:
    if metric_id in _REGISTRY and _REGISTRY[metric_id].function is not function:
        raise ValueError(f"metric id {metric_id!r} is registered twice")
    _REGISTRY[metric_id] = Metric(metric_id, function, direction, threshold, summary)


def all_metrics() -> dict[str, Metric]:
    for module in MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def get(metric_id: str) -> Metric:
    from charter.errors import NotFound

    metrics = all_metrics()
    if metric_id not in metrics:
        raise NotFound(f"no metric {metric_id!r} (metrics: {', '.join(metrics)})")
    return metrics[metric_id]
