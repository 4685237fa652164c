"""Benchmark registry listing and search against plain SQL on the bare driver, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/registry.py [--quick]

Seeds 100,000 model versions and 10,000 datasets through ledger units of work, then times the read services
and the same questions as hand-written SELECTs on a bare ``sqlite3`` / ``psycopg`` connection. The databases
(a temp SQLite file, a ``benchreg_<random>`` PostgreSQL schema) are removed at the end. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.engine import make_url

from _common import optional_postgres
from charter.clock import SystemClock, format_timestamp
from charter.config import load_settings
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.services.context import Context
from charter.services.datasets import list_datasets, resolve_dataset_version
from charter.services.registry import get_model, list_models, list_versions, resolve_version
from charter.store import schema
from charter.store.engine import make_engine
from charter.store.migrate import upgrade
from charter.vocabulary import LEGAL_BASES, RISK_TIERS, TASKS

ADMIN_URL = os.environ.get("CHARTER_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = "user:bench"
TARGET_MS = 50.0  # p99
#: Rows whose name holds this read everything (the CLI's --all); even plain SQL cannot return
#: 10,000 rows within the target, so they are shown for scale, not judged against it.
EVERYTHING = "(--all)"
BATCH = 5_000  # rows per seeding unit of work
WARMUP = 10
DOMAINS = ("credit", "fraud", "churn", "pricing", "claims", "triage", "search", "ads", "loans", "kyc", "aml", "support",
    "returns", "demand", "supply", "hiring", "retention", "upsell", "routing", "spam")  # fmt: skip
KINDS = ("scorer", "ranker", "classifier", "forecaster", "detector", "model", "estimator", "tagger", "filter", "rules")
TAGS = ("pii", "finance", "nlp", "vision", "tabular", "gdpr", "eu", "us", "batch", "realtime", "experimental", "prod",
    "deprecated", "fairness-reviewed", "explainable", "third-party", "llm", "embedding", "retail", "insurance",
    "health", "hr", "marketing", "ops", "security", "legal", "shadow", "champion", "challenger", "audited")  # fmt: skip
OWNERS = [f"owner{k:02d}@example.com" for k in range(50)]
FEATURES = {"features": [{"name": "income", "type": "number", "min": 0}, {"name": "age", "type": "integer"}]}
COLUMNS = (("customer_id", "string"), ("email", "string"), ("amount", "double"), ("country", "str"), ("ts", "date"))

console = Console(width=None if sys.stdout.isatty() else 170)
notes: list[str] = []


class SQLite:
    name = "SQLite"

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="charter-benchreg-")
        self.url = f"sqlite:///{os.path.join(self.dir, 'registry.db')}"

    def connect(self) -> Any:
        """A bare driver connection in autocommit mode (the file is in WAL mode already)."""
        return sqlite3.connect(make_url(self.url).database or "", isolation_level=None)

    def settle(self) -> None:
        """Charter never runs ANALYZE on SQLite, so neither does the benchmark."""

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres(SQLite):
    name = "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        admin = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://"))
        self.admin = create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        self.schema = f"benchreg_{secrets.token_hex(6)}"
        with self.admin.connect() as connection:  # raises if the server is unreachable
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        super().__init__()
        self.url = admin.update_query_dict({"options": f"-csearch_path={self.schema}"}).render_as_string(False)

    def connect(self) -> Any:
        return psycopg.connect(make_url(self.url).set(drivername="postgresql").render_as_string(False), autocommit=True)

    def settle(self) -> None:
        """VACUUM ANALYZE the seeded tables: the state autovacuum reaches a minute after a bulk load."""
        with self.connect() as conn:
            for table in TABLES:
                conn.execute(f"VACUUM (ANALYZE) {table.name}")

    def close(self) -> None:
        super().close()
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.admin.dispose()


TABLES: list[Table] = [schema.models, schema.model_tags, schema.model_versions, schema.aliases, schema.datasets]
TABLES += [schema.dataset_versions, schema.dataset_columns]


@dataclass
class Seeded:
    models: list[str]
    prod: list[str]  # models with a prod alias
    versions: int  # per model
    datasets: list[str]


def seed(engine: Engine, n_models: int, n_versions: int, n_datasets: int) -> Seeded:
    """Realistic rows, written in units of work of BATCH rows with one ledger entry each."""
    rng, clock, base = random.Random(42), SystemClock(), datetime(2025, 1, 1, tzinfo=UTC)
    ts = [format_timestamp(base + timedelta(minutes=i)) for i in range(1_000)]
    rows: dict[str, list[dict[str, Any]]] = {table.name: [] for table in TABLES}
    prod = []
    for i in range(n_models):
        name, model_id = f"{DOMAINS[i % len(DOMAINS)]}-{KINDS[(i // len(DOMAINS)) % len(KINDS)]}-{i:04d}", new_id()
        rows["models"].append({
            "id": model_id, "name": name, "owner": rng.choice(OWNERS), "team": f"team-{rng.randrange(10)}",
            "description": f"{name}: predicts {name.split('-')[0]} outcomes", "task": rng.choice(TASKS),
            "risk_tier": rng.choice(RISK_TIERS), "intended_use": "internal decisions with human review",
            "limitations": "not validated outside the EU", "created_at": ts[0], "updated_at": ts[-1],
        })  # fmt: skip
        rows["model_tags"] += [{"model_id": model_id, "tag": t} for t in rng.sample(TAGS, rng.randint(1, 3))]
        ids = [new_id() for _ in range(n_versions)]
        for v, version_id in enumerate(ids, 1):
            sha = hashlib.sha256(f"{name}@{v}".encode()).hexdigest()
            rows["model_versions"].append({
                "id": version_id, "model_id": model_id, "version": v, "artifact_uri": f"s3://models/{name}/{v}/model.pkl",
                "artifact_sha256": sha, "artifact_size": rng.randrange(10**5, 10**8),
                "framework": rng.choice(("sklearn", "xgboost", "lightgbm", "pytorch")), "flavour": "pickle",
                "input_schema": FEATURES, "output_schema": None, "source_commit": sha[:40],
                "source_url": f"https://git.example.com/ml/{name}", "creator": rng.choice(OWNERS),
                "status": "archived" if v < n_versions and rng.random() < 0.3 else "registered",
                "created_at": ts[v % len(ts)],
            })  # fmt: skip
        if rng.random() < 0.5:
            prod.append(name)
            for alias, version in (("prod", rng.randint(n_versions // 2, n_versions)), ("staging", n_versions)):
                rows["aliases"].append({"model_id": model_id, "name": alias, "version_id": ids[version - 1],
                                        "updated_at": ts[-1]})  # fmt: skip
    for i in range(n_datasets):
        dataset_id, version_id, name = new_id(), new_id(), f"ds-{i:04d}"
        rows["datasets"].append({
            "id": dataset_id, "name": name, "owner": rng.choice(OWNERS), "description": f"{name} extract",
            "source_uri": f"s3://lake/{name}/", "licence": "internal", "collected_from": ts[0], "collected_to": ts[-1],
            "legal_basis": rng.choice(LEGAL_BASES), "created_at": ts[0], "updated_at": ts[0],
        })  # fmt: skip
        rows["dataset_versions"].append({
            "id": version_id, "dataset_id": dataset_id, "version": 1, "uri": f"s3://lake/{name}/v1.parquet",
            "sha256": hashlib.sha256(name.encode()).hexdigest(), "size": rng.randrange(10**6, 10**9),
            "format": "parquet", "row_count": rng.randrange(1_000, 10**7),
            "schema": [{"name": c, "type": t} for c, t in COLUMNS],
            "quality": {"rows": 1000, "duplicate_rows": 0, "columns": {"amount": {"missing": 3}}, "issues": []},
            "profile": None, "creator": rng.choice(OWNERS), "created_at": ts[0],
        })  # fmt: skip
        rows["dataset_columns"] += [{
            "version_id": version_id, "name": c, "position": p, "dtype": t, "pii_category": "email" if pii else None,
            "sensitivity": "confidential" if pii else "internal", "protected": False,
            "classified_by": "name" if pii else "none", "reason": ""} for p, (c, t) in enumerate(COLUMNS)
            for pii in [c == "email"]]  # fmt: skip
    for table in TABLES:
        for start in range(0, len(rows[table.name]), BATCH):
            chunk = rows[table.name][start : start + BATCH]
            with unit_of_work(engine, actor=ACTOR, clock=clock) as uow:
                uow.execute(table.insert(), chunk)
                uow.record("benchmark.seeded", "benchmark:registry", {"table": table.name, "rows": len(chunk)})
    return Seeded([m["name"] for m in rows["models"]], prod, n_versions, [d["name"] for d in rows["datasets"]])


Args = tuple[Any, ...]

# The baselines: one hand-written SELECT per question, returning the same rows (child rows aggregated).
MODELS = """SELECT m.*, (SELECT group_concat(t.tag, ',') FROM model_tags t WHERE t.model_id = m.id) AS tags,
 (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id) AS versions,
 (SELECT group_concat(a.name || '=' || v.version, ',') FROM aliases a JOIN model_versions v ON v.id = a.version_id
  WHERE a.model_id = m.id) AS aliases FROM models m"""
VERSIONS = """SELECT v.*, (SELECT group_concat(a.name, ',') FROM aliases a WHERE a.version_id = v.id) AS aliases
 FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = ?"""
DATASETS = """SELECT d.*, (SELECT count(*) FROM dataset_versions v WHERE v.dataset_id = d.id) AS versions
 FROM datasets d"""
DATASET_VERSION = """SELECT v.*, (SELECT group_concat(c.name || ':' || c.dtype || ':' || c.sensitivity, ',')
  FROM dataset_columns c WHERE c.version_id = v.id) AS columns,
 (SELECT count(*) FROM certifications x WHERE x.version_id = v.id) AS certifications
 FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = ? AND v.version = ?"""
PAGE = " ORDER BY m.name LIMIT 50"


@dataclass
class Query:
    name: str
    pick: Callable[[random.Random], Args]  # one call's arguments, at random
    charter: Callable[[Context, Args], Any]
    sql: str  # SQLite form; '?' and group_concat are rewritten for PostgreSQL
    params: Callable[[Args], Args] = lambda a: a


def queries(s: Seeded) -> list[Query]:
    def model(r: random.Random) -> Args:
        return (r.choice(s.models),)

    def page(key: str, values: Sequence[str], where: str, like: bool = False) -> Query:
        """list_models(key=<one of values>, limit=50); the SQL filter is ``where``."""
        shown = f"'{values[0]}'" if len(values) == 1 else "…"
        return Query(f"list_models({key}={shown}, limit=50)", lambda r: (r.choice(values),),
                     lambda c, a: list_models(c, limit=50, **{key: a[0]}), MODELS + where + PAGE,
                     (lambda a: (f"%{a[0]}%",)) if like else (lambda a: a))  # fmt: skip

    return [
        Query("list_models(limit=50) (CLI default)", lambda r: (), lambda c, a: list_models(c, limit=50),
              MODELS + PAGE),
        page("tag", TAGS, " WHERE m.id IN (SELECT model_id FROM model_tags WHERE tag = ?)"),
        page("owner", OWNERS, " WHERE m.owner = ?"),
        page("risk_tier", RISK_TIERS, " WHERE m.risk_tier = ?"),
        page("alias", ["prod"], " WHERE m.id IN (SELECT model_id FROM aliases WHERE name = ?)"),
        page("name_contains", DOMAINS, " WHERE m.name LIKE ?", like=True),
        Query("list_models() everything (--all)", lambda r: (), lambda c, a: list_models(c),
              MODELS + " ORDER BY m.name"),
        Query("get_model(name)", model, lambda c, a: get_model(c, a[0]), MODELS + " WHERE m.name = ?"),
        Query(f"list_versions(model) ({s.versions})", model, lambda c, a: list_versions(c, a[0]),
              VERSIONS + " ORDER BY v.version"),
        Query("list_versions(model, status='archived')", model,
              lambda c, a: list_versions(c, a[0], status="archived"),
              VERSIONS + " AND v.status = 'archived' ORDER BY v.version"),
        Query("resolve_version('name@N')", lambda r: (r.choice(s.models), r.randint(1, s.versions)),
              lambda c, a: resolve_version(c, f"{a[0]}@{a[1]}"), VERSIONS + " AND v.version = ?"),
        Query("resolve_version('name:prod')", lambda r: (r.choice(s.prod), "prod"),
              lambda c, a: resolve_version(c, f"{a[0]}:{a[1]}"),
              VERSIONS + " AND v.id = (SELECT version_id FROM aliases WHERE model_id = m.id AND name = ?)"),
        Query("resolve_version('name') latest", model, lambda c, a: resolve_version(c, a[0]),
              VERSIONS + " AND v.status = 'registered' ORDER BY v.version DESC LIMIT 1"),
        Query("list_datasets(owner=…)", lambda r: (r.choice(OWNERS),), lambda c, a: list_datasets(c, owner=a[0]),
              DATASETS + " WHERE d.owner = ? ORDER BY d.name"),
        Query("list_datasets(name_contains=…)", lambda r: (f"{r.randrange(100):02d}",),
              lambda c, a: list_datasets(c, name_contains=a[0]), DATASETS + " WHERE d.name LIKE ? ORDER BY d.name",
              lambda a: (f"%{a[0]}%",)),
        Query("list_datasets(limit=50) (CLI default)", lambda r: (), lambda c, a: list_datasets(c, limit=50),
              DATASETS + " ORDER BY d.name LIMIT 50"),
        Query("list_datasets() everything (--all)", lambda r: (), lambda c, a: list_datasets(c),
              DATASETS + " ORDER BY d.name"),
        Query("resolve_dataset_version('ds-1234@1')", lambda r: (r.choice(s.datasets), 1),
              lambda c, a: resolve_dataset_version(c, f"{a[0]}@{a[1]}"), DATASET_VERSION),
    ]  # fmt: skip


@dataclass
class Row:
    db: str
    name: str
    rows: float  # mean rows returned by a call
    charter: list[float]  # ms per call
    baseline: list[float]


def p99(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=100, method="inclusive")[98]


def ids(result: Any) -> list[str]:
    return [item.id for item in (result if isinstance(result, list) else [result])]


def timed(call: Callable[[Args], int], args: list[Args]) -> tuple[list[float], float]:
    """Milliseconds per call after WARMUP calls, and the mean number of rows returned."""
    for a in args[:WARMUP]:
        call(a)
    ms, rows = [], 0
    for a in args[WARMUP:]:
        start = time.perf_counter()
        rows += call(a)
        ms.append((time.perf_counter() - start) * 1000)
    return ms, rows / len(ms)


def measure(db: SQLite, q: Query, context: Context, conn: Any, args: list[Args]) -> Row:
    """Check the baseline returns the service's rows, then time both on the same arguments."""
    sql = q.sql if db.name == "SQLite" else q.sql.replace("?", "%s").replace("group_concat(", "string_agg(")
    want, got = ids(q.charter(context, args[0])), [r[0] for r in conn.execute(sql, q.params(args[0]))]
    if want != got:
        raise SystemExit(f"{db.name} {q.name}: the baseline returned other rows ({got[:3]} vs {want[:3]})")
    console.print(f"[dim]{db.name}: {q.name} x {len(args) - WARMUP}…")
    mine, rows = timed(lambda a: len(ids(q.charter(context, a))), args)
    plain, _ = timed(lambda a: len(conn.execute(sql, q.params(a)).fetchall()), args)
    return Row(db.name, q.name, rows, mine, plain)


