"""Benchmark decision ingest over HTTP: POST /api/v1/decisions:batch against a real uvicorn server.

    .venv/bin/python benchmarks/ingest.py [--quick] [--batches N] [--concurrency C] [--workers W]

A temporary home gets credit-risk@1 (20 number features) and a developer token. The server is
``charter serve [--workers W]`` in its own process on 127.0.0.1; this process is the client. The load is
bounded: a fixed number of SDK-shaped batches of 1,000 decisions (built by the SDK's own
``DecisionLogger`` into memory, then encoded as Arrow IPC streams beforehand), sent over ``C``
kept-alive connections (at most ``C`` requests in flight). Each request is answered once its rows
are committed and anchored. Target: >= 50,000 decisions/s sustained.

The floor is the same batches written in this process through ``LakeSink`` (what the embedded SDK
uses: masking, row hashes, one Delta commit and one ledger anchor per batch), one after another.
Afterwards the lake is checked (every decision once, anchors verified) and a replay of the first
batches must come back as duplicates only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

MODEL = "credit-risk"
FEATURES = [f"x{i}" for i in range(20)]
TARGET = 50_000


def make_home(home: Path) -> str:
    """A home with credit-risk@1 (20 features) on prod; returns a developer token."""
    from charter.config import load_settings
    from charter.services.aliases import set_alias
    from charter.services.artifacts import digest_path
    from charter.services.context import open_context
    from charter.services.home import init_home
    from charter.services.registry import ModelSpec, register_model, register_version
    from charter.services.tokens import create_token

    settings = load_settings(env={}, home=home, actor="bench:setup")
    init_home(settings)
    with open_context(settings) as context:
        register_model(context, ModelSpec(name=MODEL, task="binary_classification", risk_tier="high"))
        (home / "model.bin").write_bytes(b"weights")
        schema = {"features": [{"name": name, "type": "number"} for name in FEATURES]}
        register_version(context, MODEL, digest_path(home / "model.bin"), input_schema=schema)
        set_alias(context, f"{MODEL}@1", "prod")
        _, secret = create_token(context, "svc:bench", roles=("developer",), name="bench")
    return secret


def sdk_batches(count: int, spool: Path) -> list[pa.RecordBatch]:
    """``count`` batches of 1,000 decisions exactly as the SDK's logger builds them."""
    from charter.sdk import DecisionLogger, MemorySink

    sink = MemorySink()
    logger = DecisionLogger(sink, model=MODEL, version=1, alias="prod", registered=True, features=FEATURES,
                            spool_dir=spool, batch_rows=1_000, queue_size=2_000_000)  # fmt: skip
    rng = np.random.default_rng(7)
    for _ in range(count):
        x = rng.normal(size=(1_000, 20))
        logger.log(x, (x[:, 0] > 0).astype(np.int64), scores=rng.random(1_000), latency_ms=0.4)
    assert logger.close(timeout=120)
    table = sink.decisions(MODEL).combine_chunks()
    return [table.slice(i * 1_000, 1_000).to_batches()[0] for i in range(count)]


