"""Running monitors: compute a window of the decision lake with an engine, store the series, raise alerts.

A run computes one window — for ``every`` monitors the tumbling window ending at a multiple of
its length since the epoch, for ``last`` monitors the last N decisions up to the run — with the
engine (:mod:`charter.engines.local`; Spark later, the same numbers), stores every value as a
time series row (monitor, metric, window end, value, status) with the run, records
``monitor.ran`` on the ledger, and hands a breach of the monitored metric to
:func:`charter.services.incidents.alert`. A window is computed at most once per monitor
(``uq_monitor_runs_monitor_id_window_end``), so two workers or a rerun never double it.

Workers share the due monitors through ``monitor_schedule``: :func:`lease_due` claims them
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers), a lease expires after
``lease_for`` so a dead worker's monitors come back, and :func:`work_once` runs and releases them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from charter.clock import format_timestamp, parse_timestamp
from charter.errors import InvalidInput
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.services.context import Context
from charter.services.monitors import Monitor, get_monitor, list_monitors, monitor_id
from charter.store.engine import WRITE_OPTION
from charter.store.schema import (
    alias_history,
    model_versions,
    models,
    monitor_runs,
    monitor_schedule,
    monitor_values,
    monitors,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A window whose stored run says nothing about it is computed again when it is run again (data that
#: arrived late, a configuration fixed since); one with a verdict (ok, warning, critical) is kept.
RECOMPUTED = ("error", "no_data")

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    monitor: str
    model: str
    window_start: str | None
    window_end: str
    status: str  # ok, warning, critical, no_data, error
    rows: int
    value: float | None  # the monitored metric's value
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    incident: str | None = None
    skipped: bool = False  # this window had already been computed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window_for(monitor: Monitor, end: datetime) -> tuple[datetime | None, datetime]:
    """The window a run at ``end`` computes: the last whole tumbling window, or up to ``end`` for last-N."""
    if monitor.every is None:
        return None, end
    step = monitor.every.total_seconds()
    aligned = EPOCH + timedelta(seconds=(end - EPOCH).total_seconds() // step * step)
    return aligned - monitor.every, aligned


def windows_between(monitor: Monitor, start: datetime, end: datetime) -> list[tuple[datetime | None, datetime]]:
    """Every window a backfill from ``start`` to ``end`` computes, oldest first."""
    if monitor.every is None:
        raise InvalidInput(f"monitor {monitor.name} watches the last {monitor.last} decisions; it cannot be backfilled")
    found: list[tuple[datetime | None, datetime]] = []
    window_start, window_end = window_for(monitor, end)
    while window_start is not None and window_start >= start:
        found.append((window_start, window_end))
        window_start, window_end = window_start - monitor.every, window_start
    return found[::-1]


def run_monitor(
    context: Context, name: str, *, at: datetime | None = None, window: tuple[datetime | None, datetime] | None = None,
    worker: str = "cli",
) -> RunResult:  # fmt: skip
    """Compute one window of ``name`` (default: the one due at ``at``, itself default now), store it, alert."""
    monitor = get_monitor(context, name)
    if not monitor.active:
        raise InvalidInput(f"monitor {name} was removed; declare it again to run it")
    start, end = window or window_for(monitor, at or context.clock.now())
    stamp = format_timestamp(end)
    with context.engine.connect() as connection:
        mid = monitor_id(connection, name)
        done = connection.execute(
            select(monitor_runs).where(monitor_runs.c.monitor_id == mid, monitor_runs.c.window_end == stamp)
        ).mappings().first()  # fmt: skip
    if done is not None and done["status"] not in RECOMPUTED:
        return RunResult(name, monitor.model, done["window_start"], stamp, done["status"], done["rows"], None,
                         notes=list(done["notes"]), skipped=True)  # fmt: skip
    started = context.clock.now()
    computed = _compute(context, monitor, start, end)
    value = computed.get("values", {}).get(monitor.metric)
    status = computed.get("status") or ("no_data" if value is None else monitor.status(value))
    notes = list(computed.get("notes", []))
    if value is None and status == "no_data" and computed.get("rows"):
        notes.append(f"{monitor.metric} was not computed on this window")
    run = {
        "id": new_id(), "monitor_id": mid, "window_start": None if start is None else format_timestamp(start),
        "window_end": stamp, "status": status, "rows": int(computed.get("rows", 0)), "notes": notes, "worker": worker,
        "started_at": format_timestamp(started), "finished_at": format_timestamp(context.clock.now()),
    }  # fmt: skip
    values = computed.get("values", {})
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        if done is not None:  # a window that said nothing (late data, a fixed configuration): computed again
            uow.execute(delete(monitor_values).where(monitor_values.c.run_id == done["id"]))
            uow.execute(delete(monitor_runs).where(monitor_runs.c.id == done["id"]))
        uow.execute(monitor_runs.insert().values(run))
        if values:
            uow.execute(monitor_values.insert(), [
                {"id": new_id(), "run_id": run["id"], "monitor_id": mid, "window_end": stamp, "metric": metric,
                 "value": float(number), "status": monitor.status(number) if metric == monitor.metric else "info",
                 "rows": run["rows"]}
                for metric, number in sorted(values.items())
            ])  # fmt: skip
        uow.record("monitor.ran", f"monitor:{name}", {
            "run": run["id"], "window_start": run["window_start"], "window_end": stamp, "status": status,
            "rows": run["rows"], "metric": monitor.metric, "value": value,
            **({} if done is None else {"replaces": {"run": done["id"], "status": done["status"]}}),
        })  # fmt: skip
    incident = None
    if status in ("warning", "critical"):
        from charter.services.incidents import alert

        incident = alert(context, monitor, status=status, value=value, window_end=stamp, run_id=str(run["id"])).ref
    shown_start = None if start is None else format_timestamp(start)
    return RunResult(name, monitor.model, shown_start, stamp, status, int(computed.get("rows", 0)), value,
                     {k: float(v) for k, v in values.items()}, notes, incident)  # fmt: skip


Plan = list[tuple[Monitor, tuple[datetime | None, datetime]]]


@dataclass(frozen=True)
class RunPlan:
    """The (monitor, window) pairs a run computes, and why any chosen monitor was left out."""

    windows: Plan
    left_out: list[str] = field(default_factory=list)


def plan_runs(
    context: Context,
    *,
    model: str | None = None,
    names: tuple[str, ...] = (),
    backfill: tuple[datetime, datetime] | None = None,
) -> RunPlan:
    """Each active monitor's window due now, or a backfill's windows.

    A backfill of every monitor leaves out those over the last N decisions (they have no past
    windows) and says so; naming one of them is an error."""
    chosen = [m for m in list_monitors(context, model=model) if not names or m.name in names]
    if names and len(chosen) != len(set(names)):
        missing = sorted(set(names) - {m.name for m in chosen})
        raise InvalidInput(f"no active monitor {missing[0]!r}; `charter monitor list` shows them")
    if backfill is None:
        return RunPlan([(m, window_for(m, context.clock.now())) for m in chosen])
    left_out = [] if names else [m for m in chosen if m.every is None]
    windows = [(m, w) for m in chosen if m not in left_out for w in windows_between(m, *backfill)]
    notes = [f"monitor {m.name} watches the last {m.last} decisions; a backfill leaves it out" for m in left_out]
    return RunPlan(windows, notes)


def run_monitors(context: Context, plan: Plan, *, progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """Run a plan (:func:`plan_runs`) in order; ``progress`` gets the number of windows done."""
    results = []
    for done, (monitor, window) in enumerate(plan, 1):
        results.append(run_monitor(context, monitor.name, window=window))
        if progress is not None:
            progress(done)
    return results


def series(context: Context, name: str, *, metric: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """A monitor's stored values, oldest first: window end, metric, value, status, rows."""
    with context.engine.connect() as connection:
        mid = monitor_id(connection, name)
        query = select(monitor_values).where(monitor_values.c.monitor_id == mid)
        if metric is not None:
            query = query.where(monitor_values.c.metric == metric)
        rows = connection.execute(query.order_by(monitor_values.c.window_end.desc()).limit(limit)).mappings()
        return [{k: row[k] for k in ("window_end", "metric", "value", "status", "rows")} for row in rows][::-1]


