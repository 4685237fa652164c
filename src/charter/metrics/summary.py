"""Window summaries that merge, and the reference profile they are measured against.

A monitor keeps no rows. It keeps, per window, a :class:`WindowSummary`: fixed-size counts
per column that add up when windows are merged, so a day is the merge of its hours and a
stream of Arrow record batches is summarised in constant memory. The reference side is
summarised once, when the :class:`ReferenceProfile` is fitted, and stored with the dataset
version; a window is never compared with raw reference rows again.

Numeric columns. The profile fixes a column's edges ``e_0 < ... < e_k``: the reference's
quantiles at ``i / 1000`` and at 80 more points in each tail (from 1e-6 to 1e-2; ``e_0`` is
its minimum, ``e_k`` its maximum, duplicates collapsed), and 60 more beyond each end of its
range (geometrically further out, so far-off window values stay measurable),
or, when the reference has at most 1,001 distinct values, those values themselves (an
*exact* profile). The deciles that :func:`charter.metrics.drift.psi` cuts at are always
among the edges. A summary counts a window's finite values in ``2k + 3`` cells: below
``e_0``, at ``e_0``, between ``e_0`` and ``e_1``, at ``e_1``, ..., at ``e_k``, above
``e_k``; besides, the missing values (None, NaN), the infinite ones, the ones that are not
numbers at all (text in a numeric column), and the smallest and largest finite value.

Categorical columns. A summary counts every label (strings, integers, booleans; other
values are kept as their ``str``) and the missing values.

Merging adds counts and takes the smaller minimum and larger maximum, so
``summarise(a + b) == merge(summarise(a), summarise(b))`` holds exactly, for any split. A
numeric summary also carries the sum of its values and of their squares (for the window's
mean and standard deviation); floating-point addition rounds, so those two agree across
splits to rounding only and are compared apart (:meth:`NumericSummary.moments_close`), not
by ``==``. Summaries and profiles round-trip through ``to_dict`` /
``from_dict`` (plain JSON) and summaries through ``to_arrow`` / ``from_arrow``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from charter.errors import InvalidInput
from charter.metrics.drift import quantile_edges, sorted_quantiles
from charter.metrics.inputs import FloatArray, as_float_array, as_label_array, is_numeric, missing_mask

#: Quantile cells per numeric column (the edges are the reference's quantiles at i / FINE_BINS).
FINE_BINS = 1000
#: Bins of the population stability index (its edges are among the fine edges).
PSI_BINS = 10
#: Extra quantiles in each tail (probabilities from 1e-6 to 1e-2, 20 a decade, evenly spaced in
#: log), so the long outer cells of a heavy or wide tail are cut finer: Wasserstein estimates
#: depend on it.
TAIL_PROBABILITIES = np.geomspace(1e-6, 1e-2, 81)[:-1]
#: Edges beyond each end of the reference's range (see ``_overflow``).
OVERFLOW_EDGES = 60
#: Every quantile a numeric profile cuts at, in [0, 1].
QUANTILES = np.unique(
    np.concatenate([np.arange(FINE_BINS + 1) / FINE_BINS, TAIL_PROBABILITIES, 1 - TAIL_PROBABILITIES])
)

Label: TypeAlias = str | int | float | bool
IntArray = npt.NDArray[np.int64]


# --- column summaries ------------------------------------------------------------------


@dataclass(frozen=True)
class NumericSummary:
    """A window's numeric column in the profile's cells (see the module docstring)."""

    counts: tuple[int, ...]  # 2k + 3 cells: below e_0, at e_0, between e_0 and e_1, ..., at e_k, above e_k
    missing: int = 0  # None and NaN
    infinite: int = 0  # +inf and -inf
    invalid: int = 0  # values that are not numbers
    minimum: float | None = None  # of the finite values
    maximum: float | None = None
    # Floating-point sums of the finite values and of their squares: they merge by addition,
    # which rounds, so they agree with a whole-window summary to rounding only and are left
    # out of ``==`` (see :meth:`moments_close`).
    total: float = field(default=0.0, compare=False)
    squares: float = field(default=0.0, compare=False)

    kind = "numeric"

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def std(self) -> float | None:
        """Population standard deviation (ddof 0) from the sums; None without values."""
        if not self.count:
            return None
        mean = self.total / self.count
        return float(np.sqrt(max(self.squares / self.count - mean * mean, 0.0)))

    def moments_close(self, other: NumericSummary, *, rel: float = 1e-9) -> bool:
        """Whether the two floating-point sums agree to ``rel`` of their scale (the sum of squares)."""
        scale = max(self.squares, other.squares, 1.0)
        total_scale = float(np.sqrt(scale * max(self.count, other.count, 1)))
        return abs(self.total - other.total) <= rel * total_scale and abs(self.squares - other.squares) <= rel * scale

    @property
    def count(self) -> int:
        """Finite values."""
        return sum(self.counts)

    @property
    def rows(self) -> int:
        return self.count + self.missing + self.infinite + self.invalid

    def cells(self) -> IntArray:
        return self._cells.copy()

    @functools.cached_property
    def _cells(self) -> IntArray:
        return np.asarray(self.counts, dtype=np.int64)

    def merge(self, other: NumericSummary) -> NumericSummary:
        if len(self.counts) != len(other.counts):
            raise InvalidInput(
                f"cannot merge numeric summaries with {len(self.counts)} and {len(other.counts)} cells: "
                "they were made with different profiles"
            )
        return NumericSummary(
            counts=tuple(int(a + b) for a, b in zip(self.counts, other.counts, strict=True)),
            missing=self.missing + other.missing,
            infinite=self.infinite + other.infinite,
            invalid=self.invalid + other.invalid,
            minimum=_extreme(min, self.minimum, other.minimum),
            maximum=_extreme(max, self.maximum, other.maximum),
            total=self.total + other.total,
            squares=self.squares + other.squares,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counts": list(self.counts),
            "missing": self.missing,
            "infinite": self.infinite,
            "invalid": self.invalid,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "total": self.total,
            "squares": self.squares,
        }


@dataclass(frozen=True)
class CategoricalSummary:
    """A window's categorical column: the count of every label, sorted by (type, label)."""

    counts: tuple[tuple[Label, int], ...]
    missing: int = 0

    kind = "categorical"

    @property
    def count(self) -> int:
        """Present (non-missing) values."""
        return sum(n for _, n in self.counts)

    @property
    def rows(self) -> int:
        return self.count + self.missing

    def as_dict(self) -> dict[Label, int]:
        return dict(self.counts)

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        total = Counter(self.as_dict())
        total.update(other.as_dict())
        return CategoricalSummary(counts=_sorted_counts(total), missing=self.missing + other.missing)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "counts": [[label, n] for label, n in self.counts], "missing": self.missing}