def run(db: SQLite, quick: bool) -> list[Row]:
    n_models, n_versions, n_datasets, calls = (100, 100, 1_000, 50) if quick else (1_000, 100, 10_000, 200)
    engine = make_engine(db.url)
    try:
        upgrade(engine)
        console.print(f"[dim]{db.name}: seeding {n_models * n_versions:,} model versions, {n_datasets:,} datasets…")
        start = time.perf_counter()
        s = seed(engine, n_models, n_versions, n_datasets)
        db.settle()
        notes.append(f"{db.name}: seeded {n_models:,} models x {n_versions} versions and {n_datasets:,} datasets "
                     f"through units of work in {time.perf_counter() - start:.1f} s")  # fmt: skip
        context = Context(settings=load_settings(env={}, home=db.dir, database_url=db.url), engine=engine)
        conn, rng = db.connect(), random.Random(7)
        try:
            return [measure(db, q, context, conn, [q.pick(rng) for _ in range(WARMUP + calls)]) for q in queries(s)]
        finally:
            conn.close()
    finally:
        engine.dispose()


def show(rows: list[Row], calls: int) -> None:
    title = f"Charter registry reads, {calls} calls each (ratio = Charter p50 ÷ plain-SQL p50, same run, same data)"
    table = RichTable(title=title)
    for header in ("Database", "Query", "Rows", "p50 ms", "p99 ms", "max ms", "SQL p50", "SQL p99", "Charter/SQL"):
        table.add_column(header, justify="left" if header in ("Database", "Query") else "right")
    table.add_column(f"p99 < {TARGET_MS:.0f} ms")
    for r in rows:
        c50, c99, b50 = statistics.median(r.charter), p99(r.charter), statistics.median(r.baseline)
        verdict = "n/a (everything)" if EVERYTHING in r.name else "[green]met" if c99 < TARGET_MS else "[red]missed"
        table.add_row(r.db, r.name, f"{r.rows:,.0f}", f"{c50:.2f}", f"{c99:.2f}", f"{max(r.charter):.2f}",
                      f"{b50:.2f}", f"{p99(r.baseline):.2f}", f"{c50 / b50:.1f}x", verdict)  # fmt: skip
    console.print(table)
    for line in notes:
        console.print(line)
    missed = [r for r in rows if p99(r.charter) >= TARGET_MS and EVERYTHING not in r.name]
    for r in missed:
        console.print(f"Target MISSED, {r.db} {r.name}: p99 {p99(r.charter):.1f} ms (≥ {TARGET_MS:.0f} ms)")
    if not missed:
        console.print(f"Target met: every query p99 < {TARGET_MS:.0f} ms on {', '.join(sorted({r.db for r in rows}))}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark registry listing and search on SQLite and PostgreSQL.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer calls, for a quick look")
    quick = parser.parse_args().quick
    backends: list[SQLite] = [SQLite()]
    postgres = optional_postgres(console, ADMIN_URL, Postgres)
    if postgres is not None:
        backends.append(postgres)
    try:
        rows = [row for db in backends for row in run(db, quick)]
    finally:
        for db in backends:
            db.close()
    show(rows, 50 if quick else 200)


if __name__ == "__main__":
    main()
