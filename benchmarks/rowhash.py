"""Benchmark the decision lake's row hashes and Merkle roots against a plain hashlib loop.

    .venv/bin/python benchmarks/rowhash.py [--quick] [--rows N] [--runs N]

1,000,000 decision rows (100,000 with --quick): decision_id (UUIDv7 text), ts, model_version,
registered, 20 float64 features, prediction and score. Times canonical_rows, row_hashes on the
C path (one and two threads) and on the Python path (CHARTER_NATIVE=0), merkle_root over as
many leaves, and ordered_root (the sort by decision id included). The baseline is
``hashlib.sha256(row).digest()`` in a Python loop over the same canonical bytes, already
materialised as Python bytes. Every path's digests are compared before any time is shown.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from charter.lake import rowhash
from charter.lake.schema import TIMESTAMP
from charter.ledger import merkle
from charter.ledger.native import switched

FEATURES = 20
TARGET_ROWS_PER_S = 1_000_000  # logging target: decisions/s on 2 cores, hashing a small share of it
T = TypeVar("T")

console = Console(width=None if sys.stdout.isatty() else 150)


def make_batch(rows: int, seed: int = 20261122) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    start_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    millis = start_ms + np.sort(rng.integers(0, 86_400_000, rows))
    tails = rng.integers(0, 2**62, rows, dtype=np.int64)
    ids = [
        str(uuid.UUID(int=(int(ms) << 80) | (0x7 << 76) | (int(tail) & ((1 << 62) - 1)) | (0x2 << 62)))
        for ms, tail in zip(millis.tolist(), tails.tolist(), strict=True)
    ]
    columns: dict[str, pa.Array] = {
        "decision_id": pa.array(ids, pa.string()),
        "ts": pa.array(millis * 1000, pa.int64()).cast(TIMESTAMP),
        "model_version": pa.array(rng.integers(1, 4, rows), pa.int64()),
        "registered": pa.array(rng.random(rows) < 0.99),
    }
    for i in range(FEATURES):
        columns[f"f{i:02d}"] = pa.array(rng.normal(0.0, 1.0, rows))
    columns["prediction"] = pa.array((rng.random(rows) < 0.3).astype(np.float64))
    columns["score"] = pa.array(rng.random(rows))
    return pa.record_batch(columns)


def timed(function: Callable[[], T], runs: int) -> tuple[float, T]:
    """Median seconds over ``runs`` calls, and the last result."""
    times: list[float] = []
    result: T | None = None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3, help="runs of each fast step; the median is shown")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    if not merkle.available():
        console.print("[red]charter._rowhash is not built (or CHARTER_NATIVE=0): nothing to compare the C path with.")
        raise SystemExit(1)

    batch = make_batch(rows)
    console.print(
        f"{rows:,} rows x {batch.num_columns} columns; {os.cpu_count()} CPUs; "
        f"OpenSSL SHA-256 through charter._rowhash and hashlib"
    )

    encode_s, canonical = timed(lambda: rowhash.canonical_rows(batch), args.runs)
    as_bytes: list[bytes] = canonical.to_pylist()
    mean_row = canonical.nbytes / rows
    baseline_s, expected = timed(lambda: b"".join(hashlib.sha256(row).digest() for row in as_bytes), 1)
    hash_only_s, hashed = timed(lambda: rowhash.hash_each(canonical), args.runs)
    one_s, one = timed(lambda: rowhash.row_hashes(batch), args.runs)
    two_s, two = timed(lambda: rowhash.row_hashes(batch, workers=2), args.runs)
    with switched(False):
        python_s, python = timed(lambda: rowhash.row_hashes(batch), 1)
    for name, digests in (("hash_each", hashed), ("C", one.buffers()[1].to_pybytes())):
        if digests != expected:
            raise SystemExit(f"{name} row hashes differ from hashlib's")
    if not (one.equals(two) and one.equals(python)):
        raise SystemExit("row hashes differ between the C path, two threads and the Python path")

    leaves = one
    root_one_s, root = timed(lambda: merkle.merkle_root(leaves), args.runs)
    root_two_s, root_two = timed(lambda: merkle.merkle_root(leaves, workers=2), args.runs)
    ordered_s, _ = timed(lambda: merkle.ordered_root(batch.column("decision_id"), leaves, workers=2), args.runs)
    with switched(False):
        root_python_s, root_python = timed(lambda: merkle.merkle_root(leaves), 1)
    if not root == root_two == root_python:
        raise SystemExit("Merkle roots differ between the C path, two threads and the Python path")

    table = Table(title=f"Row hashes and Merkle roots, {rows:,} rows ({mean_row:,.0f} canonical bytes a row)")
    for column in ("step", "seconds", "rows/s", "us/row", "vs hashlib loop"):
        table.add_column(column, justify="left" if column == "step" else "right")

    def add(step: str, seconds: float, baseline: float | None = baseline_s) -> None:
        ratio = f"{baseline / seconds:.2f}x" if baseline is not None else ""
        table.add_row(step, f"{seconds:.3f}", f"{rows / seconds:,.0f}", f"{seconds / rows * 1e6:.2f}", ratio)

    add("hashlib.sha256 loop over the canonical bytes (baseline)", baseline_s)
    add("hash_each, C (canonical bytes already built)", hash_only_s)
    add("canonical_rows (Arrow compute)", encode_s, None)
    add("row_hashes, C, 1 thread (encode + hash)", one_s, baseline_s + encode_s)
    add("row_hashes, C, 2 threads", two_s, baseline_s + encode_s)
    add("row_hashes, Python (CHARTER_NATIVE=0)", python_s, baseline_s + encode_s)
    add("merkle_root, C, 1 thread", root_one_s, None)
    add("merkle_root, C, 2 threads", root_two_s, None)
    add("ordered_root, C, 2 threads (sort by decision_id + root)", ordered_s, None)
    add("merkle_root, Python", root_python_s, None)
    console.print(table)
    console.print(
        "vs hashlib loop: for hash_each, the baseline's time over this step's; for row_hashes, "
        "(canonical_rows + baseline) over this step's. Merkle rows hash 2 nodes a leaf and have no baseline."
    )
    total = two_s + root_two_s
    verdict = "meets" if rows / total >= TARGET_ROWS_PER_S else "misses"
    console.print(
        f"row_hashes + merkle_root on 2 threads: {rows / total:,.0f} rows/s, which {verdict} the logging "
        f"target of {TARGET_ROWS_PER_S:,} decisions/s (before any other logging work)."
    )


if __name__ == "__main__":
    main()
