"""Benchmark Charter's drift report against Evidently's DataDriftPreset and a plain numpy bincount pass.

    .venv/bin/python benchmarks/drift.py [--quick] [--evidently-python PATH]

Every side runs in its own process on the same seeded data (1,000,000 x 20 float64 reference
and current; 5 current columns shifted by 0.1 sigma, 5 scaled by 1.2), so each one's peak
memory is its own. Evidently needs pandas < 3, so it runs from its own venv (`make bench`
makes it: .bench/evidently). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _spawn import spawn_worker

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = ROOT / ".bench" / "evidently" / "bin" / "python"
SPEED_TARGET = 100.0  # Charter at least this many times faster than Evidently
BINCOUNT_LIMIT = 10.0  # and within this factor of the bincount pass
RUNS = 3
SHIFTED, SCALED = range(5), range(5, 10)


def make_data(rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current, column-major (each column contiguous, as in a DataFrame or an Arrow table)."""
    rng = np.random.default_rng(20261122)
    reference = rng.normal(0.0, 1.0, (columns, rows)).T
    current = rng.normal(0.0, 1.0, (columns, rows)).T
    current[:, SHIFTED] += 0.1
    current[:, SCALED] *= 1.2
    return reference, current


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_time(function: Any, runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# --- the three sides, each run in its own process ----------------------------------------


def run_charter(rows: int, columns: int) -> dict[str, Any]:
    from charter.metrics.drift_report import profile_report
    from charter.metrics.summary import ReferenceProfile

    reference, current = make_data(rows, columns)
    names = [f"f{i}" for i in range(columns)]
    ref = {name: reference[:, i] for i, name in enumerate(names)}
    cur = {name: current[:, i] for i, name in enumerate(names)}
    data_mb = peak_rss_mb()

    def report() -> Any:
        profile = ReferenceProfile.fit(ref)
        return profile, profile_report(profile, profile.summarise(cur))

    seconds, (profile, result) = _median_time(report, RUNS)
    fit_seconds, _ = _median_time(lambda: ReferenceProfile.fit(ref), RUNS)
    window_seconds, _ = _median_time(lambda: profile_report(profile, profile.summarise(cur)), RUNS)
    return {
        "seconds": seconds,
        "fit_seconds": fit_seconds,
        "window_seconds": window_seconds,
        "peak_mb": peak_rss_mb(),
        "data_mb": data_mb,
        "columns": {
            c.column: {
                "test": c.test,
                "score": c.score,
                "bound": c.bound,
                "drifted": c.drifted,
                "psi": c.psi,
                "ks_p_value": c.ks_p_value,
            }
            for c in result.columns
        },
        "dataset_drift": result.dataset_drift,
    }


def run_bincount(rows: int, columns: int) -> dict[str, Any]:
    """Plain numpy: 1,000 equal-width bins over the reference's range, one bincount per column and side."""
    reference, current = make_data(rows, columns)
    data_mb = peak_rss_mb()

    def histograms() -> list[np.ndarray]:
        out = []
        for i in range(columns):
            low, high = reference[:, i].min(), reference[:, i].max()
            scale = 1000 / (high - low)
            for side in (reference[:, i], current[:, i]):
                cells = np.clip(((side - low) * scale).astype(np.intp), 0, 999)
                out.append(np.bincount(cells, minlength=1000))
        return out

    seconds, _ = _median_time(histograms, RUNS)
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "data_mb": data_mb}


def run_evidently(rows: int, columns: int) -> dict[str, Any]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current = make_data(rows, columns)
    names = [f"f{i}" for i in range(columns)]
    data_mb = peak_rss_mb()
    start = time.perf_counter()
    ref, cur = pd.DataFrame(reference, columns=names), pd.DataFrame(current, columns=names)
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    metrics = snapshot.dict()["metrics"]
    seconds = time.perf_counter() - start
    scores: dict[str, Any] = {}
    for metric in metrics:
        name = metric["metric_name"]
        if name.startswith("ValueDrift(column="):
            column = name[len("ValueDrift(column=") :].split(",")[0]
            method = name.split("method=")[1].split(",")[0]
            scores[column] = {"method": method, "score": metric["value"]}
        if name.startswith("DriftedColumnsCount"):
            drifted = metric["value"]["count"]
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "data_mb": data_mb, "columns": scores, "drifted": drifted}


