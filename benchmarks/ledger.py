"""Benchmark Charter's audit ledger against plain driver loops, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/ledger.py [--quick]

Every database is made for the run (a temp SQLite file, a ``bench_<random>``
PostgreSQL schema) and removed at the end. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from _common import optional_postgres
from charter.clock import SystemClock
from charter.ledger import LedgerWriter, append, append_many, native
from charter.ledger.chain import chain_snapshot
from charter.ledger.encoding import ENTRY_VERSION, SEPARATOR
from charter.ledger.verify import verify
from charter.store.engine import SQLITE_WAL_AUTOCHECKPOINT_PAGES, make_engine
from charter.store.migrate import upgrade

ACTOR = "user:bench"
ACTION = "bench.appended"
ADMIN_URL = os.environ.get("CHARTER_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COLUMNS = "seq, ts, actor, action, subject, payload, prev_hash, hash"
APPEND_TARGET = 5_000  # entries/s, one process, SQLite
VERIFY_TARGET = 1_000_000  # entries/s
RUNS = 3  # single-process appends run this many times, alternating with the baseline; the table shows the median
PROCS = 8

console = Console(width=None if sys.stdout.isatty() else 170)
notes: list[str] = []  # printed under the table


@dataclass
class Row:
    db: str
    name: str
    entries: int
    seconds: float
    baseline: float | None = None  # entries/s of the plain baseline
    target: int | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.entries / self.seconds


class SQLite:
    """Hands out fresh migrated databases, and removes them all in :meth:`close`."""

    name = "SQLite"
    param = "?"
    lock = "SELECT seq, hash FROM ledger_head WHERE id = 1"
    begin: str | None = "BEGIN IMMEDIATE"

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="charter-bench-")

    def _new_url(self) -> str:
        return f"sqlite:///{os.path.join(self.dir, secrets.token_hex(4))}.db"

    def fresh(self) -> str:
        url = self._new_url()
        with self.engine(url) as engine:
            upgrade(engine)
        return url

    @contextlib.contextmanager
    def engine(self, url: str | None = None) -> Iterator[Engine]:
        engine = make_engine(url or self.fresh())
        try:
            yield engine
        finally:
            engine.dispose()

    def connect(self, url: str) -> Any:
        """A bare driver connection with Charter's SQLite settings (WAL, synchronous=NORMAL, WAL checkpoints)."""
        conn = sqlite3.connect(make_url(url).database or "", isolation_level=None, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        return conn

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres(SQLite):
    name = "PostgreSQL"
    param = "%s"
    lock = "SELECT seq, hash FROM ledger_head WHERE id = 1 FOR UPDATE"
    begin = None  # psycopg opens the transaction itself

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://"))
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        self.schemas: list[str] = []
        self.admin.connect().close()  # raises if the server is unreachable

    def _new_url(self) -> str:
        schema = f"bench_{secrets.token_hex(6)}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        return self.admin_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)

    def connect(self, url: str) -> Any:
        return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))

    def close(self) -> None:
        with self.admin.connect() as connection:
            for schema in self.schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.admin.dispose()


def payload(i: int, tags: bool = False) -> dict[str, Any]:
    return {"i": i, "owner": "alice", "tags": ["a", "b"]} if tags else {"i": i, "owner": "alice"}


def charter_append(engine: Engine, n: int, *, writer: bool) -> float:
    """Seconds for ``n`` appends, one entry per transaction: ``append`` (a pooled connection
    each time) or a ``LedgerWriter`` (one connection held, like the baseline)."""
    clock = SystemClock()
    start = time.perf_counter()
    if writer:
        with LedgerWriter(engine, actor=ACTOR, clock=clock) as held:
            for i in range(n):
                held.append(ACTION, f"model:m{i % 100}", payload(i))
    else:
        for i in range(n):
            append(engine, actor=ACTOR, clock=clock, action=ACTION, subject=f"model:m{i % 100}", payload=payload(i))
    return time.perf_counter() - start


def charter_append_many(engine: Engine, n: int, batch: int, tags: bool = False) -> float:
    clock = SystemClock()
    start = time.perf_counter()
    for first in range(0, n, batch):
        specs = [(ACTION, f"model:m{i % 100}", payload(i, tags)) for i in range(first, min(first + batch, n))]
        append_many(engine, specs, actor=ACTOR, clock=clock)
    return time.perf_counter() - start


