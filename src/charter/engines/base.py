"""What every engine shares: the window, the monitor spec, metric values, and the kind plan.

An engine computes one monitor kind over one window of a model's decision lake. A kind is
written once, as a :class:`Plan` of three pure steps, so that any engine can run it:

- ``summarise(batch) -> partial``: one Arrow record batch of the window (the columns the plan
  asked for, already sliced; with a ``label`` column when the plan joins outcomes) to a
  partial result that holds only counts, sums or sketches;
- ``merge(a, b) -> partial``: two partial results to the partial result of their rows together,
  so that ``merge(summarise(a), summarise(b))`` is ``summarise(a + b)`` (DESIGN invariant 2);
- ``finish(partial) -> Finished``: the metric values (and notes) of the whole window.

The local engine summarises the batches it streams from Delta and merges them one by one;
a Spark engine summarises each partition and merges the partial results on the driver.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pyarrow as pa

from charter.errors import InvalidInput
from charter.lake.schema import DECISION_FIELDS, GROUP_PREFIX, LABEL, LAKE_FIELDS, PREDICTION
from charter.metrics.summary import ReferenceProfile

#: Decision columns an attribution (issue 9) is logged in: ``attribution_<feature>``.
ATTRIBUTION_PREFIX = "attribution_"
#: The decision column naming how a sampled decision was explained (shap, lime; null when it was not).
EXPLANATION_METHOD = "explanation_method"
#: Columns that are never input features.
NOT_FEATURES = frozenset({f.name for f in DECISION_FIELDS} | {f.name for f in LAKE_FIELDS} | {PREDICTION, LABEL})
#: The note of a window without decisions.
NO_DECISIONS = "no decisions in the window"


def _utc(moment: dt.datetime | None, what: str) -> dt.datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, dt.datetime):
        raise InvalidInput(f"window: {what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None:
        raise InvalidInput(f"window: {what} {moment.isoformat()} has no time zone; give an aware UTC time")
    return moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class Window:
    """Which decisions a run reads: ``start <= ts < end``, and/or the ``last`` N of them.

    A time window needs both ``start`` and ``end`` (a tumbling window); ``last`` alone is the
    latest N decisions of the lake, and with ``start`` and/or ``end`` the latest N inside them
    (``end`` alone: the latest N before it, as a backfill asks). ``versions`` and ``alias``
    narrow the decisions before ``last`` counts them. The latest N are the N largest by
    (``ts``, ``decision_id``), so ties in time are broken the same way every run.
    """

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    last: int | None = None
    versions: tuple[int, ...] | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        start, end = _utc(self.start, "start"), _utc(self.end, "end")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if self.last is None and (start is None or end is None):
            raise InvalidInput("window: give start and end (start <= ts < end), or last=N (the latest N decisions)")
        if start is not None and end is not None and start >= end:
            raise InvalidInput(f"window: start {start.isoformat()} is not before end {end.isoformat()}")
        if self.last is not None and (isinstance(self.last, bool) or not isinstance(self.last, int) or self.last < 1):
            raise InvalidInput(f"window: last must be a whole number of at least 1, not {self.last!r}")
        if self.versions is not None:
            versions = tuple(self.versions)
            if not versions or any(isinstance(v, bool) or not isinstance(v, int) for v in versions):
                raise InvalidInput(f"window: versions must be a non-empty list of version numbers, not {versions!r}")
            object.__setattr__(self, "versions", versions)
        if self.alias is not None and (not isinstance(self.alias, str) or not self.alias):
            raise InvalidInput(f"window: alias must be a non-empty string, not {self.alias!r}")

    @property
    def hours(self) -> float | None:
        """The window's length in hours when it has a start and end."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 3600

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "last": self.last,
            "versions": None if self.versions is None else list(self.versions),
            "alias": self.alias,
        }


