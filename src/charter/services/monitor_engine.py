"""What a monitor run hands the engine: the lake window, the spec, the reference profile and the context.

The reference for drift and anomaly monitors is the profile stored with the training dataset
version of the version being watched (its lineage edge with role ``training``); the context
carries the model's task, the version's input schema and the (version, alias) pairs that served
legitimately (for shadow-launch monitors) and, for attribution-drift monitors, the version's
importance profile stored with its evaluation (``reference_importance``). A problem that makes the window impossible to
compute (no reference, a feature the lake does not have) is the run's ``error`` status with the
reason as a note, so a worker goes on with the next monitor; so is any other failure to read
the window (a lake file gone missing), with its type and message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from charter.errors import CharterError
from charter.services.context import Context
from charter.services.monitors import Monitor

#: Kinds that compare the window with the training data's reference profile, or a model fitted on its rows.
NEEDS_REFERENCE = ("data_drift",)
NEEDS_ROWS = ("input_anomaly",)
#: Kinds whose metric means something on a window without decisions (volume: 0 decisions).
RATES_EMPTY_WINDOWS = ("volume",)
#: Monitor options that tell remediation what to do (:mod:`charter.services.remediation`), not the kind what to compute.
REMEDIATION_OPTIONS = ("retrain_command", "retrain_webhook", "auto_rollback")


def compute_window(context: Context, monitor: Monitor, start: datetime | None, end: datetime) -> dict[str, Any]:
    from charter.engines.base import MonitorSpec, Window
    from charter.engines.local import LocalEngine
    from charter.lake.table import DecisionLake

    lake = DecisionLake(context.settings.lake)
    if not lake.exists(monitor.model):
        return {"rows": 0, "values": {}, "status": "no_data",
                "notes": [f"no decisions logged for {monitor.model} yet"]}  # fmt: skip
    try:
        version = _watched_version(context, monitor)
        reference = _reference(context, monitor, version) if monitor.kind in NEEDS_REFERENCE else None
        extra = {"anomaly_model": _anomaly_model(context, monitor, version)} if monitor.kind in NEEDS_ROWS else {}
        if monitor.kind == "attribution_drift":
            extra.update(_importance(context, version))
        window = Window(
            start=start, end=end, last=monitor.last,
            versions=(monitor.version,) if monitor.version is not None else None, alias=monitor.alias,
        )  # fmt: skip
        options = {k: v for k, v in monitor.options.items() if k not in REMEDIATION_OPTIONS}
        spec = MonitorSpec(kind=monitor.kind, features=monitor.features, group=monitor.group or None,
                           options=options, slice=monitor.slice)  # fmt: skip
        result = LocalEngine(lake).compute(monitor.model, spec, window, reference=reference,
                                           context={**_context(context, monitor, version), **extra})  # fmt: skip
    except CharterError as exc:
        return {"rows": 0, "values": {}, "status": "error", "notes": [exc.message]}
    except Exception as exc:  # the lake's files, Arrow, a metric kernel: the run records it, the worker goes on
        return {"rows": 0, "values": {}, "status": "error", "notes": [f"{type(exc).__name__}: {exc}"]}
    values = {v.metric: float(v.value) for v in result.values}
    rows = int(result.rows)
    # An empty window has nothing to measure, except for a volume monitor: no decisions is its alarm.
    rated = rows > 0 or monitor.kind in RATES_EMPTY_WINDOWS
    return {"rows": rows, "values": values, "notes": list(result.notes), "status": None if rated else "no_data"}


def _watched_version(context: Context, monitor: Monitor) -> Any:
    from charter.services.registry import get_model, resolve_version

    if monitor.version is not None:
        return resolve_version(context, f"{monitor.model}@{monitor.version}")
    if monitor.alias in get_model(context, monitor.model).aliases:
        return resolve_version(context, f"{monitor.model}:{monitor.alias}")
    return None


def _training(context: Context, monitor: Monitor, version: Any) -> list[Any]:
    """The training dataset versions of the watched version (lineage edges with role ``training``)."""
    from charter.errors import InvalidInput
    from charter.services.datasets import resolve_dataset_version
    from charter.services.lineage import upstream

    if version is None:
        raise InvalidInput(
            f"monitor {monitor.name}: {monitor.model}:{monitor.target} points at no version, so there is no "
            "reference to compare with"
        )
    return [
        resolve_dataset_version(context, node.ref)
        for edge, node in upstream(context, version.ref).inputs
        if node.kind == "dataset" and edge.role == "training"
    ]


_ANOMALY_MODELS: dict[str, Any] = {}


def _anomaly_model(context: Context, monitor: Monitor, version: Any) -> Any:
    """The anomaly model of the training data: the one stored with its profile when it scores the monitor's
    features, else fitted on the training rows (read once per process per dataset version's content)."""
    from charter.errors import InvalidInput
    from charter.metrics.anomaly import AnomalyModel
    from charter.services.evaluation import local_path, verify_data
    from charter.services.profiles import stored_anomaly_model
    from charter.services.tabular import read_table

    for data in _training(context, monitor, version):
        numeric = [c["name"] for c in data.schema if c["type"] in ("integer", "number")]
        columns = [c for c in (monitor.features or numeric) if c in numeric]
        # Without declared features the stored model is the default: it leaves out personal data.
        stored = stored_anomaly_model(data.profile, columns if monitor.features else None)
        if stored is not None:
            return stored
        key = f"{data.sha256}:{','.join(sorted(columns))}"
        if key not in _ANOMALY_MODELS:
            path = local_path(data.uri)
            if path is None or not path.exists():
                reason = (data.profile or {}).get("anomaly_skipped") or "it scores other columns"
                raise InvalidInput(
                    f"monitor {monitor.name}: {data.ref} has no stored anomaly model for "
                    f"{', '.join(columns) or 'its features'} ({reason}) and its rows are not a file on this "
                    "machine to fit one on; register the training data from a file, or watch its numeric columns"
                )
            table = read_table(verify_data(context, data), None)
            _ANOMALY_MODELS[key] = AnomalyModel.fit(table.select(columns))
        return _ANOMALY_MODELS[key]
    raise InvalidInput(
        f"monitor {monitor.name}: {version.ref} has no training dataset to fit the anomaly model on; link one with "
        f"`charter lineage add DATASET@V --to-model {version.ref} --role training`"
    )


def _reference(context: Context, monitor: Monitor, version: Any) -> Any:
    from charter.errors import InvalidInput
    from charter.services.profiles import profiled

    for data in _training(context, monitor, version):
        found = profiled(data.profile)
        if found is not None:
            return found
    raise InvalidInput(
        f"monitor {monitor.name}: {version.ref} has no training dataset with a reference profile; link one with "
        f"`charter lineage add DATASET@V --to-model {version.ref} --role training`"
    )


def _context(context: Context, monitor: Monitor, version: Any) -> dict[str, Any]:
    from charter.services.monitoring import approved_pairs
    from charter.services.registry import get_model

    model = get_model(context, monitor.model)
    return {
        "task": model.task,
        "input_schema": None if version is None else version.input_schema,
        "approved": approved_pairs(context, monitor.model),
    }


def _importance(context: Context, version: Any) -> dict[str, Any]:
    """The watched version's importance profile (stored with its evaluation), the attribution-drift reference."""
    from charter.services.explanations import reference_importance

    found = None if version is None else reference_importance(context, version)
    return {} if found is None else {"reference_importance": found}
