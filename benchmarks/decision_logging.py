"""Benchmark decision logging: what wrapping adds to a predict, and decisions/s into memory and into the lake.

    .venv/bin/python benchmarks/decision_logging.py [--quick]

1. Time added to a wrapped single-row predict (a trivial model, 20 features) over the bare model:
   bare and wrapped calls interleaved in blocks of 100, per-call perf_counter_ns, p50/p90/p99.
   Target: p50 <= 20 us added.
2. Decisions/s enqueued and written to an in-memory sink: 1,000-row batches of 20 features
   (target >= 1,000,000/s) and single-row calls (target >= 100,000/s); and the CPU time the
   calling thread spent per decision (the rest is the background writer's).
3. The same 1,000-row batches into the real decision lake of a temporary home (Delta commits,
   row hashes, manifests, ledger anchors): what a deployment gets end to end.
4. Peak memory while logging 1,000,000 decisions into a sink slower than the caller: with a
   bounded queue (10,000 decisions, overflow=block) it stays flat however long the stream; with a
   queue larger than the stream it grows with the backlog.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from charter.config import load_settings
from charter.sdk import DecisionLogger, MemorySink, wrap

FEATURES = [f"x{i}" for i in range(20)]


class Trivial:
    def predict(self, X: np.ndarray) -> np.ndarray:
        return X[:, 0] > 0


def percentiles(ns: list[int]) -> tuple[float, float, float]:
    a = np.array(ns) / 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 90)), float(np.percentile(a, 99))


def overhead(spool: Path, calls: int = 20_000) -> None:
    sink = MemorySink()
    logger = DecisionLogger(sink, model="m", features=FEATURES, spool_dir=spool, queue_size=1_000_000)
    bare = Trivial()
    governed = wrap(bare, logger)
    row = np.random.default_rng(0).normal(size=(1, 20))
    row_dict = dict(zip(FEATURES, row[0].tolist(), strict=True))
    for _ in range(2_000):  # warm up
        bare.predict(row)
        governed.predict(row)
    bare_ns: list[int] = []
    wrapped_ns: list[int] = []
    log_ns: list[int] = []
    log_dict_ns: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(calls // 100):
        for _ in range(100):
            t = clock()
            bare.predict(row)
            bare_ns.append(clock() - t)
        for _ in range(100):
            t = clock()
            governed.predict(row)
            wrapped_ns.append(clock() - t)
        for _ in range(100):
            t = clock()
            logger.log(row, 1)
            log_ns.append(clock() - t)
        for _ in range(100):
            t = clock()
            logger.log(row_dict, 1)
            log_dict_ns.append(clock() - t)
    assert logger.flush(timeout=60)
    b, w = percentiles(bare_ns), percentiles(wrapped_ns)
    print(f"bare predict, 1x20 numpy row      p50 {b[0]:6.2f} us  p90 {b[1]:6.2f}  p99 {b[2]:6.2f}")
    print(f"wrapped predict, same row         p50 {w[0]:6.2f} us  p90 {w[1]:6.2f}  p99 {w[2]:6.2f}")
    print(f"  added by wrap (p50 - p50)       {w[0] - b[0]:6.2f} us   (p99 - p99: {w[2] - b[2]:.2f} us)")
    lg, ld = percentiles(log_ns), percentiles(log_dict_ns)
    print(f"logger.log(1x20 numpy row, 1)     p50 {lg[0]:6.2f} us  p90 {lg[1]:6.2f}  p99 {lg[2]:6.2f}")
    print(f"logger.log(dict of 20 scalars, 1) p50 {ld[0]:6.2f} us  p90 {ld[1]:6.2f}  p99 {ld[2]:6.2f}")
    stats = logger.stats
    print(f"  written {stats.written:,}, dropped {stats.dropped}, errors {stats.errors}, sink calls {sink.calls}")
    logger.close()


def throughput(spool: Path, *, batch: int, total: int, runs: int = 3) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(batch, 20))
    y = rng.integers(0, 2, size=batch)
    p = rng.random(batch)
    rates = []
    for run in range(runs):
        sink = MemorySink()
        logger = DecisionLogger(sink, model=f"t{batch}-{run}", features=FEATURES, spool_dir=spool)
        calls = total // batch
        start = time.perf_counter()
        cpu = time.thread_time()  # the calling thread's CPU time: what log() costs it, GIL waits aside
        if batch == 1:
            row = X[0]
            for _ in range(calls):
                logger.log(row, 1, scores=0.5)
        else:
            for _ in range(calls):
                logger.log(X, y, scores=p)
        enqueued = time.perf_counter()
        cpu = time.thread_time() - cpu
        assert logger.flush(timeout=120)
        done = time.perf_counter()
        assert sink.decisions(logger.model).num_rows == total, logger.stats
        rates.append(total / (done - start))
        print(
            f"  run {run}: {total:,} decisions, log() loop {enqueued - start:.3f} s "
            f"({total / (enqueued - start):,.0f}/s), flushed at {done - start:.3f} s -> {total / (done - start):,.0f}/s"
            f"; sink calls {sink.calls}; caller CPU {cpu / total * 1e6:.2f} us/decision"
        )
        logger.close()
    label = "1,000-row batches x 20 features" if batch > 1 else "single-row calls, 20 features"
    print(f"{label}: median {statistics.median(rates):,.0f} decisions/s enqueued+written")


def into_the_lake(total: int) -> None:
    from charter.sdk.client import Charter
    from charter.services.context import open_context
    from charter.services.home import init_home
    from charter.services.lake import lake_of, verify_lake

    home = Path(tempfile.mkdtemp()) / "home"
    settings = load_settings(home=home, database_url=f"sqlite:///{home}/charter.db")
    init_home(settings)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(1000, 20)), rng.integers(0, 2, size=1000)
    cx = Charter(settings)
    start = time.perf_counter()
    for _ in range(total // 1000):
        cx.log_decisions("bench-model", X, y)
    enqueued = time.perf_counter()
    assert cx.flush(timeout=600)
    done = time.perf_counter()
    cx.close()
    with open_context(settings) as context:
        rows = lake_of(context).table("bench-model").count()
        ok = verify_lake(context, "bench-model").ok
    print(
        f"into the lake, 1,000-row batches x 20 features: {total:,} decisions, log() loop {enqueued - start:.2f} s, "
        f"written and anchored at {done - start:.2f} s -> {total / (done - start):,.0f} decisions/s "
        f"({rows:,} rows in the table, lake verifies: {ok})"
    )


class SlowSink:
    """A sink that takes 5 ms per batch and keeps nothing: what piles up is the logger's queue."""

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        time.sleep(0.005)

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        pass