def ipc(batch: pa.RecordBatch) -> bytes:
    stream = pa.BufferOutputStream()
    with pa.ipc.new_stream(stream, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(stream.getvalue().to_pybytes())


def floor(batches: list[pa.RecordBatch], home: Path) -> float:
    """Decisions/s writing the batches one by one through LakeSink in this process."""
    from charter.config import load_settings
    from charter.services.decisions import LakeSink
    from charter.services.home import init_home

    settings = load_settings(env={}, home=home, actor="bench:floor")
    init_home(settings)
    sink = LakeSink(settings)
    started = time.perf_counter()
    for batch in batches:
        sink.write_decisions(MODEL, batch)
    seconds = time.perf_counter() - started
    sink.close()
    return len(batches) * 1_000 / seconds


def start_server(home: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    # The server as users run it: `charter serve`, with its --workers.
    command = [sys.executable, "-m", "charter", "--home", str(home), "serve", "--port", str(port), "--workers",
               str(workers)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ, "CHARTER_ACTOR": "bench:server"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the server did not start")


Answers = list[dict[str, Any]]


def load(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], Answers]:
    """Send every body once over ``concurrency`` connections; (seconds, latencies, answers)."""
    import json

    latencies: list[float] = [0.0] * len(bodies)
    answers: Answers = [{}] * len(bodies)
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.apache.arrow.stream"}

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            sent = time.perf_counter()
            connection.request("POST", f"/api/v1/decisions:batch?model={MODEL}", body=bodies[i], headers=headers)
            response = connection.getresponse()
            data = response.read()
            latencies[i] = time.perf_counter() - sent
            if response.status != 200:
                raise SystemExit(f"request {i}: {response.status} {data[:300]!r}")
            answers[i] = json.loads(data)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, answers


def check_lake(home: Path, expected: int) -> None:
    from charter.config import load_settings
    from charter.services.context import open_context
    from charter.services.lake import lake_of, verify_lake

    with open_context(load_settings(env={}, home=home)) as context:
        rows = lake_of(context).table(MODEL).count()
        report = verify_lake(context, MODEL)
    if rows != expected or not report.ok:
        sys.exit(f"the lake holds {rows:,} rows (expected {expected:,}); verification ok: {report.ok}")
    print(f"lake: {rows:,} decisions, each once; verify_lake ok ({report.batches} anchored commits)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 batches instead of 300")
    parser.add_argument("--batches", type=int, default=None, help="batches of 1,000 decisions to send")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (connections)")
    parser.add_argument("--workers", type=int, default=1, help="charter serve --workers (default 1)")
    args = parser.parse_args()
    count = args.batches or (60 if args.quick else 300)
    with tempfile.TemporaryDirectory(prefix="charter-ingest-") as folder:
        root = Path(folder)
        token = make_home(root / "server")
        print(f"building {count} SDK batches of 1,000 decisions x 20 features ...", flush=True)
        batches = sdk_batches(count, root / "spool")
        bodies = [ipc(b) for b in batches]
        print(f"body size: {len(bodies[0]):,} bytes (Arrow IPC stream)")
        process, port = start_server(root / "server", args.workers)
        try:
            load(port, token, bodies[:2], 1)  # warm up: imports, first Delta table, index
            seconds, latencies, answers = load(port, token, bodies[2:], args.concurrency)
            replay_seconds, _, replayed = load(port, token, bodies[2:12], 4)
        finally:
            process.terminate()
            process.wait(30)
        written = sum(a["written"] for a in answers)
        rate = written / seconds
        ms = sorted(x * 1000 for x in latencies[2:])
        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        if written != (count - 2) * 1_000 or any(a["duplicates"] for a in answers):
            sys.exit(f"written {written:,}, expected {(count - 2) * 1_000:,}")
        if any(a["written"] or a["duplicates"] != 1_000 for a in replayed):
            sys.exit(f"a replayed batch was written again: {replayed}")
        check_lake(root / "server", count * 1_000)
        print(f"replay of 10 batches: all duplicates, {replay_seconds * 100:.0f} ms per batch")
        print(f"floor: LakeSink in-process, the same {count} batches one commit each ...", flush=True)
        lake_rate = floor(batches, root / "floor")
    verdict = "met" if rate >= TARGET else "NOT met"
    print()
    print(f"{'HTTP ingest, ' + str(args.concurrency) + ' connections':<44} {rate:>12,.0f} decisions/s  "
          f"(p50 {p50:.0f} ms, p99 {p99:.0f} ms per 1,000-decision request)")  # fmt: skip
    print(f"{'LakeSink in-process (floor)':<44} {lake_rate:>12,.0f} decisions/s")
    print(f"{'ratio HTTP / floor':<44} {rate / lake_rate:>12.2f}x")
    print(f"target >= {TARGET:,} decisions/s: {verdict}")


if __name__ == "__main__":
    main()
