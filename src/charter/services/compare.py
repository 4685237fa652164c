"""Compare a data file with a reference: drift against a dataset version's stored profile or another file.

The reference is a dataset version (``transactions@2``, its stored profile) or a CSV/Parquet
file (profiled on the spot). The current file is read in record batches and summarised batch
by batch, so it never has to fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from charter.errors import InvalidInput
from charter.metrics.drift_report import DATASET_SHARE, DriftReport, check_options, profile_report
from charter.metrics.summary import ReferenceProfile, WindowSummary
from charter.services.context import Context
from charter.services.datasets import resolve_dataset_version
from charter.services.profiles import profiled
from charter.services.tabular import count_rows, iter_batches, read_table


@dataclass(frozen=True)
class DriftComparison:
    reference: str  # the dataset version (name@N) or the file
    current: str
    rows: int
    required_share: float  # the dataset drifts when at least this share of columns do
    report: DriftReport

    def to_dict(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "current": self.current,
            "rows": self.rows,
            "required_share": self.required_share,
            **self.report.to_dict(),
        }


def reference_profile(context: Context, reference: str) -> tuple[ReferenceProfile, str]:
    """The profile to compare with and its name: the file at ``reference`` if there is one, else a dataset version."""
    path = Path(reference)
    if path.exists():
        return ReferenceProfile.fit(read_table(path)), str(path)
    version = resolve_dataset_version(context, reference)
    profile = profiled(version.profile)
    if profile is None or not profile.columns:
        raise InvalidInput(
            f"{version.ref} has no reference profile to compare with (it has no rows, or no column could be "
            "profiled); give a reference file instead"
        )
    return profile, version.ref


def rows_hint(path: Path, fmt: str | None = None) -> int | None:
    """How many rows a file holds when that is cheap to know (Parquet metadata), for a progress bar."""
    try:
        return count_rows(path, fmt)
    except InvalidInput:
        return None  # the real read reports the problem


def summarise_file(
    profile: ReferenceProfile,
    path: Path,
    *,
    fmt: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> WindowSummary:
    """Summarise a CSV/Parquet file against ``profile``, one record batch at a time."""
    total = profile.empty()
    for batch in iter_batches(path, fmt):
        total = total.merge(profile.summarise(batch))
        if progress is not None:
            progress(total.rows)
    return total


def compare_drift(
    context: Context,
    reference: str,
    current: Path,
    *,
    fmt: str | None = None,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    share: float = DATASET_SHARE,
    progress: Callable[[int], None] | None = None,
) -> DriftComparison:
    """The drift report of ``current`` against ``reference`` (see the module docstring)."""
    profile, name = reference_profile(context, reference)
    check_options(list(profile.columns), tests or {}, thresholds or {}, share)  # before reading the whole file
    summary = summarise_file(profile, current, fmt=fmt, progress=progress)
    report = profile_report(profile, summary, tests=tests, thresholds=thresholds, share=share)
    return DriftComparison(name, str(current), summary.rows, share, report)