ColumnSummary: TypeAlias = NumericSummary | CategoricalSummary


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else float(pick(a, b))


def _sorted_counts(counts: Mapping[Label, int]) -> tuple[tuple[Label, int], ...]:
    return tuple(sorted(((label, int(n)) for label, n in counts.items() if n), key=_label_key))


def _label_key(item: tuple[Label, int]) -> tuple[str, Any]:
    label = item[0]
    return ("number" if isinstance(label, int | float) and not isinstance(label, bool) else type(label).__name__, label)


def _column_summary_from_dict(data: Mapping[str, Any]) -> ColumnSummary:
    if data.get("kind") == "numeric":
        return NumericSummary(
            counts=tuple(int(n) for n in data["counts"]),
            missing=int(data["missing"]),
            infinite=int(data["infinite"]),
            invalid=int(data["invalid"]),
            minimum=None if data["minimum"] is None else float(data["minimum"]),
            maximum=None if data["maximum"] is None else float(data["maximum"]),
            total=float(data.get("total", 0.0)),
            squares=float(data.get("squares", 0.0)),
        )
    if data.get("kind") == "categorical":
        return CategoricalSummary(
            counts=_sorted_counts({_label(label): int(n) for label, n in data["counts"]}),
            missing=int(data["missing"]),
        )
    raise InvalidInput(f"a column summary's kind must be 'numeric' or 'categorical', not {data.get('kind')!r}")


# --- computing summaries ---------------------------------------------------------------


