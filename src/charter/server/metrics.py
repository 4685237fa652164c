"""``GET /metrics``: what the store knows, for Prometheus, read at scrape time; and the ingest path's own counters.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (:func:`metrics_of`), holding a
:class:`StoreCollector` that queries the store when Prometheus scrapes, and the ingest route's
counters and histogram (:class:`IngestMetrics`, counted in this process). Nothing is registered
globally, so two apps in one process (tests) never share a series.

Every label is bounded by something a person declares, never by traffic (docs/observability.md):

================================================ =========================== ====================================
metric                                           labels                      bound
================================================ =========================== ====================================
``charter_monitor_value``                        model, alias, monitor,      active monitors x the metrics their
                                                 metric                      kind computes (tens per monitor)
``charter_monitor_status``                       model, alias, monitor       active monitors
``charter_monitor_window_end_timestamp_seconds`` model, alias, monitor       active monitors
``charter_decisions_logged_total``               model                       models with a decision lake
``charter_incidents_open``                       severity                    4 (low, medium, high, critical)
``charter_gate_results_total``                   decision                    3 (passed, pending_approval, blocked)
``charter_ingest_requests_total``                kind, format                2 x 2
``charter_ingest_errors_total``                  kind, status                2 x the HTTP statuses the route answers
``charter_ingest_seconds``                       kind                        2 (x 12 buckets)
``charter_ingest_rows_total``                    kind, result                2 x 2 (written, duplicate)
``charter_ingest_queue_rows``                    (none)                      1
================================================ =========================== ====================================

``alias`` is the monitor's target: an alias (``prod``) or ``@3`` for a monitor pinned to a version.
``charter_monitor_status`` is 0 ok, 1 warning, 2 critical, -1 when the last run had no data or failed.

``CHARTER_METRICS_TOKEN``, when set, is a bearer secret the scraper must send
(``Authorization: Bearer <secret>``; Prometheus: ``authorization: {credentials_file: ...}``).
"""

from __future__ import annotations

import hmac
import json
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from charter.clock import parse_timestamp
from charter.services.context import Context
from charter.services.incidents import OPEN
from charter.services.lake import COMMITTED
from charter.services.monitors import SEVERITIES
from charter.store.schema import gate_results, incidents, ledger_entries, monitor_runs, monitor_values, monitors
from charter.version import version

router = APIRouter()

STATUS_CODES = {"ok": 0, "warning": 1, "critical": 2}  # anything else (no_data, error): -1
GATE_DECISIONS = ("passed", "pending_approval", "blocked")
INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_MONITOR_LABELS = ["model", "alias", "monitor"]
_CREATE = threading.Lock()  # makes each app's metrics once


