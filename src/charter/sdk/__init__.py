"""The SDK's decision logging engine: record every prediction without hurting the model.

- :class:`DecisionLogger` (``writer.py``): ``log()`` / ``log_outcomes()`` enqueue and
  return at once; a background thread batches rows into the sink, spooling to disk when
  the sink fails and replaying later.
- :func:`wrap` / :func:`governed` (``wrap.py``): a model or function whose calls are logged.
- :class:`Sink` (``sink.py``): where batches go; :class:`MemorySink` keeps them in memory.
"""

from __future__ import annotations

from charter.sdk.sink import MemorySink, Sink
from charter.sdk.stats import LoggerStats
from charter.sdk.wrap import Governed, governed, wrap
from charter.sdk.writer import DecisionLogger, Overflow

__all__ = ["DecisionLogger", "Governed", "LoggerStats", "MemorySink", "Overflow", "Sink", "governed", "wrap"]