def _label(value: Any) -> Label:
    """A label as a JSON-safe scalar: numpy scalars unwrapped, anything else not a scalar as its str."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)


def numeric_cells(values: Any, edges: FloatArray, *, name: str) -> NumericSummary:
    """Summarise one numeric column in the cells of ``edges`` (sorted, distinct, finite)."""
    array, invalid = _numbers_or_invalid(values, name=name)
    finite, missing, infinite = _sorted_finite(array)
    return _cells(finite, edges, missing=missing, infinite=infinite, invalid=invalid)


def _sorted_finite(array: FloatArray) -> tuple[FloatArray, int, int]:
    """The finite values sorted, and the counts of NaN and of infinite values."""
    missing = int(np.count_nonzero(np.isnan(array)))
    present = np.sort(array)[: array.size - missing]  # NaN sorts last, -inf first, +inf just before NaN
    low = int(np.searchsorted(present, -np.inf, side="right"))
    high = int(np.searchsorted(present, np.inf, side="left"))
    return present[low:high], missing, present.size - (high - low)


def _cells(finite: FloatArray, edges: FloatArray, *, missing: int, infinite: int, invalid: int) -> NumericSummary:
    at_most = np.searchsorted(finite, edges, side="right")
    below = np.searchsorted(finite, edges, side="left")
    counts = np.empty(2 * edges.size + 1, dtype=np.int64)
    counts[1::2] = at_most - below
    counts[0] = below[0]
    counts[2:-1:2] = below[1:] - at_most[:-1]
    counts[-1] = finite.size - at_most[-1]
    return NumericSummary(
        counts=tuple(counts.tolist()),
        missing=missing,
        infinite=infinite,
        invalid=invalid,
        minimum=float(finite[0]) if finite.size else None,
        maximum=float(finite[-1]) if finite.size else None,
        total=float(np.sum(finite)),
        # einsum, not np.dot: a threaded BLAS dot waits for a free core on every call (seconds a window when busy)
        squares=float(np.einsum("i,i->", finite, finite)),
    )


def _numbers_or_invalid(values: Any, *, name: str) -> tuple[FloatArray, int]:
    """The column as floats (missing as NaN); values that are not numbers are counted and left out."""
    try:
        return as_float_array(values, name=name), 0
    except InvalidInput:
        labels = as_label_array(values, name=name)
    numbers = [_as_number(v) for v in labels.tolist()]
    kept = np.array([np.nan if v is None else v for v in numbers if v is not False], dtype=np.float64)
    return kept, sum(1 for v in numbers if v is False)


def _as_number(value: Any) -> float | bool | None:
    """A float, None for missing, or False for a value that is not a number."""
    if value is None:
        return None
    if isinstance(value, bool | int | float | np.number) and not isinstance(value, np.complexfloating):
        return float(value)
    return False


def categorical_counts(values: Any, *, name: str) -> CategoricalSummary:
    """Summarise one categorical column: the count of every label and of the missing values."""
    try:
        array = pa.array(values, from_pandas=True) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_floating(array.type):
            array = pa.array(array.to_numpy(zero_copy_only=False), from_pandas=True)  # NaN counts as missing
        missing = array.null_count
        tallied = array.drop_null().value_counts().to_pylist()
        counts: Counter[Label] = Counter()
        for item in tallied:
            counts[_label(item["values"])] += int(item["counts"])
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        labels = as_label_array(values, name=name)
        present = labels[~missing_mask(labels)]
        missing = labels.size - present.size
        counts = Counter(_label(v) for v in present.tolist())
    return CategoricalSummary(counts=_sorted_counts(counts), missing=int(missing))


# --- the reference profile -------------------------------------------------------------


@dataclass(frozen=True)
class NumericProfile:
    """A numeric reference column: its cell edges, its own summary in them, its moments."""

    edges: tuple[float, ...]
    exact: bool  # the edges include every distinct reference value
    psi_edges: tuple[float, ...]  # the inner decile edges (each one of ``edges``)
    distinct: int  # distinct finite values
    mean: float | None
    std: float | None  # population standard deviation (ddof 0)
    reference: NumericSummary

    kind = "numeric"

    def edge_array(self) -> FloatArray:
        return self._edges.copy()

    @functools.cached_property
    def _edges(self) -> FloatArray:
        return np.asarray(self.edges, dtype=np.float64)

    def summarise(self, values: Any, *, name: str = "column") -> NumericSummary:
        return numeric_cells(values, self.edge_array(), name=name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "edges": list(self.edges),
            "exact": self.exact,
            "psi_edges": list(self.psi_edges),
            "distinct": self.distinct,
            "mean": self.mean,
            "std": self.std,
            "reference": self.reference.to_dict(),
        }


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical reference column: its label counts."""

    reference: CategoricalSummary

    kind = "categorical"

    @property
    def distinct(self) -> int:
        return len(self.reference.counts)

    def summarise(self, values: Any, *, name: str = "column") -> CategoricalSummary:
        return categorical_counts(values, name=name)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reference": self.reference.to_dict()}


