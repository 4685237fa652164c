"""Summarise a 100,000,000-row window from a stream of Arrow record batches, in constant memory.

    .venv/bin/python benchmarks/streaming.py [--quick] [--rows N] [--batch N]

The reference profile is fitted on 1,000,000 rows; the window's batches are generated one at
a time (20 float64 columns, one with NaNs and infinities, plus a 10-label dictionary column),
summarised, merged and dropped. The target: peak RSS below 1 GB. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from charter.metrics.drift_report import profile_report
from charter.metrics.summary import NumericSummary, ReferenceProfile

COLUMNS = 20
LABELS = pa.array([f"segment-{i}" for i in range(10)])
MEMORY_TARGET_MB = 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(rng: np.random.Generator, rows: int, shift: float) -> pa.RecordBatch:
    columns = {f"f{i}": rng.normal(shift if i < 5 else 0.0, 1.0, rows) for i in range(COLUMNS)}
    columns["f0"][rng.integers(0, rows, rows // 1000)] = np.nan
    columns["f1"][rng.integers(0, rows, rows // 10_000)] = np.inf
    codes = pa.array(rng.integers(0, 10, rows).astype(np.int8))
    return pa.record_batch({**columns, "segment": pa.DictionaryArray.from_arrays(codes, LABELS)})


def stream(rows: int, size: int, seed: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    for start in range(0, rows, size):
        yield batch(rng, min(size, rows - start), shift=0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000,000 rows instead of 100,000,000")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500_000, help="rows a batch (default 500,000)")
    args = parser.parse_args()
    rows = args.rows or (10_000_000 if args.quick else 100_000_000)

    reference = batch(np.random.default_rng(1), 1_000_000, shift=0.0)
    profile = ReferenceProfile.fit(reference)
    del reference
    print(f"Profile fitted on 1,000,000 rows; peak RSS so far {peak_rss_mb():,.0f} MB.", flush=True)

    generating = summarising = 0.0
    batches = 0
    total = profile.empty()
    source = stream(rows, args.batch, seed=2)
    while True:
        start = time.perf_counter()
        item = next(source, None)
        generating += time.perf_counter() - start
        if item is None:
            break
        start = time.perf_counter()
        total = total.merge(profile.summarise(item))
        summarising += time.perf_counter() - start
        batches += 1
        if batches % 20 == 0:
            print(f"  {total.rows:>13,} rows, peak RSS {peak_rss_mb():,.0f} MB", flush=True)

    report = profile_report(profile, total)
    column = total.columns["f0"]
    assert isinstance(column, NumericSummary)
    if total.rows != rows or column.rows != rows:
        sys.exit(f"the summary counts {total.rows:,} rows, not {rows:,}")
    peak = peak_rss_mb()
    print()
    print(f"Rows summarised:      {total.rows:,} in {batches:,} batches of {args.batch:,}")
    print(
        f"Summarising:          {summarising:,.1f} s ({total.rows / summarising:,.0f} rows/s, "
        f"{total.rows * (COLUMNS + 1) / summarising:,.0f} values/s)"
    )
    print(f"Generating the data:  {generating:,.1f} s (not Charter's time)")
    print(f"f0: {column.missing:,} missing, f1: {total.columns['f1'].infinite:,} infinite")  # type: ignore[union-attr]
    print(f"Drifted columns:      {report.drifted_columns} of {len(report.columns)} (f0-f4 shifted by 0.1 sigma)")
    print(
        f"Peak RSS:             {peak:,.0f} MB (target < {MEMORY_TARGET_MB:,} MB): "
        f"{'met' if peak < MEMORY_TARGET_MB else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
