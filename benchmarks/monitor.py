"""Benchmark a monitor run over a 1,000,000-decision window of the Delta lake (issue #7: <= 1 s).

    .venv/bin/python benchmarks/monitor.py [--quick] [--evidently-python PATH] [--no-evidently]

Builds, once, in a temp folder: a decisions table of 1,000,000 decisions with 20 float64
features (f0-f4 shifted 0.1 sigma, f5-f9 scaled 1.2x against the reference), a group
attribute, scores, predictions and latencies, written through the lake's own API
(`DecisionLake.append`: row hashes, manifests, 10 commits of 100,000), outcomes for half the
decisions, and a 1,000,000 x 20 reference saved as Parquet. Then, each side in its own
process: Charter's `LocalEngine.compute` for `data_drift` against the reference's profile
(and every other kind), Evidently's DataDriftPreset on the same rows (its own venv, as
benchmarks/drift.py runs it), and a plain pyarrow + numpy pass (the floor). See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _spawn import spawn_worker

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = ROOT / ".bench" / "evidently" / "bin" / "python"
TARGET_SECONDS = 1.0
RUNS = 5
MODEL = "credit-risk"
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SHIFTED, SCALED = range(5), range(5, 10)
COMMITS = 10


def names(features: int) -> list[str]:
    return [f"f{i}" for i in range(features)]


# --- the data, built once --------------------------------------------------------------------


def build(folder: Path, rows: int, features: int) -> None:
    """The reference (Parquet) and the lake: decisions through DecisionLake.append, outcomes for half."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from charter.lake.schema import TIMESTAMP
    from charter.lake.table import DecisionLake
    from charter.sdk.uuids import new_decision_ids

    rng = np.random.default_rng(20261122)
    reference = rng.normal(0.0, 1.0, (features, rows))
    pq.write_table(pa.table(dict(zip(names(features), reference, strict=True))), folder / "reference.parquet")
    current = rng.normal(0.0, 1.0, (features, rows))
    current[list(SHIFTED)] += 0.1
    current[list(SCALED)] *= 1.2
    lake = DecisionLake(folder / "lake")
    step = rows // COMMITS
    for part in range(COMMITS):
        lo, hi = part * step, rows if part == COMMITS - 1 else (part + 1) * step
        n = hi - lo
        _, ids = new_decision_ids(n)
        score = 1 / (1 + np.exp(-current[0, lo:hi]))
        stamps = np.datetime64(START.replace(tzinfo=None), "us") + (np.arange(lo, hi) * 3_000_000).astype(
            "timedelta64[us]"
        )
        columns: dict[str, Any] = {
            "decision_id": ids,
            "ts": pa.array(stamps, type=TIMESTAMP),
            "model_version": pa.array(np.full(n, 3, dtype=np.int64)),
            "alias": pa.array(["prod"] * n, type=pa.string()),
            "registered": pa.array(np.ones(n, dtype=bool)),
            "latency_ms": rng.lognormal(1.0, 0.6, n),
            "score": score,
            "prediction": (score >= 0.5).astype(np.int64),
            "group_sex": pa.array(rng.choice(["F", "M", "X"], n).tolist()),
        }
        columns.update({name: current[i, lo:hi] for i, name in enumerate(names(features))})
        table = pa.table(columns)
        lake.append(MODEL, "decisions", table, batch_id=f"bench-{part}")
        half = table.filter(pa.array(rng.random(n) < 0.5))
        labels = (rng.random(half.num_rows) < half.column("score").to_numpy()).astype(np.int64)
        outcomes = pa.table({"decision_id": half.column("decision_id"), "ts": half.column("ts"), "label": labels})
        lake.append(MODEL, "outcomes", outcomes, batch_id=f"bench-outcomes-{part}")


def _window() -> Any:
    from charter.engines import Window

    return Window(start=START, end=START + dt.timedelta(days=400))


def _median(function: Any, runs: int) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


# --- the sides, each in its own process --------------------------------------------------------