def raw_append(db: SQLite, url: str, n: int, batch: int) -> float:
    """Seconds for the same statements and hashing on a bare driver connection, ``batch`` entries a transaction."""
    insert = f"INSERT INTO ledger_entries ({COLUMNS}) VALUES ({', '.join([db.param] * 8)})"
    move = f"UPDATE ledger_head SET seq = {db.param}, hash = {db.param} WHERE id = 1"
    conn = db.connect(url)
    cursor = conn.cursor()
    try:
        start = time.perf_counter()
        for first in range(0, n, batch):
            if db.begin:
                cursor.execute(db.begin)
            cursor.execute(db.lock)
            seq, prev = cursor.fetchone()
            rows = []
            for i in range(first, min(first + batch, n)):
                seq += 1
                ts = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
                body = json.dumps(payload(i), sort_keys=True, separators=(",", ":"))
                row = (seq, ts, ACTOR, ACTION, f"model:m{i % 100}", body, prev)
                prev = hashlib.sha256(SEPARATOR.join((ENTRY_VERSION, *map(str, row))).encode()).hexdigest()
                rows.append((*row, prev))
            if len(rows) == 1:
                cursor.execute(insert, rows[0])
            else:
                cursor.executemany(insert, rows)
            cursor.execute(move, (seq, prev))
            conn.commit()
        return time.perf_counter() - start
    finally:
        conn.close()


def verified(engine: Engine, expected: int, *, native_pass: bool = True) -> float:
    """Seconds to verify the whole chain end to end; exits unless it is intact with ``expected`` entries.

    ``native_pass=False`` sets CHARTER_NATIVE=0: the pure-Python pass, as on PostgreSQL.
    """
    saved = os.environ.get("CHARTER_NATIVE")
    os.environ["CHARTER_NATIVE"] = "1" if native_pass else "0"
    try:
        return _verified(engine, expected)
    finally:
        if saved is None:
            os.environ.pop("CHARTER_NATIVE", None)
        else:
            os.environ["CHARTER_NATIVE"] = saved


def _verified(engine: Engine, expected: int) -> float:
    start = time.perf_counter()
    with chain_snapshot(engine) as snap:
        report = verify(snap, public_key=None)
    seconds = time.perf_counter() - start
    if not report.ok or report.entries != expected:
        problems = [p.message for p in report.problems[:3]]
        raise SystemExit(
            f"ledger check FAILED: ok={report.ok}, {report.entries:,} entries (want {expected:,}) {problems}"
        )
    return seconds


def _worker(url: str, n: int, ready: Any, go: Any, results: Any) -> None:
    try:
        engine, clock = make_engine(url), SystemClock()
        engine.connect().close()  # open the pooled connection before the clock starts
        ready.put(os.getpid())
        go.wait()
        for i in range(n):
            append(engine, actor=ACTOR, clock=clock, action=ACTION, subject=f"model:m{i % 100}", payload=payload(i))
        results.put(("done", time.time()))
        engine.dispose()
    except BaseException as exc:
        results.put(("error", repr(exc)))
        raise


def multi_process_append(url: str, n: int) -> float:
    """Seconds from the start signal until the last of PROCS spawned processes has appended its ``n`` entries."""
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers = [ctx.Process(target=_worker, args=(url, n, ready, go, results), daemon=True) for _ in range(PROCS)]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=120)
    start = time.time()
    go.set()
    outcomes = [results.get(timeout=900) for _ in workers]
    for w in workers:
        w.join()
    errors = [detail for kind, detail in outcomes if kind == "error"]
    if errors or any(w.exitcode for w in workers):
        raise SystemExit(f"{PROCS}-process append FAILED: {errors or [w.exitcode for w in workers]}")
    return max(float(t) for _, t in outcomes) - start


def fetch_and_hash(db: SQLite, url: str) -> tuple[float, float, float]:
    """Seconds to fetch every row with the bare driver, seconds to hash their preimages, mean preimage bytes."""
    conn = db.connect(url)
    try:
        start = time.perf_counter()
        cursor = conn.cursor()
        cursor.execute(f"SELECT {COLUMNS} FROM ledger_entries ORDER BY seq")
        rows = cursor.fetchall()
        fetch = time.perf_counter() - start
    finally:
        conn.close()
    preimages = [SEPARATOR.join((ENTRY_VERSION, str(r[0]), *r[1:7])).encode() for r in rows]
    del rows
    sha256 = hashlib.sha256
    start = time.perf_counter()
    for b in preimages:
        sha256(b).hexdigest()
    return fetch, time.perf_counter() - start, sum(map(len, preimages)) / len(preimages)


