"""Monitor definitions: what to watch on which model, over which window, how often, and when it is a breach.

A monitor is declared as a ``kind: Monitor`` document (``charter apply``) or through
:func:`define_monitor`; its spec is checked whole and stored with its ledger entry
(``monitor.created`` / ``monitor.updated``, subject ``monitor:<name>``)::

    spec:
      model: credit-risk
      target: prod              # the alias whose decisions are watched, or @3 for one version
      kind: data_drift
      window: {every: 1h}       # tumbling windows aligned to the hour; or {last: 10000} decisions
      schedule: 15m             # how often it runs (default: the window's length, or 1h for last-N)
      metric: drift.share_drifted
      warn: 0.3
      critical: 0.5
      direction: above          # a breach is a value above (or below) the threshold
      severity: high            # the incident's severity on a critical breach (warning: low)
      escalation: on-call       # an escalation policy (charter escalation set)

The metric's default and its direction come from the kind (:data:`DEFAULTS`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from charter.clock import format_duration, format_timestamp, parse_duration
from charter.errors import InvalidInput, NotFound
from charter.ids import new_id
from charter.ledger import UnitOfWork, unit_of_work
from charter.services.context import Context
from charter.services.references import check_alias_name, check_name
from charter.store.schema import monitor_schedule, monitors

#: kind -> (default metric, breach direction of that metric).
DEFAULTS: dict[str, tuple[str, str]] = {
    "data_drift": ("drift.share_drifted", "above"),
    "data_quality": ("quality.missing_share", "above"),
    "performance": ("performance.accuracy", "below"),
    "estimated_performance": ("estimated.roc_auc", "below"),
    "fairness": ("fairness.disparate_impact", "below"),
    "latency": ("latency.p95_ms", "above"),
    "volume": ("volume.decisions", "below"),
    "input_anomaly": ("anomaly.anomalous_share", "above"),
    "shadow": ("shadow.unapproved_share", "above"),
    "attribution_drift": ("attribution.shift", "above"),
}
KINDS = tuple(DEFAULTS)
SEVERITIES = ("low", "medium", "high", "critical")
_FIELDS = ("model", "target", "kind", "window", "schedule", "metric", "warn", "critical", "direction", "features",
           "group", "slice", "options", "severity", "escalation", "runbook")  # fmt: skip
_VERSION = re.compile(r"@(\d+)$")


@dataclass(frozen=True)
class Monitor:
    name: str
    model: str
    target: str  # an alias, or "@<version>"
    kind: str
    every: timedelta | None = None  # tumbling window length
    last: int | None = None  # or the last N decisions
    schedule: timedelta = timedelta(hours=1)
    metric: str = ""
    warn: float | None = None
    critical: float | None = None
    direction: Literal["above", "below"] = "above"
    features: tuple[str, ...] = ()
    group: str = ""
    slice: tuple[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    severity: str = "high"
    escalation: str = ""
    runbook: str = ""
    active: bool = True

    @property
    def version(self) -> int | None:
        found = _VERSION.match(self.target)
        return int(found.group(1)) if found else None

    @property
    def alias(self) -> str | None:
        return None if self.version is not None else self.target

    def status(self, value: float) -> str:
        """``critical``, ``warning`` or ``ok`` for a value of the monitored metric."""
        for level, threshold in (("critical", self.critical), ("warning", self.warn)):
            if threshold is not None and (value > threshold if self.direction == "above" else value < threshold):
                return level
        return "ok"

    def to_spec(self) -> dict[str, Any]:
        """The stored (and declarable) form: the YAML spec's fields."""
        spec: dict[str, Any] = {
            "model": self.model, "target": self.target, "kind": self.kind,
            "window": {"every": format_duration(self.every)} if self.every else {"last": self.last},
            "schedule": format_duration(self.schedule), "metric": self.metric, "warn": self.warn,
            "critical": self.critical, "direction": self.direction, "features": list(self.features),
            "group": self.group,
            "slice": None if self.slice is None else {"column": self.slice[0], "value": self.slice[1]},
            "options": dict(self.options), "severity": self.severity, "escalation": self.escalation,
            "runbook": self.runbook,
        }  # fmt: skip
        return spec