class StoreCollector(Collector):
    """Monitor values, decisions logged, open incidents and gate results, read from the store at each scrape.

    Decisions logged are summed from the ledger's ``lake.committed`` anchors; the anchors read so
    far are remembered (their sequence number), so a scrape reads only the entries added since.
    """

    def __init__(self, context: Context) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._cursor = 0  # the ledger seq up to which anchors were summed
        self._logged: dict[str, int] = {}

    def describe(self) -> Iterable[Metric]:
        return []  # the series exist only once the store is read; registration must not query it

    def collect(self) -> Iterator[Metric]:
        with self._context.engine.connect() as connection:
            yield from self._monitors(connection)
            yield self._decisions(connection)
            yield self._incidents(connection)
            yield self._gates(connection)
        info = GaugeMetricFamily("charter_build_info", "The Charter version serving these metrics.", labels=["version"])
        info.add_metric([version()], 1)
        yield info

    def _monitors(self, connection: Connection) -> Iterator[Metric]:
        runs, last = monitor_runs.c, monitor_runs.alias("last_run").c
        latest = (
            select(last.window_end)
            .where(last.monitor_id == monitors.c.id)
            .order_by(last.window_end.desc())
            .limit(1)
            .scalar_subquery()
        )
        found = connection.execute(
            select(monitors.c.id, monitors.c.name, monitors.c.model, monitors.c.target, runs.status, runs.window_end)
            .select_from(monitors)
            .join(monitor_runs, and_(runs.monitor_id == monitors.c.id, runs.window_end == latest))
            .where(monitors.c.active.is_(True))
            .order_by(monitors.c.name)
        ).all()
        value = GaugeMetricFamily(
            "charter_monitor_value",
            "The latest value of each metric a monitor computed (the window of its last run).",
            labels=["model", "alias", "monitor", "metric"],
        )
        status = GaugeMetricFamily(
            "charter_monitor_status",
            "The status of a monitor's last run: 0 ok, 1 warning, 2 critical, -1 no data or failed.",
            labels=_MONITOR_LABELS,
        )
        window = GaugeMetricFamily(
            "charter_monitor_window_end_timestamp_seconds",
            "The end of the window a monitor last computed (Unix time).",
            labels=_MONITOR_LABELS,
        )
        labels = {row.id: [row.model, row.target, row.name] for row in found}
        for row in found:
            status.add_metric(labels[row.id], STATUS_CODES.get(row.status, -1))
            window.add_metric(labels[row.id], _unix(row.window_end))
        if found:
            v = monitor_values.c
            wanted = or_(*(and_(v.monitor_id == row.id, v.window_end == row.window_end) for row in found))
            for mid, metric, number in connection.execute(
                select(v.monitor_id, v.metric, v.value).where(wanted).order_by(v.monitor_id, v.metric)
            ):
                value.add_metric([*labels[mid], metric], number)
        yield from (value, status, window)

    def _decisions(self, connection: Connection) -> Metric:
        c = ledger_entries.c
        with self._lock:
            query = select(c.seq, c.subject, c.payload).where(c.action == COMMITTED, c.seq > self._cursor)
            for seq, subject, payload in connection.execute(query.order_by(c.seq)):
                data = json.loads(payload)
                if data.get("kind") == "decisions":
                    model = subject.removeprefix("lake:")
                    self._logged[model] = self._logged.get(model, 0) + int(data.get("rows", 0))
                self._cursor = max(self._cursor, int(seq))
            logged = dict(self._logged)
        family = CounterMetricFamily(
            "charter_decisions_logged",
            "Decisions written to the decision lake, from the ledger's anchors of lake commits.",
            labels=["model"],
        )
        for model, rows in sorted(logged.items()):
            family.add_metric([model], rows)
        return family

    def _incidents(self, connection: Connection) -> Metric:
        i = incidents.c
        query = select(i.severity, func.count()).where(i.status.in_(OPEN)).group_by(i.severity)
        counts: dict[str, int] = {str(k): int(n) for k, n in connection.execute(query)}
        family = GaugeMetricFamily(
            "charter_incidents_open", "Incidents not yet resolved, by severity.", labels=["severity"]
        )
        for severity in SEVERITIES:
            family.add_metric([severity], counts.get(severity, 0))
        return family

    def _gates(self, connection: Connection) -> Metric:
        g = gate_results.c
        query = select(g.decision, func.count()).group_by(g.decision)
        counts: dict[str, int] = {str(k): int(n) for k, n in connection.execute(query)}
        family = CounterMetricFamily(
            "charter_gate_results", "Gate evaluations stored, by their decision.", labels=["decision"]
        )
        for decision in sorted(set(GATE_DECISIONS) | set(counts)):
            family.add_metric([decision], counts.get(decision, 0))
        return family


class IngestMetrics:
    """The decision ingest route's counters (this process's requests), in the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "charter_ingest_requests", "Ingest requests answered.", ["kind", "format"], registry=registry
        )
        self.errors = Counter(
            "charter_ingest_errors", "Ingest requests refused or failed, by HTTP status.", ["kind", "status"],
            registry=registry,
        )  # fmt: skip
        self.seconds = Histogram(
            "charter_ingest_seconds", "Time from a request's arrival to its answer (the commit included).", ["kind"],
            buckets=INGEST_BUCKETS, registry=registry,
        )  # fmt: skip
        self.rows = Counter(
            "charter_ingest_rows", "Rows received: written, or already in the lake (duplicate).", ["kind", "result"],
            registry=registry,
        )  # fmt: skip
        self.queued = Gauge(
            "charter_ingest_queue_rows", "Decision rows waiting for their commit (group commit).", registry=registry
        )


class AppMetrics:
    """One app's registry: the store collector and the ingest metrics."""

    def __init__(self, context: Context) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(context))
        self.ingest = IngestMetrics(self.registry)


def metrics_of(app: Any) -> AppMetrics:
    """The app's metrics, made on first use (``create_app`` knows nothing of them)."""
    found = getattr(app.state, "metrics", None)
    if found is None:
        with _CREATE:
            found = getattr(app.state, "metrics", None)
            if found is None:
                found = app.state.metrics = AppMetrics(app.state.context)
    assert isinstance(found, AppMetrics)
    return found


def ingest_metrics(app: Any) -> IngestMetrics:
    return metrics_of(app).ingest


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text exposition; a bearer secret is required when ``CHARTER_METRICS_TOKEN`` is set."""
    secret = os.environ.get("CHARTER_METRICS_TOKEN", "")
    if secret:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), secret.encode()):
            return JSONResponse(
                {"code": "auth.unauthenticated", "status": 401,
                 "message": "/metrics needs the scrape secret: send Authorization: Bearer <CHARTER_METRICS_TOKEN>"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
    encode, media_type = choose_encoder(request.headers.get("accept", ""))  # OpenMetrics when Prometheus asks
    return Response(encode(metrics_of(request.app).registry), headers={"Content-Type": media_type})


def _unix(stamp: str) -> float:
    return parse_timestamp(stamp).timestamp()