def peak_memory(spool: Path, *, total: int) -> None:
    """Peak resident memory of a process logging ``total`` decisions (1,000-row batches of 20 features)
    into a sink slower than the caller, for a bounded queue (overflow=block) and for a queue larger
    than the stream; each case in a fresh process, measured above the same process before logging."""
    import subprocess

    for queue_size in (10_000, 10 * total):
        script = (
            "import resource, sys, time; sys.path.insert(0, 'benchmarks'); import numpy as np;"
            "from decision_logging import SlowSink, FEATURES; from charter.sdk import DecisionLogger;"
            "X = np.random.default_rng(3).normal(size=(1000, 20)); y = np.zeros(1000, dtype=np.int64);"
            f"lg = DecisionLogger(SlowSink(), model='m', features=FEATURES, spool_dir={str(spool)!r},"
            f" queue_size={queue_size}, overflow='block'); lg.log(X, y); lg.flush(60);"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
            f"exec('for _ in range({total // 1000}): lg.log(X, y)'); lg.close(600);"  # the ids are not kept
            "print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1])  # fmt: skip
        base, peak = (int(v) for v in done.stdout.split())
        payload = 1000 * 20 * 8 + 1000 * 8  # one batch's features and predictions, bytes
        print(f"peak memory logging {total:,} decisions into a slow sink, queue {queue_size:,}: "
              f"+{(peak - base) / 1024:,.1f} MiB over the process before logging "
              f"(the stream's payload is {total // 1000 * payload / 2**20:,.1f} MiB)")  # fmt: skip


def main() -> None:
    quick = "--quick" in sys.argv
    spool = Path(tempfile.mkdtemp()) / "spool"
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    overhead(spool, calls=5_000 if quick else 20_000)
    throughput(spool, batch=1000, total=100_000 if quick else 500_000)
    throughput(spool, batch=1, total=20_000 if quick else 100_000)
    into_the_lake(20_000 if quick else 200_000)
    peak_memory(spool, total=200_000 if quick else 1_000_000)
    print("targets: wrap adds p50 <= 20 us; >= 1,000,000 decisions/s for 1,000-row batches; >= 100,000/s single rows")


if __name__ == "__main__":
    main()