def run_charter(folder: Path, features: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from charter.engines import LocalEngine, MonitorSpec
    from charter.lake.table import DecisionLake
    from charter.metrics.anomaly import AnomalyModel
    from charter.metrics.drift_report import profile_report
    from charter.metrics.summary import ReferenceProfile

    reference = pq.read_table(folder / "reference.parquet")
    profile = ReferenceProfile.fit(reference)  # stored with the dataset version: not part of a run
    lake = DecisionLake(folder / "lake")
    engine = LocalEngine(lake)
    window, drift = _window(), MonitorSpec("data_drift")
    start = time.perf_counter()
    first = engine.compute(MODEL, drift, window, reference=profile)
    cold = time.perf_counter() - start  # the first run in a process also loads the kernels and Delta
    seconds, times, result = _median(lambda: engine.compute(MODEL, drift, window, reference=profile), RUNS)
    assert result.to_dict() == first.to_dict()

    # where the time goes: the Delta read alone (same columns, same batches), then the summaries and report
    columns = names(features)
    batch_rows = engine.rows_per_batch(reference.schema, columns)
    read, _, _ = _median(
        lambda: sum(b.num_rows for b in lake.read(MODEL, columns=columns, batch_rows=batch_rows)), RUNS
    )
    batches = _joined(list(lake.read(MODEL, columns=columns, batch_rows=batch_rows)), batch_rows)
    summarise, _, summary = _median(lambda: profile.summarise_batches(batches), RUNS)
    report, _, _ = _median(lambda: profile_report(profile, summary), RUNS)
    batches.clear()

    sample = reference.slice(0, 100_000)
    context = {
        "task": "binary_classification",
        "approved": {(3, "prod")},
        "anomaly_model": AnomalyModel.fit(sample),
        "input_schema": {"features": [{"name": n, "type": "number", "min": -4.0, "max": 4.0} for n in columns]},
    }
    specs = [
        MonitorSpec("data_quality"),
        MonitorSpec("performance"),
        MonitorSpec("estimated_performance"),
        MonitorSpec("fairness", group="sex"),
        MonitorSpec("latency"),
        MonitorSpec("volume"),
        MonitorSpec("input_anomaly"),
        MonitorSpec("shadow"),
    ]
    others = {}
    for spec in specs:
        took, _, done = _median(lambda s=spec: engine.compute(MODEL, s, window, reference=profile, context=context), 3)
        others[spec.kind] = {"seconds": took, "values": len(done.values), "rows": done.rows}
    every, _, _ = _median(
        lambda: engine.compute_many(MODEL, [drift, *specs], window, reference=profile, context=context), 3
    )
    return {
        "seconds": seconds,
        "times": times,
        "cold": cold,
        "cpu_seconds": _cpu(lambda: engine.compute(MODEL, drift, window, reference=profile)),
        "read": read,
        "summarise": summarise,
        "report": report,
        "batch_rows": batch_rows,
        "rows": result.rows,
        "drifted": [v.metric.split(":")[1] for v in result.values[1:] if v.details["drifted"]],
        "share": result.value("drift.share_drifted"),
        "others": others,
        "all_in_one_read": every,
    }


def _joined(batches: list[Any], rows: int) -> list[Any]:
    """Small batches (one a Delta file) joined up to ``rows``, as the engine joins them."""
    import pyarrow as pa

    groups: list[list[Any]] = [[]]
    for batch in batches:
        if sum(b.num_rows for b in groups[-1]) >= rows:
            groups.append([])
        groups[-1].append(batch)
    return [pa.Table.from_batches(group).combine_chunks().to_batches()[0] for group in groups if group]


def _cpu(function: Any) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def _data_files(folder: Path) -> list[str]:
    from deltalake import DeltaTable

    return [str(uri) for uri in DeltaTable(str(folder / "lake" / MODEL / "decisions")).file_uris()]


def run_numpy(folder: Path, features: int) -> dict[str, Any]:
    """The floor: pyarrow reads the same Parquet files, numpy computes the same test (Wasserstein / std).

    Histograms of 1,000 equal-width bins over the reference's range (the reference side made
    beforehand, as a profile is), one np.bincount per column, one thread.
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    columns = names(features)
    reference = pq.read_table(folder / "reference.parquet")
    sides = []
    for name in columns:
        values = reference.column(name).to_numpy()
        low, high = float(values.min()), float(values.max())
        cells = np.clip(((values - low) * (1000 / (high - low))).astype(np.intp), 0, 999)
        sides.append((low, high, np.bincount(cells, minlength=1000) / len(values), float(values.std())))
    files = _data_files(folder)

    def floor() -> list[float]:
        table = ds.dataset(files, format="parquet").to_table(columns=columns)
        scores = []
        for name, (low, high, ref, std) in zip(columns, sides, strict=True):
            values = table.column(name).to_numpy()
            cells = np.clip(((values - low) * (1000 / (high - low))).astype(np.intp), 0, 999)
            cur = np.bincount(cells, minlength=1000) / len(values)
            scores.append(float(np.abs(np.cumsum(ref - cur)).sum() * (high - low) / 1000 / std))
        return scores

    seconds, _, scores = _median(floor, RUNS)
    return {"seconds": seconds, "drifted": sum(s >= 0.1 for s in scores)}


def run_evidently(folder: Path, features: int) -> dict[str, Any]:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = names(features)
    ref = pq.read_table(folder / "reference.parquet").to_pandas()
    files = json.loads((folder / "files.json").read_text())
    start = time.perf_counter()
    cur = ds.dataset(files, format="parquet").to_table(columns=columns).to_pandas()
    read = time.perf_counter() - start
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    metrics = snapshot.dict()["metrics"]
    seconds = time.perf_counter() - start
    drifted = next(m["value"]["count"] for m in metrics if m["metric_name"].startswith("DriftedColumnsCount"))
    return {"seconds": seconds, "read": read, "drifted": drifted}


WORKERS = {"charter": run_charter, "numpy": run_numpy, "evidently": run_evidently}


# --- the driver ------------------------------------------------------------------------------


def _spawn(python: str, side: str, folder: Path, features: int) -> dict[str, Any]:
    return spawn_worker(python, __file__, side, "--folder", str(folder), "--features", str(features))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 decisions instead of 1,000,000")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--evidently-python", default=str(EVIDENTLY_PYTHON))
    parser.add_argument("--no-evidently", action="store_true", help="skip Evidently (minutes at full size)")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](Path(args.folder), args.features)))
        return
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    evidently = not args.no_evidently
    if evidently and not Path(args.evidently_python).exists():
        sys.exit(f"no Evidently venv at {args.evidently_python}: run `make bench` (it makes one), or --no-evidently")

    with tempfile.TemporaryDirectory(prefix="charter-monitor-bench-") as temp:
        folder = Path(temp)
        print(f"Building {rows:,} decisions x {args.features} features through DecisionLake.append...", flush=True)
        start = time.perf_counter()
        build(folder, rows, args.features)
        (folder / "files.json").write_text(json.dumps(_data_files(folder)))
        print(f"  built in {time.perf_counter() - start:.1f} s. Cores: {os.cpu_count()}, load: {_load()}")
        charter = _spawn(sys.executable, "charter", folder, args.features)
        floor = _spawn(sys.executable, "numpy", folder, args.features)
        peer = None
        if evidently:
            print("Running Evidently's DataDriftPreset (about 3 minutes at full size)...", flush=True)
            peer = _spawn(args.evidently_python, "evidently", folder, args.features)
    _report(charter, floor, peer, rows)


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _report(charter: dict[str, Any], floor: dict[str, Any], peer: dict[str, Any] | None, rows: int) -> None:
    print()
    print(f"{'data_drift over the window':58} {'seconds':>9}")
    lines = [
        (f"Charter LocalEngine.compute, median of {RUNS} (warm)", charter["seconds"]),
        ("  runs", None),
        ("  first run in a fresh process (loads the kernels)", charter["cold"]),
        ("  CPU time of one run (both cores add up)", charter["cpu_seconds"]),
        (f"  of which: Delta read of the 20 columns ({charter['batch_rows']:,}-row batches)", charter["read"]),
        ("  of which: summarise the batches (columns on threads)", charter["summarise"]),
        ("  of which: drift report from the summary", charter["report"]),
        ("Plain pyarrow read + numpy bincount Wasserstein (the floor)", floor["seconds"]),
    ]
    if peer is not None:
        lines += [
            ("Evidently DataDriftPreset: read + report (one run)", peer["seconds"]),
            ("  of which: pyarrow read to pandas", peer["read"]),
        ]
    for label, seconds in lines:
        if seconds is None:
            print(f"{label:58} {', '.join(f'{t:.3f}' for t in charter['times'])}")
        else:
            print(f"{label:58} {seconds:9.3f}")
    print()
    met = charter["seconds"] <= TARGET_SECONDS
    print(
        f"Target: one monitor run over {rows:,} decisions <= {TARGET_SECONDS:.0f} s: "
        f"{charter['seconds']:.3f} s, {'met' if met else 'NOT MET'}"
    )
    print(f"Charter vs numpy floor: {charter['seconds'] / floor['seconds']:.1f}x the time")
    if peer is not None:
        print(f"Charter vs Evidently: {peer['seconds'] / charter['seconds']:,.0f}x faster")
    drifted = f"Charter {len(charter['drifted'])} ({', '.join(charter['drifted'])}), numpy {floor['drifted']}"
    print(f"Drifted features: {drifted}" + (f", Evidently {peer['drifted']:.0f}" if peer else ""))
    print()
    print(f"{'Other kinds over the same window (median of 3)':58} {'seconds':>9} {'values':>7}")
    for kind, side in charter["others"].items():
        print(f"{kind:58} {side['seconds']:9.3f} {side['values']:7}")
    print(f"{'all nine kinds with compute_many (one read)':58} {charter['all_in_one_read']:9.3f}")


if __name__ == "__main__":
    main()