WORKERS = {"charter": run_charter, "bincount": run_bincount, "evidently": run_evidently}


# --- the driver --------------------------------------------------------------------------


def _spawn(python: str, side: str, rows: int, columns: int) -> dict[str, Any]:
    return spawn_worker(python, __file__, side, "--rows", str(rows), "--columns", str(columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--evidently-python", default=str(EVIDENTLY_PYTHON))
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](rows, args.columns)))
        return
    if not Path(args.evidently_python).exists():
        sys.exit(
            f"no Evidently venv at {args.evidently_python}: run `make bench` (it makes one) or pass --evidently-python"
        )

    print(
        f"Data: {rows:,} x {args.columns} float64 reference and current; columns f0-f4 shifted 0.1 sigma, "
        f"f5-f9 scaled 1.2x. Cores: {os.cpu_count()}."
    )
    charter = _spawn(sys.executable, "charter", rows, args.columns)
    bincount = _spawn(sys.executable, "bincount", rows, args.columns)
    print("Running Evidently's DataDriftPreset (about 3 minutes at full size)...", flush=True)
    evidently = _spawn(args.evidently_python, "evidently", rows, args.columns)

    print()
    print(f"{'Step':48} {'seconds':>9} {'peak RSS MB':>12} {'over data MB':>13}")
    lines = [
        ("Charter: profile + summary + report (median of 3)", charter),
        ("  of which: fit the reference profile", {"seconds": charter["fit_seconds"]}),
        ("  of which: summarise the window + report", {"seconds": charter["window_seconds"]}),
        ("Plain numpy bincount pass (median of 3)", bincount),
        ("Evidently DataDriftPreset (one run)", evidently),
    ]
    for label, side in lines:
        memory = f"{side['peak_mb']:12,.0f} {side['peak_mb'] - side['data_mb']:13,.0f}" if "peak_mb" in side else ""
        print(f"{label:48} {side['seconds']:9.3f} {memory}")

    speedup = evidently["seconds"] / charter["seconds"]
    to_bincount = charter["seconds"] / bincount["seconds"]
    print()
    print(
        f"Charter vs Evidently: {speedup:,.0f}x faster (target >= {SPEED_TARGET:.0f}x): "
        f"{'met' if speedup >= SPEED_TARGET else 'NOT MET'}"
    )
    print(
        f"Charter vs bincount pass: {to_bincount:.1f}x the time (target within {BINCOUNT_LIMIT:.0f}x): "
        f"{'met' if to_bincount <= BINCOUNT_LIMIT else 'NOT MET'}"
    )
    lower = charter["peak_mb"] < evidently["peak_mb"]
    print(
        f"Peak memory: Charter {charter['peak_mb']:,.0f} MB, Evidently {evidently['peak_mb']:,.0f} MB "
        f"(target: below Evidently's): {'met' if lower else 'NOT MET'}"
    )

    print()
    print(
        f"{'column':7} {'test':20} {'Charter score':>14} {'bound':>9} {'Evidently':>11} {'|diff|':>9} {'verdicts':>9}"
    )
    agree = 0
    for column, ours in charter["columns"].items():
        theirs = evidently["columns"].get(column, {}).get("score")
        same = theirs is not None and ours["drifted"] == (
            theirs >= 0.1 if ours["test"] == "wasserstein_normed" else theirs <= 0.05
        )
        agree += same
        diff = abs(ours["score"] - theirs) if theirs is not None else float("nan")
        print(
            f"{column:7} {ours['test']:20} {ours['score']:14.6f} {ours['bound']:9.2e} "
            f"{theirs if theirs is not None else float('nan'):11.6f} {diff:9.2e} {'same' if same else 'DIFFER':>9}"
        )
    print(
        f"Verdicts agree on {agree} of {len(charter['columns'])} columns; drifted columns: Charter "
        f"{sum(c['drifted'] for c in charter['columns'].values())}, Evidently {evidently['drifted']:.0f}."
    )


if __name__ == "__main__":
    main()
