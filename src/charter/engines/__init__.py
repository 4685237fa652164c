"""Monitoring engines: metric values over windows of the decision lake.

An :class:`Engine` computes one monitor kind (:data:`KINDS`) over one :class:`Window` of a
model's decisions and returns :class:`MetricValue` s. :class:`LocalEngine` runs on this
machine with Arrow and NumPy; every kind is a plan of mergeable steps (summarise a batch,
merge two partial results, finish), so a Spark engine can run the same plans per partition.
See docs/monitoring.md.
"""

from __future__ import annotations

from charter.engines.base import Engine, EngineResult, MetricValue, MonitorSpec, PartialResult, Plan, Setup, Window
from charter.engines.kinds import CONTEXT_KEYS, KINDS, METRICS, OPTIONS
from charter.engines.local import LocalEngine

__all__ = [
    "CONTEXT_KEYS",
    "KINDS",
    "METRICS",
    "OPTIONS",
    "Engine",
    "EngineResult",
    "LocalEngine",
    "MetricValue",
    "MonitorSpec",
    "PartialResult",
    "Plan",
    "Setup",
    "Window",
]