@dataclass(frozen=True)
class MonitorSpec:
    """What to compute: a monitor ``kind`` and its parameters (see docs/monitoring.md per kind).

    ``features`` empty means every feature the kind can use (the reference profile's, or the
    table's); ``group`` is the protected attribute a fairness monitor splits by (the lake
    column ``group_<group>``); ``options`` are per kind; ``slice`` (column, value) keeps the
    rows whose column equals the value (``None``: the rows where it is null).
    """

    kind: str
    features: tuple[str, ...] = ()
    group: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    slice: tuple[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise InvalidInput(f"monitor: kind must be a non-empty string, not {self.kind!r}")
        features: Any = self.features
        if isinstance(features, str):
            raise InvalidInput(f"monitor {self.kind}: features must be a list of names, not the string {features!r}")
        object.__setattr__(self, "features", tuple(features))
        if any(not isinstance(name, str) or not name for name in self.features):
            raise InvalidInput(f"monitor {self.kind}: features must be non-empty strings, got {list(self.features)!r}")
        if not isinstance(self.options, Mapping):
            raise InvalidInput(f"monitor {self.kind}: options must be a mapping, not {type(self.options).__name__}")
        sliced: Any = self.slice
        if sliced is not None:
            if isinstance(sliced, str) or len(sliced) != 2 or not isinstance(sliced[0], str):
                raise InvalidInput(f"monitor {self.kind}: slice must be a pair (column, value), not {sliced!r}")
            object.__setattr__(self, "slice", (sliced[0], sliced[1]))


def _plain(value: Any) -> Any:
    """JSON-able: tuples to lists, numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class MetricValue:
    """One number of a run: a stable ``metric`` name, its finite ``value``, the ``rows`` behind it."""

    metric: str
    value: float
    rows: int
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        value = float(self.value)
        if not math.isfinite(value):
            raise InvalidInput(f"metric {self.metric}: {value} is not a finite number; leave the metric out instead")
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "rows", int(self.rows))
        object.__setattr__(self, "details", _plain(dict(self.details)))

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "rows": self.rows, "details": dict(self.details)}


@dataclass(frozen=True)
class EngineResult:
    """A run's values and notes; ``rows_read`` decisions came from the lake, ``rows`` after the slice."""

    kind: str
    values: tuple[MetricValue, ...]
    notes: tuple[str, ...]
    rows_read: int
    rows: int

    def value(self, metric: str) -> float | None:
        """The value of ``metric``, or None when the run left it out."""
        return next((v.value for v in self.values if v.metric == metric), None)

    def metric(self, metric: str) -> MetricValue | None:
        return next((v for v in self.values if v.metric == metric), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "values": [v.to_dict() for v in self.values],
            "notes": list(self.notes),
            "rows_read": self.rows_read,
            "rows": self.rows,
        }


class Engine(Protocol):
    """Computes one monitor kind over one window of a model's decisions."""

    def compute(
        self,
        model: str,
        spec: MonitorSpec,
        window: Window,
        *,
        reference: ReferenceProfile | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> EngineResult: ...


# --- kind plans --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    values: list[MetricValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Setup:
    """What a kind is planned from: the run's parameters and the decisions table's schema."""

    model: str
    spec: MonitorSpec
    window: Window
    reference: ReferenceProfile | None
    context: Mapping[str, Any]
    schema: pa.Schema  # the decisions table's
    outcomes: bool  # the model has an outcomes table
    workers: int | None = None  # threads a kind may use on one batch (None: one per core)

    @property
    def kind(self) -> str:
        return self.spec.kind

    def need(self, key: str, why: str) -> Any:
        """``context[key]``, or InvalidInput naming the kind and the key."""
        if key not in self.context or self.context[key] is None:
            raise InvalidInput(f"{self.kind}: the context has no {key!r} ({why})")
        return self.context[key]

    def options(self, known: Sequence[str]) -> Mapping[str, Any]:
        """The spec's options, refusing any this kind does not know."""
        unknown = sorted(set(self.spec.options) - set(known))
        if unknown:
            shown = ", ".join(known) if known else "none"
            raise InvalidInput(f"{self.kind}: unknown option(s) {', '.join(unknown)} (known: {shown})")
        return self.spec.options

    def columns(self) -> list[str]:
        return list(self.schema.names)

    def features(self) -> list[str]:
        """The table's input feature columns, in table order."""
        return [
            name
            for name in self.schema.names
            if name not in NOT_FEATURES
            and not name.startswith(GROUP_PREFIX)
            and not name.startswith(ATTRIBUTION_PREFIX)
            and name != EXPLANATION_METHOD
            and not name.startswith("_")
        ]

    def check_features(self, names: Sequence[str]) -> None:
        """Refuse feature names that are not columns of the decisions table."""
        table = self.features()
        missing = [name for name in names if name not in self.schema.names]
        if missing:
            raise InvalidInput(
                f"{self.kind}: feature(s) {', '.join(missing)} not in the decisions of {self.model!r} "
                f"(features: {', '.join(table) or 'none'})"
            )


Summarise = Callable[[pa.RecordBatch], Any]
Merge = Callable[[Any, Any], Any]
Finish = Callable[[Any], Finished]


@dataclass(frozen=True)
class Plan:
    """A kind ready to run: the decision columns it reads and its three steps (module docstring)."""

    columns: tuple[str, ...]
    summarise: Summarise
    merge: Merge
    finish: Finish
    empty: Any  # the partial result of no rows
    outcomes: Literal["none", "optional"] = "none"  # "optional": join labels when the model has outcomes
    on_empty: Finish | None = None  # values for a window without rows, from its partial result (default: none)
    notes: tuple[str, ...] = ()  # said of every run (what the plan left out)


@dataclass(frozen=True)
class PartialResult:
    """A kind's partial result over a window (what a run keeps instead of rows), ready to merge or finish.

    ``merge`` gives the partial result of two windows' decisions together (the windows must not
    overlap); ``finish`` the metric values. ``rows`` counts the decisions after the slice,
    ``rows_read`` those read from the lake.
    """

    kind: str
    plan: Plan
    value: Any
    rows: int
    rows_read: int

    def merge(self, other: PartialResult) -> PartialResult:
        if other.kind != self.kind:
            raise InvalidInput(f"cannot merge a {other.kind} partial result into a {self.kind} one")
        value = self.plan.merge(self.value, other.value)
        return PartialResult(self.kind, self.plan, value, self.rows + other.rows, self.rows_read + other.rows_read)

    def finish(self) -> EngineResult:
        if self.rows == 0:
            done = self.plan.on_empty(self.value) if self.plan.on_empty is not None else Finished()
            notes = (NO_DECISIONS, *self.plan.notes, *done.notes)
            return EngineResult(self.kind, tuple(done.values), notes, self.rows_read, 0)
        done = self.plan.finish(self.value)
        notes = (*self.plan.notes, *done.notes)
        return EngineResult(self.kind, tuple(done.values), notes, self.rows_read, self.rows)
