"""Benchmark Charter's fairness kernels against fairlearn's MetricFrame, on the same arrays in the same run.

    .venv/bin/python benchmarks/fairness.py [--quick]

1,000,000 rows (100,000 with --quick) in 10 groups of different sizes, base rates and selection
rates, given once as integer group codes and once as string labels. Every number Charter returns
is checked against fairlearn's before any time is shown; the script stops if one differs.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fairlearn.metrics as flm
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from sklearn.metrics import precision_score

from charter.metrics import fairness

GROUPS = 10
RUNS = 7  # Charter runs each step this many times; the table shows the median. fairlearn runs once.
TARGET = 500  # Charter's group_rates at least this many times faster than fairlearn's MetricFrame
RATES = ["count", "selection_rate", "tpr", "fpr", "fnr", "tnr", "precision"]

console = Console(width=None if sys.stdout.isatty() else 170)


def precision(y_true: Any, y_pred: Any) -> float:
    """scikit-learn's precision with ``zero_division=0`` (Charter's convention), as a named function for fairlearn."""
    return float(precision_score(y_true, y_pred, zero_division=0))


FAIRLEARN_RATES: dict[str, Callable[..., Any]] = {
    "count": flm.count,
    "selection_rate": flm.selection_rate,
    "tpr": flm.true_positive_rate,
    "fpr": flm.false_positive_rate,
    "fnr": flm.false_negative_rate,
    "tnr": flm.true_negative_rate,
    "precision": precision,
}


@dataclass
class Data:
    y_true: np.ndarray
    y_pred: np.ndarray
    codes: np.ndarray  # int64 group codes 0-9
    labels: np.ndarray  # the same groups as strings


def make_data(rows: int, seed: int = 4) -> Data:
    """Seeded rows: groups of unequal size, each with its own base rate, TPR and FPR (so every gap is real)."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(GROUPS, size=rows, p=rng.dirichlet(np.full(GROUPS, 4.0)))
    base = rng.uniform(0.1, 0.6, GROUPS)  # share of positives
    hit = rng.uniform(0.5, 0.95, GROUPS)  # true positive rate
    false_alarm = rng.uniform(0.02, 0.3, GROUPS)  # false positive rate
    y_true = (rng.random(rows) < base[codes]).astype(np.int64)
    predicted = np.where(y_true == 1, rng.random(rows) < hit[codes], rng.random(rows) < false_alarm[codes])
    y_pred = predicted.astype(np.int64)
    names = np.array(["north", "south", "east", "west", "centre", "coast", "hills", "islands", "capital", "abroad"])
    return Data(y_true, y_pred, codes, np.array([f"region {name}" for name in names])[codes])


# --- peak memory -------------------------------------------------------------------------