# ---- workers ------------------------------------------------------------------------------------


def lease_due(
    context: Context, worker: str, *, limit: int = 10, lease_for: timedelta = timedelta(minutes=5)
) -> list[str]:
    """Claim up to ``limit`` due monitors for ``worker``; returns their names. Others skip the claimed ones."""
    now = context.clock.now()
    stamp = format_timestamp(now)
    with context.engine.connect() as raw:
        connection = raw.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            query = (
                select(monitor_schedule.c.monitor_id)
                .join(monitors, monitors.c.id == monitor_schedule.c.monitor_id)
                .where(
                    monitors.c.active.is_(True),
                    monitor_schedule.c.next_run_at <= stamp,
                    or_(monitor_schedule.c.lease_until.is_(None), monitor_schedule.c.lease_until < stamp),
                )
                .order_by(monitor_schedule.c.next_run_at)
                .limit(limit)
            )
            if connection.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=monitor_schedule)
            ids = list(connection.execute(query).scalars())
            if ids:
                connection.execute(
                    update(monitor_schedule)
                    .where(monitor_schedule.c.monitor_id.in_(ids))
                    .values(lease_owner=worker, lease_until=format_timestamp(now + lease_for))
                )
            names = connection.execute(select(monitors.c.name).where(monitors.c.id.in_(ids)))
            return sorted(names.scalars())


