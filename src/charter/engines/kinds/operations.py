"""Operational kinds: latency and error rate, volume, and shadow launches.

- ``latency`` keeps a :class:`~charter.engines.sketch.LatencySketch` of ``latency_ms`` (fixed
  log-spaced cells, quantiles within 0.4975 % of numpy's) and counts the rows of an error
  column when the table has one.
- ``volume`` counts decisions and keeps the first and last decision time.
- ``shadow`` counts decisions per (model_version, alias, registered): a decision is
  unapproved when its (version, alias) pair is not among ``context["approved"]`` or its
  version was not registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charter.engines.base import Finished, MetricValue, Plan, Setup
from charter.engines.sketch import RELATIVE_ERROR, CountTable, LatencySketch, merge_counts
from charter.errors import InvalidInput
from charter.lake.schema import TS

LATENCY = "latency_ms"
ERROR = "error"
QUANTILES = (0.5, 0.95, 0.99)
SHOWN_PAIRS = 50


def quantile_name(q: float) -> str:
    """``latency.p95_ms`` for 0.95, ``latency.p99.9_ms`` for 0.999."""
    return f"latency.p{round(q * 100, 6):g}_ms"


def latency(setup: Setup) -> Plan:
    options = setup.options(("quantiles", "error_column"))
    if LATENCY not in setup.schema.names:
        raise InvalidInput(f"latency: the decisions of {setup.model!r} have no {LATENCY!r} column")
    quantiles = tuple(options.get("quantiles", QUANTILES))
    for q in quantiles:
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise InvalidInput(f"latency: option quantiles must hold numbers from 0 to 1, not {q!r}")
    error_column = options.get("error_column", ERROR)
    if error_column not in setup.schema.names:
        if "error_column" in options:
            raise InvalidInput(f"latency: error column {error_column!r} is not in the decisions of {setup.model!r}")
        error_column = None
    columns = (LATENCY,) if error_column is None else (LATENCY, error_column)

    def summarise(batch: pa.RecordBatch) -> tuple[LatencySketch, int]:
        errors = 0 if error_column is None else _errors(batch.column(error_column))
        return LatencySketch.of(batch.column(LATENCY)), errors

    def merge(a: tuple[LatencySketch, int], b: tuple[LatencySketch, int]) -> tuple[LatencySketch, int]:
        return a[0].merge(b[0]), a[1] + b[1]

    def finish(partial: tuple[LatencySketch, int]) -> Finished:
        sketch, errors = partial
        rows = sketch.count + sketch.missing
        values, notes = [], []
        if error_column is not None:
            values.append(
                MetricValue("latency.error_share", errors / rows, rows, {"errors": errors, "column": error_column})
            )
        else:
            notes.append(f"no {ERROR!r} column: the error share is not computed")
        if sketch.missing:
            notes.append(f"{sketch.missing:,} decision(s) without a valid latency left out")
        if sketch.count == 0:
            return Finished(values, [*notes, "no latencies logged"])
        bound = {"relative_error": RELATIVE_ERROR, "absolute_error_below_0.001ms": 0.0005}
        for q in quantiles:
            values.append(MetricValue(quantile_name(q), sketch.quantile(q), sketch.count, {"quantile": q, **bound}))
        values.append(MetricValue("latency.mean_ms", sketch.total / sketch.count, sketch.count))
        values.append(MetricValue("latency.max_ms", sketch.maximum or 0.0, sketch.count))
        return Finished(values, notes)

    return Plan(columns, summarise, merge, finish, (LatencySketch(), 0))


def _errors(values: pa.Array) -> int:
    """Rows that record an error: True in a boolean column, any non-empty value in another."""
    if pa.types.is_boolean(values.type):
        return int(pc.sum(values.cast(pa.int64())).as_py() or 0)
    present = pc.is_valid(values)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        present = pc.and_(present, pc.not_equal(values, ""))
    return int(pc.sum(present.cast(pa.int64())).as_py() or 0)


# --- volume ----------------------------------------------------------------------------------

#: decisions, first and last time (µs), and the window's hours (0.0: unknown, a last-N window).
#: The hours add up when adjacent windows merge, so a day's rate is its decisions over 24 hours.
VolumePartial = tuple[int, int | None, int | None, float]


def volume(setup: Setup) -> Plan:
    setup.options(())

    def summarise(batch: pa.RecordBatch) -> VolumePartial:
        stamps = batch.column(TS).cast(pa.int64())
        low, high = pc.min_max(stamps).values()
        return batch.num_rows, low.as_py(), high.as_py(), 0.0

    def merge(a: VolumePartial, b: VolumePartial) -> VolumePartial:
        lows = [v for v in (a[1], b[1]) if v is not None]
        highs = [v for v in (a[2], b[2]) if v is not None]
        return a[0] + b[0], min(lows) if lows else None, max(highs) if highs else None, a[3] + b[3]

    def finish(partial: VolumePartial) -> Finished:
        rows, first, last, hours = partial
        values = [MetricValue("volume.decisions", rows, rows)]
        if hours > 0:
            values.append(MetricValue("volume.per_hour", rows / hours, rows, {"hours": hours}))
            return Finished(values)
        span = 0.0 if first is None or last is None else (last - first) / 3.6e9
        if span <= 0:
            return Finished(values, ["the window's decisions share one time: no rate per hour"] if rows else [])
        details = {"hours": span, "from": "the hours between the first and last decision"}
        return Finished([*values, MetricValue("volume.per_hour", (rows - 1) / span, rows, details)])

    return Plan((TS,), summarise, merge, finish, (0, None, None, setup.window.hours or 0.0), on_empty=finish)


# --- shadow launches -------------------------------------------------------------------------

VERSION, ALIAS, REGISTERED = "model_version", "alias", "registered"


def _approved(setup: Setup) -> set[tuple[int | None, str | None]]:
    given = setup.need("approved", "the (version, alias) pairs approved to serve")
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise InvalidInput("shadow: context 'approved' must be a set of (version, alias) pairs")
    pairs = set()
    for pair in given:
        if isinstance(pair, str | bytes) or not isinstance(pair, Iterable) or len(pair := tuple(pair)) != 2:
            raise InvalidInput(f"shadow: context 'approved' holds {pair!r}, not a (version, alias) pair")
        version, alias = pair
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise InvalidInput(f"shadow: approved pair {pair!r}: the version must be a number")
        if alias is not None and not isinstance(alias, str):
            raise InvalidInput(f"shadow: approved pair {pair!r}: the alias must be a string or None")
        pairs.add((version, alias))
    return pairs


def shadow(setup: Setup) -> Plan:
    setup.options(())
    approved = _approved(setup)

    def summarise(batch: pa.RecordBatch) -> CountTable:
        return CountTable.of({k: batch.column(k) for k in (VERSION, ALIAS, REGISTERED)})

    def finish(counts: CountTable | None) -> Finished:
        if counts is None:
            return Finished()
        rows = counts.table.to_pylist()
        total = sum(r["count"] for r in rows)
        pairs: list[dict[str, Any]] = []
        unapproved = unregistered = 0
        for r in rows:
            ok = (r[VERSION], r[ALIAS]) in approved and r[REGISTERED] is not False
            unapproved += 0 if ok else r["count"]
            unregistered += r["count"] if r[REGISTERED] is False else 0
            pairs.append(
                {
                    "version": r[VERSION],
                    "alias": r[ALIAS],
                    "registered": r[REGISTERED],
                    "decisions": r["count"],
                    "approved": ok,
                }
            )
        details = {"pairs": sorted(pairs, key=lambda p: -p["decisions"])[:SHOWN_PAIRS]}
        return Finished(
            [
                MetricValue("shadow.unapproved", unapproved, total, details),
                MetricValue("shadow.unapproved_share", unapproved / total, total),
                MetricValue("shadow.unregistered", unregistered, total),
            ]
        )

    return Plan((VERSION, ALIAS, REGISTERED), summarise, merge_counts, finish, None)