ColumnProfile: TypeAlias = NumericProfile | CategoricalProfile


def fit_numeric(values: Any, *, name: str = "column") -> NumericProfile:
    """The profile of one numeric reference column (at least one finite value)."""
    array, invalid = _numbers_or_invalid(values, name=name)
    if invalid:
        raise InvalidInput(f"{name}: {invalid:,} value(s) are not numbers; a numeric reference must hold numbers only")
    finite, missing, infinite = _sorted_finite(array)
    if finite.size == 0:
        raise InvalidInput(f"{name}: no finite values, so there is nothing to profile")
    changes = finite[1:] != finite[:-1]
    distinct = 1 + int(np.count_nonzero(changes))
    psi_edges = quantile_edges(finite, PSI_BINS)
    exact = distinct <= FINE_BINS + 1
    cut = finite[np.concatenate([[True], changes])] if exact else sorted_quantiles(finite, QUANTILES)
    edges = np.unique(np.concatenate([cut, psi_edges, _overflow(finite[0], finite[-1])]))
    return NumericProfile(
        edges=tuple(edges.tolist()),
        exact=exact,
        psi_edges=tuple(psi_edges.tolist()),
        distinct=distinct,
        mean=float(np.mean(finite)),
        std=float(np.std(finite)),
        reference=_cells(finite, edges, missing=missing, infinite=infinite, invalid=0),
    )


def _overflow(low: float, high: float) -> FloatArray:
    """Edges beyond the reference's range, at geometrically growing distances from it.

    A window's values outside the reference's range would otherwise all share one cell on
    each side; these edges keep the distances of far-off values measurable. The first is
    1/1000 of the range away, each next one sqrt(2) times as far, the last about 760,000
    ranges away.
    """
    span = high - low if high > low else max(abs(high), 1.0)
    steps = span / FINE_BINS * np.exp2(np.arange(OVERFLOW_EDGES, dtype=np.float64) / 2)
    with np.errstate(over="ignore"):
        edges: FloatArray = np.concatenate([low - steps, high + steps])
    finite: FloatArray = edges[np.isfinite(edges)]
    return finite


def _column_profile_from_dict(data: Mapping[str, Any]) -> ColumnProfile:
    reference = _column_summary_from_dict(data["reference"])
    if isinstance(reference, NumericSummary) and data.get("kind") == "numeric":
        return NumericProfile(
            edges=tuple(float(e) for e in data["edges"]),
            exact=bool(data["exact"]),
            psi_edges=tuple(float(e) for e in data["psi_edges"]),
            distinct=int(data["distinct"]),
            mean=data["mean"],
            std=data["std"],
            reference=reference,
        )
    if isinstance(reference, CategoricalSummary) and data.get("kind") == "categorical":
        return CategoricalProfile(reference=reference)
    raise InvalidInput(f"a column profile's kind must match its reference summary, not {data.get('kind')!r}")