def release(context: Context, name: str, worker: str, *, next_run_at: datetime) -> None:
    """Give a leased monitor back, due again at ``next_run_at``."""
    with context.engine.connect() as raw:
        connection = raw.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            connection.execute(
                update(monitor_schedule)
                .where(
                    and_(
                        monitor_schedule.c.monitor_id == monitor_id(connection, name),
                        monitor_schedule.c.lease_owner == worker,
                    )
                )
                .values(lease_owner=None, lease_until=None, next_run_at=format_timestamp(next_run_at))
            )


def work_once(context: Context, worker: str, *, limit: int = 10) -> list[RunResult]:
    """One pass of a worker: run the monitors it leased, release them, then escalate what is due."""
    from charter.services.incidents import escalate_due

    results = []
    for name in lease_due(context, worker, limit=limit):
        monitor = get_monitor(context, name)
        try:
            results.append(run_monitor(context, name, worker=worker))
        except Exception as exc:  # one monitor that cannot run (a store hiccup, a bug) must not stop the others
            _log.error("monitor %s failed in worker %s: %s: %s", name, worker, type(exc).__name__, exc)
            results.append(RunResult(name, monitor.model, None, format_timestamp(context.clock.now()), "error", 0,
                                     None, notes=[f"{type(exc).__name__}: {exc}"]))  # fmt: skip
        finally:
            release(context, name, worker, next_run_at=context.clock.now() + monitor.schedule)
    escalate_due(context)
    return results


def approved_pairs(context: Context, model: str) -> set[tuple[int, str]]:
    """(version, alias) pairs an alias has pointed at through a recorded move: what served legitimately."""
    with context.engine.connect() as connection:
        rows = connection.execute(
            select(model_versions.c.version, alias_history.c.alias)
            .join(alias_history, alias_history.c.to_version_id == model_versions.c.id)
            .join(models, models.c.id == alias_history.c.model_id)
            .where(models.c.name == model)
        )
        return {(int(version), str(alias)) for version, alias in rows}


def _compute(context: Context, monitor: Monitor, start: datetime | None, end: datetime) -> dict[str, Any]:
    from charter.services.monitor_engine import compute_window

    return compute_window(context, monitor, start, end)


def parse_window_time(text: str, where: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise InvalidInput(f"{where} {text!r} is not an ISO-8601 time such as 2026-11-22T09:00:00Z") from None