def run(db: SQLite, quick: bool) -> list[Row]:
    sqlite = db.name == "SQLite"
    n_single = (5_000 if quick else 20_000) if sqlite else 5_000
    n_batched, n_proc, n_verify = (20_000, 250, 200_000) if quick else (100_000, 1_000, 1_000_000)
    rows: list[Row] = []

    console.print(f"[dim]{db.name}: append, {RUNS} x {n_single:,} entries each for Charter and the baseline…")
    pooled, held, plain = [], [], []
    for _ in range(RUNS):
        with db.engine() as engine:
            pooled.append(n_single / charter_append(engine, n_single, writer=False))
        with db.engine() as engine:
            held.append(n_single / charter_append(engine, n_single, writer=True))
        plain.append(n_single / raw_append(db, db.fresh(), n_single, batch=1))
    each = ", ".join(f"{a:,.0f} / {b:,.0f} / {c:,.0f}" for a, b, c in zip(pooled, held, plain, strict=True))
    notes.append(
        f"{db.name} append, 1 entry/transaction, each run (append() / LedgerWriter / baseline, entries/s): {each}"
    )
    target, median = APPEND_TARGET if sqlite else None, statistics.median(plain)
    note = f"median of {RUNS} runs, see below"
    for name, rates in (("append(), 1 entry/transaction", pooled), ("LedgerWriter.append, 1 entry/tx", held)):
        rows.append(Row(db.name, name, n_single, n_single / statistics.median(rates), median, target, note))

    console.print(f"[dim]{db.name}: append_many, {n_batched:,} entries in calls of 1,000…")
    with db.engine() as engine:
        seconds = charter_append_many(engine, n_batched, 1_000)
        verified(engine, n_batched)
    base = n_batched / raw_append(db, db.fresh(), n_batched, batch=1_000)
    rows.append(Row(db.name, "append_many, 1,000 entries/call", n_batched, seconds, base))

    console.print(f"[dim]{db.name}: {PROCS} spawned processes x {n_proc:,} appends…")
    url = db.fresh()
    seconds = multi_process_append(url, n_proc)
    with db.engine(url) as engine:
        verified(engine, PROCS * n_proc)
    rows.append(Row(db.name, f"append, {PROCS} processes", PROCS * n_proc, seconds, note="chain verified: ok, gapless"))

    console.print(f"[dim]{db.name}: filling {n_verify:,} entries (append_many, 20,000 a call), then verify…")
    with db.engine() as engine:
        fill = charter_append_many(engine, n_verify, 20_000, tags=True)
        seconds = verified(engine, n_verify)
        python_seconds = verified(engine, n_verify, native_pass=False) if sqlite and native.available() else None
        fetch, hashing, size = fetch_and_hash(db, engine.url.render_as_string(False))
    rows.append(Row(db.name, "append_many, 20,000 entries/call (fill)", n_verify, fill))
    note = f"baseline: bare sha256().hexdigest() loop, {size:.0f}-byte preimages"
    how = "native pass, all cores" if sqlite and native.available() else "Python pass"
    rows.append(Row(db.name, f"verify ({how})", n_verify, seconds, n_verify / hashing, VERIFY_TARGET, note))
    if python_seconds is not None:
        rows.append(
            Row(db.name, "  verify, CHARTER_NATIVE=0 (Python pass)", n_verify, python_seconds, n_verify / hashing)
        )
    note = f"bare driver fetchall: {fetch / seconds:.0%} of the verify time"
    rows.append(Row(db.name, "  fetch rows only (no hashing)", n_verify, fetch, note=note))
    return rows


def show(rows: list[Row]) -> None:
    table = Table(title="Charter audit ledger (ratio = Charter ÷ baseline, same run, same machine)")
    for header in ("Database", "Benchmark", "Entries", "Seconds", "Entries/s", "Baseline/s", "Ratio", "Target"):
        table.add_column(header, justify="left" if header in ("Database", "Benchmark") else "right")
    table.add_column("Note")
    for r in rows:
        base = ("", "") if r.baseline is None else (f"{r.baseline:,.0f}", f"{r.rate / r.baseline:.2f}x")
        met = "" if r.target is None else f"≥ {r.target:,} " + ("[green]met" if r.rate >= r.target else "[red]missed")
        table.add_row(r.db, r.name, f"{r.entries:,}", f"{r.seconds:.2f}", f"{r.rate:,.0f}", *base, met, r.note)
    console.print(table)
    for line in notes:
        console.print(line)
    for r in rows:
        if r.target is not None:
            verdict = "met" if r.rate >= r.target else "MISSED"
            console.print(f"Target, {r.db} {r.name}: ≥ {r.target:,} entries/s; measured {r.rate:,.0f}/s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark Charter's audit ledger on SQLite and PostgreSQL.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    quick = parser.parse_args().quick
    backends: list[SQLite] = [SQLite()]
    postgres = optional_postgres(console, ADMIN_URL, Postgres)
    if postgres is not None:
        backends.append(postgres)
    rows: list[Row] = []
    try:
        for db in backends:
            rows += run(db, quick)
    finally:
        for db in backends:
            db.close()
    show(rows)


if __name__ == "__main__":
    main()