def _status(field: str) -> float:
    """A ``/proc/self/status`` field in MB (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


@contextlib.contextmanager
def peak_memory() -> Iterator[list[float]]:
    """Yields a list that gets the block's peak resident memory above its start, in MB (nothing where unsupported).

    Freed memory goes back to the system first (``malloc_trim``, Arrow's pool), then Linux's
    high-water mark is reset (``/proc/self/clear_refs``), so the peak is what the block itself
    touched: numpy, pandas and Arrow allocations alike, with no tracing overhead while it runs.
    """
    peak: list[float] = []
    try:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        pa.default_memory_pool().release_unused()
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        start = _status("VmRSS")
    except (OSError, StopIteration, AttributeError):
        yield peak
        return
    yield peak
    peak.append(max(_status("VmHWM") - start, 0.0))


# --- the two sides -----------------------------------------------------------------------


@dataclass
class Step:
    name: str
    charter: Callable[[Data, Any], Any]
    fairlearn: Callable[[Data, Any], Any]
    # The same gap read off the MetricFrame's difference()/ratio() (gaps only).
    from_frame: Callable[[dict[str, Any]], float] | None = None


def fairlearn_all(data: Data, sensitive: Any) -> dict[str, Any]:
    frame = flm.MetricFrame(
        metrics=FAIRLEARN_RATES, y_true=data.y_true, y_pred=data.y_pred, sensitive_features=sensitive
    )
    return {"by_group": frame.by_group, "difference": frame.difference(), "ratio": frame.ratio()}


def fairlearn_gap(function: Callable[..., float]) -> Callable[[Data, Any], float]:
    return lambda data, sensitive: float(function(data.y_true, data.y_pred, sensitive_features=sensitive))


def charter_gap(function: Callable[..., float]) -> Callable[[Data, Any], float]:
    return lambda data, sensitive: function(data.y_true, data.y_pred, sensitive=sensitive)


precision_difference = flm.make_derived_metric(metric=precision, transform="difference")

STEPS = [
    Step(
        "all group metrics: group_rates | MetricFrame, 7 metrics, by_group, difference(), ratio()",
        lambda data, sensitive: fairness.group_rates(data.y_true, data.y_pred, sensitive=sensitive),
        fairlearn_all,
    ),
    Step(
        "demographic_parity_difference",
        charter_gap(fairness.demographic_parity_difference),
        fairlearn_gap(flm.demographic_parity_difference),
        lambda frame: frame["difference"]["selection_rate"],
    ),
    Step(
        "demographic_parity_ratio",
        charter_gap(fairness.demographic_parity_ratio),
        fairlearn_gap(flm.demographic_parity_ratio),
        lambda frame: frame["ratio"]["selection_rate"],
    ),
    Step(
        "equalized_odds_difference",
        charter_gap(fairness.equalized_odds_difference),
        fairlearn_gap(flm.equalized_odds_difference),
        lambda frame: max(frame["difference"]["tpr"], frame["difference"]["fpr"]),
    ),
    Step(
        "equalized_odds_ratio",
        charter_gap(fairness.equalized_odds_ratio),
        fairlearn_gap(flm.equalized_odds_ratio),
        lambda frame: min(frame["ratio"]["tpr"], frame["ratio"]["fpr"]),
    ),
    Step(
        "equal_opportunity_difference",
        charter_gap(fairness.equal_opportunity_difference),
        fairlearn_gap(flm.equal_opportunity_difference),
        lambda frame: frame["difference"]["tpr"],
    ),
    Step(
        "predictive_parity_difference | make_derived_metric(precision, 'difference')",
        charter_gap(fairness.predictive_parity_difference),
        fairlearn_gap(precision_difference),
        lambda frame: frame["difference"]["precision"],
    ),
]


# --- same numbers ------------------------------------------------------------------------


def check(kind: str, ours: list[Any], theirs: list[Any]) -> int:
    """Exits unless every per-group number and every gap is the same on both sides, bit for bit; returns the count."""
    failures: list[str] = []

    def same(what: str, got: Any, expected: Any) -> None:
        try:
            np.testing.assert_array_equal(np.asarray(got, float), np.asarray(expected, float), strict=True)
        except AssertionError as exc:
            failures.append(f"{what}: Charter {got!r}, fairlearn {expected!r}\n{exc}")

    rates, frame = ours[0], theirs[0]
    groups, by_group = [r.group for r in rates], frame["by_group"]
    if groups != by_group.index.tolist():
        failures.append(f"groups: Charter {groups}, fairlearn {by_group.index.tolist()}")
    else:
        for rate in RATES:
            same(f"per-group {rate}", [getattr(r, rate) for r in rates], by_group[rate].to_numpy(float))
    # Each gap against fairlearn's own function for it, and against the MetricFrame's difference()/ratio().
    gaps = [
        (step.name, got, expected, step.from_frame(frame))
        for step, got, expected in zip(STEPS, ours, theirs, strict=True)
        if step.from_frame is not None
    ]
    for name, got, expected, from_frame in gaps:
        same(f"{name} vs fairlearn's function", got, expected)
        same(f"{name} vs MetricFrame", got, from_frame)
    if failures:
        raise SystemExit(
            f"fairness check FAILED ({kind} groups), Charter and fairlearn differ:\n" + "\n".join(failures)
        )
    return len(RATES) * len(rates) + 2 * len(gaps)


# --- timing ------------------------------------------------------------------------------


@dataclass
class Row:
    kind: str
    step: str
    charter: float  # median seconds
    fairlearn: float  # seconds, one run
    charter_mb: float | None
    fairlearn_mb: float | None

    @property
    def ratio(self) -> float:
        return self.fairlearn / self.charter


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def run(kind: str, data: Data, sensitive: Any) -> list[Row]:
    rows = len(data.y_true)
    ours = [step.charter(data, sensitive) for step in STEPS]  # also the warm-up (imports, first-call costs)
    console.print(f"[dim]{kind} groups: fairlearn, each step once on {rows:,} rows…")
    theirs, fairlearn_seconds, fairlearn_mb = [], [], []
    for step in STEPS:
        with peak_memory() as peak:
            seconds, result = timed(functools.partial(step.fairlearn, data, sensitive))
        theirs.append(result)
        fairlearn_seconds.append(seconds)
        fairlearn_mb.append(peak[0] if peak else None)
    compared = check(kind, ours, theirs)
    console.print(
        f"[dim]{kind} groups: {compared} numbers identical to fairlearn's, bit for bit; Charter, {RUNS} runs a step…"
    )
    result_rows = []
    for step, seconds, mb in zip(STEPS, fairlearn_seconds, fairlearn_mb, strict=True):
        with peak_memory() as peak:
            step.charter(data, sensitive)
        runs = [timed(functools.partial(step.charter, data, sensitive))[0] for _ in range(RUNS)]
        result_rows.append(Row(kind, step.name, statistics.median(runs), seconds, peak[0] if peak else None, mb))
    charter, fairlearn = sum(r.charter for r in result_rows), sum(r.fairlearn for r in result_rows)
    return [*result_rows, Row(kind, "whole set (sum of the steps above)", charter, fairlearn, None, None)]


def show(rows: list[Row], n: int) -> None:
    table = Table(title=f"Charter fairness vs fairlearn, {n:,} rows, {GROUPS} groups (ratio = fairlearn s ÷ Charter s)")
    for header in ("Groups", "Step", "Charter s", "fairlearn s", "Ratio", "Charter MB", "fairlearn MB"):
        table.add_column(header, justify="left" if header in ("Groups", "Step") else "right")
    for r in rows:
        mb = ["" if v is None else f"{v:,.1f}" for v in (r.charter_mb, r.fairlearn_mb)]
        table.add_row(r.kind, r.step, f"{r.charter:.4f}", f"{r.fairlearn:.2f}", f"{r.ratio:,.0f}x", *mb)
    console.print(table)
    console.print(
        f"Charter: median of {RUNS} runs; fairlearn: one run. MB: peak resident memory above the start of one call."
    )
    for r in rows:
        if r.step.startswith("all group metrics"):
            verdict = "met" if r.ratio >= TARGET else "MISSED"
            console.print(
                f"Target, {r.kind} groups, all group metrics: Charter ≥ {TARGET}x faster than fairlearn MetricFrame; "
                f"measured {r.ratio:,.0f}x ({r.charter * 1000:.1f} ms vs {r.fairlearn:.1f} s): {verdict}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark Charter's fairness kernels against fairlearn.")
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    n = 100_000 if parser.parse_args().quick else 1_000_000
    data = make_data(n)
    rows = run("integer", data, data.codes) + run("string", data, data.labels)
    show(rows, n)


if __name__ == "__main__":
    main()