def monitor_from_spec(name: str, spec: Mapping[str, Any], where: str = "") -> Monitor:
    """Check a spec (as declared or stored) and build the monitor; errors name ``where`` and the field."""
    at = f"{where}monitor {name}"
    check_name(name, "monitor", "credit-risk-drift")
    unknown = sorted(set(spec) - set(_FIELDS))
    if unknown:
        raise InvalidInput(f"{at}: unknown field {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    for required in ("model", "target", "kind", "window"):
        if spec.get(required) in (None, "", {}):
            raise InvalidInput(f"{at}: field {required!r} is required")
    kind = str(spec["kind"])
    if kind not in DEFAULTS:
        raise InvalidInput(f"{at}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "fairness" and not spec.get("group"):
        raise InvalidInput(f"{at}: a fairness monitor needs group (the protected attribute, e.g. sex)")
    target = str(spec["target"])
    try:
        model = check_name(str(spec["model"]), "model", "credit-risk")
        if not _VERSION.match(target):
            check_alias_name(target)
    except InvalidInput as exc:
        raise InvalidInput(f"{at}: {exc.message}") from None
    every, last = _window(spec["window"], at)
    schedule = (
        parse_duration(spec["schedule"], f"{at}: schedule") if spec.get("schedule") else (every or timedelta(hours=1))
    )
    metric, direction = DEFAULTS[kind]
    warn, critical = (_number(spec.get(k), f"{at}: {k}") for k in ("warn", "critical"))
    if warn is None and critical is None:
        raise InvalidInput(f"{at}: give a warn or a critical threshold (or both) for {spec.get('metric') or metric}")
    chosen = str(spec.get("direction") or direction)
    if chosen not in ("above", "below"):
        raise InvalidInput(f"{at}: direction {chosen!r} is not 'above' or 'below'")
    if warn is not None and critical is not None and (critical < warn if chosen == "above" else critical > warn):
        raise InvalidInput(f"{at}: the critical threshold {critical} is less severe than the warn threshold {warn}")
    severity = str(spec.get("severity") or "high")
    if severity not in SEVERITIES:
        raise InvalidInput(f"{at}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    features = spec.get("features") or []
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidInput(f"{at}: features must be a list of column names")
    sliced = spec.get("slice")
    if sliced is not None and (not isinstance(sliced, Mapping) or set(sliced) != {"column", "value"}):
        raise InvalidInput(f"{at}: slice must be {{column: NAME, value: VALUE}}")
    options = spec.get("options") or {}
    if not isinstance(options, Mapping):
        raise InvalidInput(f"{at}: options must be a mapping")
    return Monitor(
        name=name, model=model, target=target, kind=kind, every=every, last=last, schedule=schedule,
        metric=str(spec.get("metric") or metric), warn=warn, critical=critical,
        direction="above" if chosen == "above" else "below", features=tuple(features),
        group=str(spec.get("group") or ""),
        slice=None if sliced is None else (str(sliced["column"]), sliced["value"]), options=dict(options),
        severity=severity, escalation=str(spec.get("escalation") or ""), runbook=str(spec.get("runbook") or ""),
    )  # fmt: skip


def _window(value: Any, at: str) -> tuple[timedelta | None, int | None]:
    if not isinstance(value, Mapping) or len(value) != 1 or not set(value) <= {"every", "last"}:
        raise InvalidInput(f"{at}: window must be {{every: DURATION}} (tumbling, e.g. 1h) or {{last: N}} (decisions)")
    if "every" in value:
        return parse_duration(value["every"], f"{at}: window.every"), None
    last = value["last"]
    if not isinstance(last, int) or isinstance(last, bool) or last < 1:
        raise InvalidInput(f"{at}: window.last must be a positive number of decisions, not {last!r}")
    return None, last


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} must be a number, not {value!r}")
    return float(value)


def define_monitor(context: Context, monitor: Monitor) -> str:
    """Create or update a monitor; returns ``create``, ``update`` or ``unchanged``."""
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        return store_monitor(uow, monitor, context.clock.now())


def store_monitor(uow: UnitOfWork, monitor: Monitor, now: datetime) -> str:
    from charter.store.schema import escalation_policies, models

    if uow.connection.execute(select(models.c.id).where(models.c.name == monitor.model)).first() is None:
        raise NotFound(f"monitor {monitor.name}: no model {monitor.model!r}; register it before monitoring it")
    if monitor.escalation and uow.connection.execute(
        select(escalation_policies.c.name).where(escalation_policies.c.name == monitor.escalation)
    ).first() is None:  # fmt: skip
        raise NotFound(
            f"monitor {monitor.name}: no escalation policy {monitor.escalation!r} (declare it: kind: EscalationPolicy)"
        )
    spec = monitor.to_spec()
    stamp = format_timestamp(now)
    current = uow.connection.execute(select(monitors).where(monitors.c.name == monitor.name)).mappings().first()
    if current is not None and current["spec"] == spec and current["active"]:
        return "unchanged"
    before = (current["spec"].get("options") or {}).get("auto_rollback") if current is not None else None
    if monitor.options.get("auto_rollback") != before and monitor.options.get("auto_rollback") is not None:
        from charter.services.access import require

        require(uow.connection, uow.actor, "safe_zone.declare")  # Charter acts alone inside it: a governed choice
    if current is None:
        monitor_id = new_id()
        uow.execute(monitors.insert().values(
            id=monitor_id, name=monitor.name, model=monitor.model, target=monitor.target, kind=monitor.kind,
            spec=spec, active=True, created_by=uow.actor, created_at=stamp, updated_at=stamp,
        ))  # fmt: skip
        uow.connection.execute(monitor_schedule.insert().values(monitor_id=monitor_id, next_run_at=stamp))
        uow.record("monitor.created", f"monitor:{monitor.name}", spec)
        return "create"
    uow.execute(update(monitors).where(monitors.c.id == current["id"]).values(
        model=monitor.model, target=monitor.target, kind=monitor.kind, spec=spec, active=True, updated_at=stamp,
    ))  # fmt: skip
    changes = {k: [current["spec"].get(k), v] for k, v in spec.items() if current["spec"].get(k) != v}
    uow.record("monitor.updated", f"monitor:{monitor.name}", {"changes": changes, "reactivated": not current["active"]})
    return "update"


def remove_monitor(context: Context, name: str, *, reason: str) -> None:
    if not reason.strip():
        raise InvalidInput("removing a monitor needs a reason")
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        found = _row(uow.connection, name)
        uow.execute(update(monitors).where(monitors.c.id == found["id"]).values(
            active=False, updated_at=format_timestamp(context.clock.now())))  # fmt: skip
        uow.record("monitor.removed", f"monitor:{name}", {"reason": reason.strip()})


def get_monitor(context: Context, name: str) -> Monitor:
    with context.engine.connect() as connection:
        return _from_row(_row(connection, name))


def monitor_fields(connection: Connection, name: str) -> dict[str, Any] | None:
    """The stored spec of an active monitor (for ``charter apply``), or None."""
    row = connection.execute(select(monitors).where(monitors.c.name == name)).mappings().first()
    return None if row is None or not row["active"] else dict(row["spec"])


def list_monitors(context: Context, *, model: str | None = None, include_inactive: bool = False) -> list[Monitor]:
    query = select(monitors).order_by(monitors.c.model, monitors.c.name)
    if model is not None:
        query = query.where(monitors.c.model == model)
    if not include_inactive:
        query = query.where(monitors.c.active.is_(True))
    with context.engine.connect() as connection:
        return [_from_row(dict(row)) for row in connection.execute(query).mappings()]


def monitor_id(connection: Connection, name: str) -> str:
    return str(_row(connection, name)["id"])


def _row(connection: Connection, name: str) -> Mapping[str, Any]:
    found = connection.execute(select(monitors).where(monitors.c.name == name)).mappings().first()
    row = None if found is None else dict(found)
    if row is None:
        names = list(connection.execute(select(monitors.c.name).order_by(monitors.c.name).limit(10)).scalars())
        known = f"monitors: {', '.join(names)}" if names else "no monitors yet; declare one with `charter apply`"
        raise NotFound(f"no monitor {name!r} ({known})")
    return row


def _from_row(row: Mapping[str, Any]) -> Monitor:
    return replace(monitor_from_spec(str(row["name"]), row["spec"]), active=bool(row["active"]))