@dataclass(frozen=True)
class WindowSummary:
    """Every column of one window (or of several merged), in the cells of one profile."""

    profile_id: str
    columns: dict[str, ColumnSummary]
    rows: int

    def merge(self, other: WindowSummary) -> WindowSummary:
        if other.profile_id != self.profile_id:
            raise InvalidInput(
                f"cannot merge summaries of different profiles ({self.profile_id[:12]} and {other.profile_id[:12]})"
            )
        merged: dict[str, ColumnSummary] = {}
        for name, summary in self.columns.items():
            theirs = other.columns.get(name)
            if theirs is None or theirs.kind != summary.kind:
                raise InvalidInput(f"cannot merge summaries: column {name!r} is missing or of another kind in one")
            merged[name] = summary.merge(theirs)  # type: ignore[arg-type]
        if set(other.columns) - set(self.columns):
            extra = ", ".join(sorted(set(other.columns) - set(self.columns)))
            raise InvalidInput(f"cannot merge summaries: column(s) {extra} are only in one")
        return WindowSummary(self.profile_id, merged, self.rows + other.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "rows": self.rows,
            "columns": {name: summary.to_dict() for name, summary in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowSummary:
        try:
            columns = {str(name): _column_summary_from_dict(c) for name, c in data["columns"].items()}
            return cls(str(data["profile_id"]), columns, int(data["rows"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"not a window summary: {exc!r}") from None

    def to_arrow(self) -> pa.Table:
        """One row per column; category labels as JSON text, so mixed label types survive."""
        rows = []
        for name, summary in self.columns.items():
            numeric = isinstance(summary, NumericSummary)
            rows.append(
                {
                    "column": name,
                    "kind": summary.kind,
                    "counts": list(summary.counts) if numeric else [n for _, n in summary.counts],  # type: ignore[misc]
                    "labels": None if numeric else [json.dumps(label) for label, _ in summary.counts],  # type: ignore[misc]
                    "missing": summary.missing,
                    "infinite": summary.infinite if numeric else None,  # type: ignore[union-attr]
                    "invalid": summary.invalid if numeric else None,  # type: ignore[union-attr]
                    "minimum": summary.minimum if numeric else None,  # type: ignore[union-attr]
                    "maximum": summary.maximum if numeric else None,  # type: ignore[union-attr]
                    "total": summary.total if numeric else None,  # type: ignore[union-attr]
                    "squares": summary.squares if numeric else None,  # type: ignore[union-attr]
                }
            )
        table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)
        return table.replace_schema_metadata({"profile_id": self.profile_id, "rows": str(self.rows)})

    @classmethod
    def from_arrow(cls, table: pa.Table) -> WindowSummary:
        metadata = table.schema.metadata or {}
        if b"profile_id" not in metadata or b"rows" not in metadata:
            raise InvalidInput("not a window summary table: its schema metadata lacks profile_id and rows")
        columns: dict[str, ColumnSummary] = {}
        for row in table.to_pylist():
            if row["kind"] == "numeric":
                columns[row["column"]] = NumericSummary(
                    tuple(row["counts"]),
                    row["missing"],
                    row["infinite"],
                    row["invalid"],
                    row["minimum"],
                    row["maximum"],
                    row["total"],
                    row["squares"],
                )
            else:
                pairs = zip((json.loads(label) for label in row["labels"]), row["counts"], strict=True)
                columns[row["column"]] = CategoricalSummary(_sorted_counts(dict(pairs)), row["missing"])
        return cls(metadata[b"profile_id"].decode(), columns, int(metadata[b"rows"]))


ARROW_SCHEMA = pa.schema(
    [
        ("column", pa.string()),
        ("kind", pa.string()),
        ("counts", pa.list_(pa.int64())),
        ("labels", pa.list_(pa.string())),
        ("missing", pa.int64()),
        ("infinite", pa.int64()),
        ("invalid", pa.int64()),
        ("minimum", pa.float64()),
        ("maximum", pa.float64()),
        ("total", pa.float64()),
        ("squares", pa.float64()),
    ]
)


def merge(summaries: Iterable[WindowSummary]) -> WindowSummary:
    """Merge window summaries of one profile (at least one)."""
    iterator = iter(summaries)
    try:
        total = next(iterator)
    except StopIteration:
        raise InvalidInput("merge needs at least one window summary") from None
    for summary in iterator:
        total = total.merge(summary)
    return total


@dataclass(frozen=True)
class ReferenceProfile:
    """What a window is compared with: every reference column's profile."""

    columns: dict[str, ColumnProfile]
    rows: int
    id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        cells = {
            name: (p.kind, list(p.edges) if isinstance(p, NumericProfile) else None) for name, p in self.columns.items()
        }
        digest = hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()
        object.__setattr__(self, "id", digest)

    @classmethod
    def fit(
        cls,
        reference: Any,
        *,
        categorical: Iterable[str] = (),
        workers: int | None = None,
    ) -> ReferenceProfile:
        """Profile every column of ``reference`` (a mapping of name to values, or a DataFrame/Table).

        A column is numeric when it holds numbers (booleans count), categorical otherwise or
        when it is named in ``categorical``.
        """
        data = table_columns(reference, name="reference")
        forced = set(categorical)
        unknown = sorted(forced - set(data))
        if unknown:
            raise InvalidInput(f"categorical: no column(s) {', '.join(unknown)} in the reference")
        rows = _rows(data, name="reference")

        def fit_one(name: str) -> ColumnProfile:
            values = data[name]
            if name not in forced and is_numeric(values):
                return fit_numeric(values, name=f"reference[{name!r}]")
            counts = categorical_counts(values, name=f"reference[{name!r}]")
            if counts.count == 0:
                raise InvalidInput(f"reference[{name!r}]: every value is missing, so there is nothing to profile")
            return CategoricalProfile(counts)

        return cls(dict(zip(data, _parallel(fit_one, list(data), workers), strict=True)), rows)

    def summarise(self, current: Any, *, workers: int | None = None) -> WindowSummary:
        """Summarise a window: every profiled column must be in it (other columns are ignored)."""
        data = table_columns(current, name="current")
        missing = [name for name in self.columns if name not in data]
        if missing:
            raise InvalidInput(f"current: column(s) {', '.join(missing)} are missing (the reference has them)")
        rows = _rows({name: data[name] for name in self.columns}, name="current")

        def summarise_one(name: str) -> ColumnSummary:
            return self.columns[name].summarise(data[name], name=f"current[{name!r}]")

        names = list(self.columns)
        return WindowSummary(self.id, dict(zip(names, _parallel(summarise_one, names, workers), strict=True)), rows)

    def summarise_batches(self, batches: Iterable[Any], *, workers: int | None = None) -> WindowSummary:
        """Summarise a window given as a stream of batches (Arrow record batches, tables or mappings).

        Each batch is summarised and merged into the running total, so memory stays that of
        one batch however long the stream. An empty stream is a window of no rows.
        """
        total = self.empty()
        for batch in batches:
            total = total.merge(self.summarise(batch, workers=workers))
        return total

    def empty(self) -> WindowSummary:
        """The summary of a window with no rows."""
        columns: dict[str, ColumnSummary] = {}
        for name, profile in self.columns.items():
            if isinstance(profile, NumericProfile):
                columns[name] = NumericSummary(counts=(0,) * len(profile.reference.counts))
            else:
                columns[name] = CategoricalSummary(counts=())
        return WindowSummary(self.id, columns, 0)

    def reference_summary(self) -> WindowSummary:
        """The reference itself as a window summary."""
        return WindowSummary(self.id, {name: p.reference for name, p in self.columns.items()}, self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": {name: p.to_dict() for name, p in self.columns.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        try:
            columns = {str(name): _column_profile_from_dict(c) for name, c in data["columns"].items()}
            return cls(columns, int(data["rows"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"not a reference profile: {exc!r}") from None


# --- tables ----------------------------------------------------------------------------


def table_columns(table: Any, *, name: str) -> dict[str, Any]:
    """A mapping of column name to values, from a mapping, a pandas/polars DataFrame or an Arrow table/batch."""
    if isinstance(table, pa.Table | pa.RecordBatch):
        return {column: table.column(column) for column in table.column_names}
    module, kind = type(table).__module__.split(".")[0], type(table).__name__
    if module in ("pandas", "polars") and kind == "DataFrame":
        return {str(column): table[column] for column in table.columns}
    if isinstance(table, Mapping):
        return {str(column): values for column, values in table.items()}
    raise InvalidInput(
        f"{name}: expected a mapping of column name to values, a pandas or polars DataFrame, "
        f"or a pyarrow Table or RecordBatch, got {type(table).__name__}"
    )


def _rows(data: Mapping[str, Any], *, name: str) -> int:
    lengths = {column: len(values) for column, values in data.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{column} has {n:,}" for column, n in lengths.items())
        raise InvalidInput(f"{name}: the columns must have the same length: {shown}")
    return next(iter(lengths.values()), 0)


def _parallel(function: Any, names: list[str], workers: int | None) -> Iterator[Any]:
    """``map(function, names)`` on threads: numpy sorts and searches release the GIL."""
    count = min(len(names), workers or os.cpu_count() or 1)
    if count <= 1:
        return map(function, names)
    with ThreadPoolExecutor(max_workers=count) as pool:
        return iter(list(pool.map(function, names)))
