"""Group fairness of a binary classifier: per-group rates and the gaps between groups.

Every kernel takes ``(y_true, y_pred)`` first (list, numpy array, pandas Series, polars Series
or pyarrow Array; 0/1 or False/True), the group labels keyword-only as ``sensitive`` (one per
row), and returns a plain ``float`` (:func:`group_rates` a list of :class:`GroupRates`).

Groups. ``sensitive`` is one column of labels, or several columns for intersectional groups:
a list or tuple whose every item is itself a column (a list, numpy array, pandas/polars Series,
pyarrow Array), or a pandas/polars DataFrame. Several columns are combined row by row into
tuple labels such as ``("F", "18-30")``; a tuple *of labels* (not of columns) is one column.
Groups are sorted by label. A missing label (None, NaN, null) is an error naming the column:
give those rows a label such as ``"unknown"`` or drop them first.

Rates follow fairlearn's ``MetricFrame`` with scikit-learn's ``zero_division=0``: a rate whose
denominator is 0 is 0.0. A group with no positives has TPR = FNR = 0.0, one with no negatives
FPR = TNR = 0.0, one with no predicted positives precision 0.0. Every group counts in the gaps,
however small (as in fairlearn); :attr:`GroupRates.too_small` only flags it.

Differences are ``max - min`` over the groups and ratios ``min / max`` (fairlearn's
``method="between_groups"``); with one group a difference is 0.0 and a ratio 1.0. When every
group's rate is 0 a ratio is 1.0 (all groups are equal; fairlearn returns NaN there), so a ratio
always lies in [0, 1] and a difference is never negative.

``privileged`` (for :func:`disparate_impact` and :func:`average_odds_difference`) names one
group; every other row is pooled into the unprivileged group, as AIF360 computes it when the
unprivileged group is defined as everyone else. With two groups that is simply the other group.

Registered ids and default thresholds:

    fairness.demographic_parity_difference   higher_is_worse   0.1
    fairness.demographic_parity_ratio        higher_is_better  0.8   (the four-fifths rule)
    fairness.disparate_impact                higher_is_better  0.8
    fairness.equalized_odds_difference       higher_is_worse   0.1
    fairness.equalized_odds_ratio            higher_is_better  0.8
    fairness.equal_opportunity_difference    higher_is_worse   0.1
    fairness.average_odds_difference         higher_is_worse   0.1   (on the absolute value: it is signed)
    fairness.predictive_parity_difference    higher_is_worse   0.1
    fairness.theil_index                     higher_is_worse   none
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from charter.errors import InvalidInput
from charter.metrics.inputs import FloatArray, as_float_array, as_label_array, check_binary, same_length
from charter.metrics.registry import Direction, register

#: A column of values: list, numpy array, pandas Series, polars Series or pyarrow Array.
Column: TypeAlias = Any
IntArray = npt.NDArray[np.int64]

#: The standard normal quantile for a two-sided 95% interval, ``scipy.stats.norm.ppf(0.975)``.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class GroupRates:
    """One group's confusion-matrix rates (0.0 where the denominator is 0, see the module docstring)."""

    group: Any  # a label, or a tuple of labels for intersectional groups
    count: int
    selection_rate: float  # predicted positives / count
    tpr: float  # true positives / positives
    fpr: float  # false positives / negatives
    fnr: float  # false negatives / positives
    tnr: float  # true negatives / negatives
    precision: float  # true positives / predicted positives
    base_rate: float  # positives / count
    too_small: bool  # count < min_group_size
    selection_rate_ci: tuple[float, float]  # Wilson 95% interval of the selection rate


@dataclass(frozen=True)
class ConfusionCounts:
    """Each group's confusion matrix, groups sorted by label: what a window of decisions keeps.

    Counts add up, so the counts of two windows merge exactly (:meth:`merge`), and every
    fairness metric and the binary performance metrics follow from them (:meth:`metric`,
    :meth:`group_rates`, :meth:`performance`). ``to_dict`` / ``from_dict`` round-trip them
    through JSON (intersectional labels become lists there and tuples again).
    """

    groups: tuple[Any, ...]
    tn: tuple[int, ...]
    fp: tuple[int, ...]
    fn: tuple[int, ...]
    tp: tuple[int, ...]

    @functools.cached_property
    def _arrays(self) -> dict[str, IntArray]:
        tn, fp, fn, tp = (np.asarray(v, dtype=np.int64) for v in (self.tn, self.fp, self.fn, self.tp))
        return {"count": tn + fp + fn + tp, "positives": fn + tp, "predicted": fp + tp, "true_positives": tp}

    @property
    def count(self) -> IntArray:
        return self._arrays["count"]

    @property
    def positives(self) -> IntArray:
        """Rows with y_true == 1, per group."""
        return self._arrays["positives"]

    @property
    def predicted(self) -> IntArray:
        """Rows with y_pred == 1, per group."""
        return self._arrays["predicted"]

    @property
    def true_positives(self) -> IntArray:
        return self._arrays["true_positives"]

    def merge(self, other: ConfusionCounts) -> ConfusionCounts:
        cells: dict[Any, list[int]] = {}
        for counts in (self, other):
            for group, *row in zip(counts.groups, counts.tn, counts.fp, counts.fn, counts.tp, strict=True):
                total = cells.setdefault(group, [0, 0, 0, 0])
                for i, n in enumerate(row):
                    total[i] += int(n)
        return _from_cells(cells)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [list(g) if isinstance(g, tuple) else g for g in self.groups],
            "tn": list(self.tn),
            "fp": list(self.fp),
            "fn": list(self.fn),
            "tp": list(self.tp),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfusionCounts:
        try:
            groups = [tuple(g) if isinstance(g, list) else g for g in data["groups"]]
            rows = zip(groups, data["tn"], data["fp"], data["fn"], data["tp"], strict=True)
            cells = {group: [int(n) for n in row] for group, *row in rows}
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not confusion counts: {exc!r}") from None
        if any(n < 0 for row in cells.values() for n in row):
            raise InvalidInput("not confusion counts: a count is negative")
        return _from_cells(cells)

    def group_rates(self, *, min_group_size: int = 30) -> list[GroupRates]:
        """Each group's count and rates, as :func:`group_rates` gives them."""
        return _group_rates(self, min_group_size)

    def metric(self, metric_id: str, **options: Any) -> float:
        """A registered fairness metric (``fairness.demographic_parity_ratio``) from these counts.

        ``privileged=`` for the metrics that take it. The Theil index pools every group.
        """
        if metric_id not in _FROM_COUNTS:
            raise InvalidInput(f"no fairness metric {metric_id!r} (metrics: {', '.join(_FROM_COUNTS)})")
        return _FROM_COUNTS[metric_id](self, **options)

    def performance(self) -> dict[str, float]:
        """Accuracy, precision, recall and F1 over every group (scikit-learn's binary, zero_division=0)."""
        tp, fp, fn, tn = (float(sum(v)) for v in (self.tp, self.fp, self.fn, self.tn))
        total = tp + fp + fn + tn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        return {"accuracy": (tp + tn) / total if total else 0.0, "precision": precision, "recall": recall, "f1": f1}

    def rates(self) -> dict[str, FloatArray]:
        count, pos, pred, tp = (
            a.astype(np.float64) for a in (self.count, self.positives, self.predicted, self.true_positives)
        )
        neg = count - pos
        fp, fn = pred - tp, pos - tp
        return {
            "selection_rate": _ratio(pred, count),
            "tpr": _ratio(tp, pos),
            "fpr": _ratio(fp, neg),
            "fnr": _ratio(fn, pos),
            "tnr": _ratio(neg - fp, neg),
            "precision": _ratio(tp, pred),
            "base_rate": _ratio(pos, count),
        }


# --- inputs ----------------------------------------------------------------------------
#
# The common columns take a fast way: bool or 0/1 integer outcomes, and integer, bool or string
# group labels, without missing values, as numpy arrays or pandas, polars or pyarrow columns. It
# has no per-row Python step and no sort over the rows: labels become codes (integers offset by
# their minimum, strings hashed by Arrow's dictionary_encode), and one np.bincount over
# ``code * 4 + y_true * 2 + y_pred`` counts every group's confusion matrix at once. Everything
# else (floats, lists of numbers, nulls, mixed types, bad values) goes the general way, which also
# words every error.

#: Integer labels are counted in one slot per value between their minimum and maximum (no sort),
#: as long as that is at most this many slots more than there are rows; wider spans use np.unique.
_SPARE_SLOTS = 1 << 16


def _binary(values: Column) -> npt.NDArray[np.bool_] | None:
    """A bool column, or an integer one whose min and max show it is 0/1, as booleans; else None.

    Only numpy arrays and the pandas, polars and pyarrow columns numpy reads without a per-row
    step; lists, floats and columns with nulls return None and go the general way.
    """
    module = type(values).__module__.split(".")[0]
    if isinstance(values, np.ndarray):
        array = values
    elif module == "pandas" and isinstance(getattr(values, "dtype", None), np.dtype):
        array = values.to_numpy()
    elif module in ("polars", "pyarrow") and _is_column(values):
        array = np.asarray(values)  # with nulls this is float (NaN) or object: the general way
    else:
        return None
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "biu":
        return None
    if array.dtype.kind == "b":
        return array
    if array.min() < 0 or array.max() > 1:
        return None  # the general way names the other values
    if array.dtype.itemsize == 1:
        return array.view(np.bool_)  # 0/1 bytes already are booleans
    return array.astype(np.bool_)


def _outcomes(values: Column, *, name: str) -> npt.NDArray[np.bool_]:
    """0/1 (or False/True) labels as booleans."""
    fast = _binary(values)
    if fast is not None:
        return fast
    array = as_float_array(values, name=name)
    check_binary(array, name=name, missing_reason="fairness metrics need complete rows")
    positive: npt.NDArray[np.bool_] = array == 1
    return positive


def _is_column(value: Any) -> bool:
    if isinstance(value, list | np.ndarray):
        return True
    module, kind = type(value).__module__.split(".")[0], type(value).__name__
    return (module in ("pandas", "polars") and kind == "Series") or (module == "pyarrow" and kind.endswith("Array"))


def _columns(sensitive: Any) -> list[tuple[str, Column]]:
    """The sensitive column(s), each with the name an error message gives it."""
    module, kind = type(sensitive).__module__.split(".")[0], type(sensitive).__name__
    if module in ("pandas", "polars") and kind == "DataFrame":
        return [(f"sensitive[{column!r}]", sensitive[column]) for column in sensitive.columns]
    if isinstance(sensitive, list | tuple) and sensitive and all(_is_column(item) for item in sensitive):
        return [(f"sensitive[{i}]", column) for i, column in enumerate(sensitive)]
    return [("sensitive", sensitive)]


@dataclass(frozen=True)
class _Codes:
    """A column of group labels as codes: row ``i`` is in group ``labels[codes[i]]``.

    The labels are distinct, but may be unsorted (unless ``ordered``) and some may have no rows:
    the tally drops the empty ones and sorts the rest.
    """

    labels: npt.NDArray[Any]
    codes: npt.NDArray[np.integer[Any]]
    ordered: bool


def _integer_codes(array: npt.NDArray[Any]) -> _Codes:
    """Bool or integer labels: the value itself (less the minimum) is the code when the span is small."""
    if array.dtype.kind == "b":
        return _Codes(np.array([False, True]), array.view(np.uint8), ordered=True)
    low, high = int(array.min()), int(array.max())
    if high - low <= array.size + _SPARE_SLOTS and high <= np.iinfo(np.int64).max:
        codes = array.astype(np.int64, copy=False) - low if low else array
        return _Codes(np.arange(low, high + 1, dtype=np.int64), codes, ordered=True)
    distinct, inverse = np.unique(array, return_inverse=True)
    return _Codes(distinct, inverse.reshape(-1), ordered=True)


def _fixed_width_codes(array: npt.NDArray[np.str_]) -> _Codes:
    """numpy strings hashed as Arrow fixed-size binary (equal bytes are equal strings: numpy pads with NULs)."""
    import pyarrow as pa  # here, so that importing the metrics does not import Arrow

    array = np.ascontiguousarray(array)
    width = array.dtype.itemsize
    binary = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), array.size, [None, pa.py_buffer(array)])
    encoded = binary.dictionary_encode()
    distinct = encoded.dictionary
    labels = np.frombuffer(
        distinct.buffers()[1], dtype=array.dtype, count=len(distinct), offset=distinct.offset * width
    )
    return _Codes(labels, encoded.indices.to_numpy(), ordered=False)


def _arrow_codes(array: Any) -> _Codes | None:
    """An Arrow column of strings (plain or dictionary-encoded) without nulls, hashed by dictionary_encode."""
    import pyarrow as pa

    dictionary = pa.types.is_dictionary(array.type)
    kind = array.type.value_type if dictionary else array.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        return None  # numbers go through numpy
    if array.null_count:
        return None  # the general way names the missing labels
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if dictionary:
        distinct, indices = array.dictionary, array.indices
        if distinct.null_count or len(distinct.unique()) != len(distinct):
            return None
    else:
        encoded = array.dictionary_encode()
        distinct, indices = encoded.dictionary, encoded.indices
    return _Codes(distinct.to_numpy(zero_copy_only=False), indices.to_numpy(), ordered=False)


def _plain_codes(values: Column) -> _Codes | None:
    """A fast path: a column of labels all of one plain type (str, int or bool), which has no missing values.

    Anything else (floats, mixed types, None, NaN, nulls) returns None and goes the general way.
    """
    import pyarrow as pa

    module, kind = type(values).__module__.split(".")[0], type(values).__name__
    try:
        if module == "pyarrow" and kind.endswith("Array"):
            arrow = values
        elif module == "polars" and kind == "Series":
            arrow = values.to_arrow()
        elif module == "pandas" and kind == "Series" and not isinstance(values.dtype, np.dtype):
            arrow = pa.array(values)  # pandas' str, category and Arrow dtypes
        elif isinstance(values, list | tuple) and values and type(values[0]) is str:
            # Only when every item is a str: numpy would turn ["a", 1] into strings.
            return _arrow_codes(pa.array(values, type=pa.string())) if set(map(type, values)) == {str} else None
        else:
            arrow = None
        codes = None if arrow is None else _arrow_codes(arrow)
        if codes is not None:
            return codes
        array = np.asarray(values)  # lists and the numpy, pandas, polars and pyarrow columns
        if array.ndim != 1 or array.size == 0:
            return None
        if array.dtype.kind in "biu":
            return _integer_codes(array)
        if array.dtype.kind == "U":
            plain = not isinstance(values, list | tuple) or set(map(type, values)) == {str}
            return _fixed_width_codes(array) if plain else None
        if array.dtype == object:
            kinds = set(map(type, array))
            if kinds == {str}:
                return _arrow_codes(pa.array(array, type=pa.string()))
            if kinds == {bool}:
                return _integer_codes(array.astype(bool))
    except (pa.ArrowException, TypeError, ValueError):  # such as a str Arrow cannot encode (a lone surrogate)
        return None
    return None


def _encode(values: Column, *, name: str) -> _Codes:
    """One column of group labels as codes (see :class:`_Codes`)."""
    plain = _plain_codes(values)
    if plain is not None:
        return plain
    labels = as_label_array(values, name=name)
    absent: npt.NDArray[np.bool_] = labels == None  # noqa: E711 (elementwise; as_label_array marks missing as None)
    missing = int(np.count_nonzero(absent))
    if missing:
        raise InvalidInput(
            f"{name}: {missing:,} missing group label(s) (None, NaN or null); "
            "give those rows a label such as 'unknown', or drop them first"
        )
    try:
        distinct, inverse = np.unique(labels, return_inverse=True)
    except TypeError as exc:
        raise InvalidInput(
            f"{name}: the group labels cannot be compared with each other ({exc}); "
            "give labels of one kind (all strings, or all numbers)"
        ) from None
    return _Codes(distinct, inverse.reshape(-1), ordered=True)


def _compact(column: _Codes) -> tuple[list[Any], npt.NDArray[np.intp]]:
    """The labels that have rows, sorted, and each row's index into them."""
    codes = column.codes.astype(np.intp, copy=False)  # np.bincount refuses uint64
    used = np.flatnonzero(np.bincount(codes, minlength=len(column.labels)))
    if not column.ordered:
        used = used[np.argsort(column.labels[used], kind="stable")]
    rank = np.zeros(len(column.labels), dtype=np.intp)
    rank[used] = np.arange(used.size)
    labels = [v.item() if isinstance(v, np.generic) else v for v in column.labels[used].tolist()]
    return labels, rank[codes]


def _groups(sensitive: Any, rows: int) -> _Codes:
    """Each row's group: one column's labels, or tuples of labels when intersectional."""
    columns = []
    for name, column in _columns(sensitive):
        encoded_column = _encode(column, name=name)
        same_length(("y_true", np.empty(rows)), (name, encoded_column.codes))
        columns.append(encoded_column)
    if len(columns) == 1:
        return columns[0]
    # Each column's labels sorted, so mixed-radix codes sort the groups by their tuple of labels.
    encoded = [_compact(column) for column in columns]
    sizes = tuple(len(labels) for labels, _ in encoded)
    if math.prod(sizes) <= rows + _SPARE_SLOTS:  # one slot per combination, as for integer labels
        slots = np.ravel_multi_index(tuple(codes for _, codes in encoded), sizes)
        used = np.flatnonzero(np.bincount(slots, minlength=math.prod(sizes)))
        rank = np.zeros(math.prod(sizes), dtype=np.intp)
        rank[used] = np.arange(used.size)
        combined, picks = rank[slots], np.unravel_index(used, sizes)
    else:  # compacted after each column, so the codes never overflow
        combined = np.zeros(rows, dtype=np.intp)
        first = np.zeros(0, dtype=np.intp)
        for labels, codes in encoded:
            _, first, inverse = np.unique(combined * len(labels) + codes, return_index=True, return_inverse=True)
            combined = inverse.reshape(-1).astype(np.intp)
        picks = tuple(codes[first] for _, codes in encoded)
    groups = np.empty(len(picks[0]), dtype=object)  # filled one by one: tuples must stay tuples
    for i, pick in enumerate(zip(*(p.tolist() for p in picks), strict=True)):  # a loop over the groups
        groups[i] = tuple(labels[j] for (labels, _), j in zip(encoded, pick, strict=True))
    return _Codes(groups, combined, ordered=True)


def _from_cells(cells: dict[Any, list[int]]) -> ConfusionCounts:
    """Counts from ``{group: [tn, fp, fn, tp]}``, groups sorted by label (by their repr if labels do not compare)."""
    try:
        groups = sorted(cells)
    except TypeError:
        groups = sorted(cells, key=repr)
    tn, fp, fn, tp = (tuple(cells[g][i] for g in groups) for i in range(4))
    return ConfusionCounts(tuple(groups), tn, fp, fn, tp)


def confusion_counts(y_true: Column, y_pred: Column, *, sensitive: Any = None) -> ConfusionCounts:
    """Each group's confusion matrix; with ``sensitive=None``, one group ``"all"``."""
    if sensitive is None:
        true = _outcomes(y_true, name="y_true")  # checked once here, then passed on as booleans
        whole = _tally(true, y_pred, np.zeros(len(true), dtype=np.int8))
        return ConfusionCounts(("all",), whole.tn, whole.fp, whole.fn, whole.tp)
    return _tally(y_true, y_pred, sensitive)


def _tally(y_true: Column, y_pred: Column, sensitive: Any) -> ConfusionCounts:
    true = _outcomes(y_true, name="y_true")
    pred = _outcomes(y_pred, name="y_pred")
    same_length(("y_true", true), ("y_pred", pred))
    if true.size == 0:
        raise InvalidInput("y_true: no values; fairness metrics need at least one (y_true, y_pred, sensitive) row")
    groups = _groups(sensitive, true.size)
    slots = len(groups.labels)
    # One pass counts every cell: code * 4 + y_true * 2 + y_pred, in the narrowest integer that holds it.
    cell = groups.codes.astype(np.uint8 if slots <= 64 else np.uint16 if slots <= 16384 else np.intp)
    np.left_shift(cell, 2, out=cell)
    np.bitwise_or(cell, (true.view(np.uint8) << 1) | pred.view(np.uint8), out=cell)
    cells = np.bincount(cell, minlength=4 * slots).reshape(slots, 4).astype(np.int64)  # TN, FP, FN, TP
    used = np.flatnonzero(cells.sum(axis=1))
    if not groups.ordered:
        used = used[np.argsort(groups.labels[used], kind="stable")]
    tn, fp, fn, tp = (tuple(column.tolist()) for column in cells[used].T)
    return ConfusionCounts(tuple(groups.labels[used].tolist()), tn, fp, fn, tp)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _difference(values: FloatArray) -> float:
    return float(values.max() - values.min())


def _min_over_max(values: FloatArray) -> float:
    top = values.max()
    return float(values.min() / top) if top > 0 else 1.0


def _wilson(successes: FloatArray, trials: FloatArray, z: float = Z_95) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval: (p + z²/2n ± z √(p(1-p)/n + z²/4n²)) / (1 + z²/n); trials must be positive."""
    p = successes / trials
    z2 = z * z
    scale = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / scale
    half = z * np.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / scale
    # The interval holds p mathematically; min/max keep it so against rounding (and make p = 0 or 1 exact).
    return np.minimum(np.clip(centre - half, 0.0, 1.0), p), np.maximum(np.clip(centre + half, 0.0, 1.0), p)


def _privileged_split(tally: ConfusionCounts, privileged: Any) -> tuple[int, npt.NDArray[np.bool_]]:
    """The privileged group's index, and a mask of the other groups (pooled as unprivileged)."""
    wanted = tuple(privileged) if isinstance(privileged, list) else privileged
    hits = [i for i, group in enumerate(tally.groups) if group == wanted]  # a loop over the groups
    if not hits:
        shown = ", ".join(repr(g) for g in tally.groups[:10]) + (", ..." if len(tally.groups) > 10 else "")
        raise InvalidInput(f"privileged: {privileged!r} is not one of the groups ({shown})")
    others = np.ones(len(tally.groups), dtype=bool)
    others[hits[0]] = False
    if not others.any():
        raise InvalidInput(
            f"privileged: every row is in the privileged group {privileged!r}; "
            "the comparison needs at least one row in another group"
        )
    return hits[0], others


# --- per group -------------------------------------------------------------------------


def group_rates(y_true: Column, y_pred: Column, *, sensitive: Any, min_group_size: int = 30) -> list[GroupRates]:
    """Each group's count and rates, sorted by group, with a Wilson 95% interval for its selection rate.

    ``too_small`` flags groups with fewer than ``min_group_size`` rows, whose rates are noisy.
    """
    return _group_rates(_tally(y_true, y_pred, sensitive), min_group_size)


def _group_rates(tally: ConfusionCounts, min_group_size: int) -> list[GroupRates]:
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int | np.integer) or min_group_size < 0:
        raise InvalidInput(f"min_group_size: must be a whole number of at least 0, got {min_group_size!r}")
    rates = {name: values.tolist() for name, values in tally.rates().items()}
    low, high = _wilson(tally.predicted.astype(np.float64), tally.count.astype(np.float64))
    counts = tally.count.tolist()
    return [
        GroupRates(
            group=group,
            count=counts[i],
            **{name: values[i] for name, values in rates.items()},
            too_small=counts[i] < min_group_size,
            selection_rate_ci=(float(low[i]), float(high[i])),
        )
        for i, group in enumerate(tally.groups)
    ]


# --- between groups --------------------------------------------------------------------


def demographic_parity_difference(y_true: Column, y_pred: Column, *, sensitive: Any) -> float:
    """Highest minus lowest selection rate (share predicted positive) over the groups."""
    return _dp_difference(_tally(y_true, y_pred, sensitive))


def demographic_parity_ratio(y_true: Column, y_pred: Column, *, sensitive: Any) -> float:
    """Lowest over highest selection rate, in [0, 1] (1.0 when no group has any positive prediction)."""
    return _dp_ratio(_tally(y_true, y_pred, sensitive))


def disparate_impact(y_true: Column, y_pred: Column, *, sensitive: Any, privileged: Any = None) -> float:
    """Unprivileged selection rate over the privileged one (AIF360's disparate impact).

    With ``privileged=None`` no group is singled out: the lowest selection rate over the highest,
    which equals :func:`demographic_parity_ratio` and lies in [0, 1]. With ``privileged`` given,
    every other row is pooled into the unprivileged group and the ratio can exceed 1 (the
    unprivileged group is favoured); it is 1.0 when neither side has a positive prediction and
    ``math.inf`` when only the unprivileged side has.
    """
    return _disparate_impact(_tally(y_true, y_pred, sensitive), privileged=privileged)


def equalized_odds_difference(y_true: Column, y_pred: Column, *, sensitive: Any) -> float:
    """The larger of the TPR difference and the FPR difference over the groups (fairlearn's ``worst_case``)."""
    return _eo_difference(_tally(y_true, y_pred, sensitive))


def equalized_odds_ratio(y_true: Column, y_pred: Column, *, sensitive: Any) -> float:
    """The smaller of the TPR ratio and the FPR ratio (lowest over highest), in [0, 1]."""
    return _eo_ratio(_tally(y_true, y_pred, sensitive))


def equal_opportunity_difference(y_true: Column, y_pred: Column, *, sensitive: Any) -> float:
    """Highest minus lowest true positive rate over the groups."""
    return _eop_difference(_tally(y_true, y_pred, sensitive))


def average_odds_difference(y_true: Column, y_pred: Column, *, sensitive: Any, privileged: Any) -> float:
    """AIF360's ``((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2``, unprivileged minus privileged; signed, in [-1, 1].

    Every row outside the ``privileged`` group is pooled into the unprivileged group (with two
    groups, the other group). Negative when the privileged group gets more positive predictions.
    """
    return _average_odds(_tally(y_true, y_pred, sensitive), privileged=privileged)


def predictive_parity_difference(y_true: Column, y_pred: Column, *, sensitive: Any) -> float:
    """Highest minus lowest precision over the groups (a group with no positive prediction has precision 0.0)."""
    return _pp_difference(_tally(y_true, y_pred, sensitive))


def _dp_difference(tally: ConfusionCounts) -> float:
    return _difference(tally.rates()["selection_rate"])


def _dp_ratio(tally: ConfusionCounts) -> float:
    return _min_over_max(tally.rates()["selection_rate"])


def _disparate_impact(tally: ConfusionCounts, *, privileged: Any = None) -> float:
    if privileged is None:
        return _dp_ratio(tally)
    index, others = _privileged_split(tally, privileged)
    unprivileged = tally.predicted[others].sum() / tally.count[others].sum()
    favoured = tally.predicted[index] / tally.count[index]
    if favoured == 0:
        return 1.0 if unprivileged == 0 else math.inf
    return float(unprivileged / favoured)


def _eo_difference(tally: ConfusionCounts) -> float:
    rates = tally.rates()
    return max(_difference(rates["tpr"]), _difference(rates["fpr"]))


def _eo_ratio(tally: ConfusionCounts) -> float:
    rates = tally.rates()
    return min(_min_over_max(rates["tpr"]), _min_over_max(rates["fpr"]))


def _eop_difference(tally: ConfusionCounts) -> float:
    return _difference(tally.rates()["tpr"])


def _pp_difference(tally: ConfusionCounts) -> float:
    return _difference(tally.rates()["precision"])


def _average_odds(tally: ConfusionCounts, *, privileged: Any) -> float:
    index, others = _privileged_split(tally, privileged)
    arrays = (tally.count, tally.positives, tally.predicted, tally.true_positives)

    def tpr_fpr(mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
        count, pos, pred, tp = (float(a[mask].sum()) for a in arrays)
        neg = count - pos
        return (tp / pos if pos > 0 else 0.0), ((pred - tp) / neg if neg > 0 else 0.0)

    only = np.zeros(len(tally.groups), dtype=bool)
    only[index] = True
    tpr_p, fpr_p = tpr_fpr(only)
    tpr_u, fpr_u = tpr_fpr(others)
    return ((fpr_u - fpr_p) + (tpr_u - tpr_p)) / 2


# --- individual ------------------------------------------------------------------------


def theil_index(y_true: Column, y_pred: Column) -> float:
    """AIF360's generalized entropy index with alpha = 1 (the Theil index) of the benefits ``b = y_pred - y_true + 1``.

    Benefit is 0 for a false negative, 1 for a correct prediction and 2 for a false positive;
    with ``mu`` their mean, the index is ``mean((b / mu) * ln(b / mu))`` with ``0 * ln 0 = 0``.
    It is 0.0 when everyone gets the same benefit (including when every row is a false negative,
    where ``mu = 0`` and AIF360 returns NaN) and at most ``ln(n)``. The benefits take three
    values only, so the index follows from the confusion counts.
    """
    true = _outcomes(y_true, name="y_true")
    pred = _outcomes(y_pred, name="y_pred")
    same_length(("y_true", true), ("y_pred", pred))
    if true.size == 0:
        raise InvalidInput("y_true: no values; the Theil index needs at least one (y_true, y_pred) pair")
    return _theil(confusion_counts(true, pred))


def _theil(tally: ConfusionCounts) -> float:
    tn, fp, fn, tp = (sum(v) for v in (tally.tn, tally.fp, tally.fn, tally.tp))
    rows = tn + fp + fn + tp
    mu = (tn + tp + 2 * fp) / rows
    if mu == 0:
        return 0.0
    one, two = 1 / mu, 2 / mu  # the benefit of a correct prediction and of a false positive, over mu
    return float(((tn + tp) * one * math.log(one) + fp * two * math.log(two)) / rows)


_FROM_COUNTS: dict[str, Callable[..., float]] = {
    "fairness.demographic_parity_difference": _dp_difference,
    "fairness.demographic_parity_ratio": _dp_ratio,
    "fairness.disparate_impact": _disparate_impact,
    "fairness.equalized_odds_difference": _eo_difference,
    "fairness.equalized_odds_ratio": _eo_ratio,
    "fairness.equal_opportunity_difference": _eop_difference,
    "fairness.average_odds_difference": _average_odds,
    "fairness.predictive_parity_difference": _pp_difference,
    "fairness.theil_index": _theil,
}


# --- registration ----------------------------------------------------------------------

_WORSE: Direction = "higher_is_worse"
_BETTER: Direction = "higher_is_better"
_METRICS: tuple[tuple[str, Callable[..., Any], Direction, float | None, str], ...] = (
    (
        "fairness.demographic_parity_difference",
        demographic_parity_difference,
        _WORSE,
        0.1,
        "Highest minus lowest selection rate over the groups.",
    ),
    (
        "fairness.demographic_parity_ratio",
        demographic_parity_ratio,
        _BETTER,
        0.8,
        "Lowest over highest selection rate over the groups (four-fifths rule at 0.8).",
    ),
    (
        "fairness.disparate_impact",
        disparate_impact,
        _BETTER,
        0.8,
        "Unprivileged over privileged selection rate (lowest over highest when no group is privileged).",
    ),
    (
        "fairness.equalized_odds_difference",
        equalized_odds_difference,
        _WORSE,
        0.1,
        "Larger of the TPR and FPR differences between groups.",
    ),
    (
        "fairness.equalized_odds_ratio",
        equalized_odds_ratio,
        _BETTER,
        0.8,
        "Smaller of the TPR and FPR ratios (lowest over highest) between groups.",
    ),
    (
        "fairness.equal_opportunity_difference",
        equal_opportunity_difference,
        _WORSE,
        0.1,
        "Highest minus lowest true positive rate over the groups.",
    ),
    (
        "fairness.average_odds_difference",
        average_odds_difference,
        _WORSE,
        0.1,
        "Mean of the FPR and TPR gaps, unprivileged minus privileged; signed, the threshold is on its absolute value.",
    ),
    (
        "fairness.predictive_parity_difference",
        predictive_parity_difference,
        _WORSE,
        0.1,
        "Highest minus lowest precision over the groups.",
    ),
    (
        "fairness.theil_index",
        theil_index,
        _WORSE,
        None,
        "Theil index (generalized entropy, alpha 1) of individual benefits y_pred - y_true + 1; no default.",
    ),
)
for _id, _function, _direction, _threshold, _summary in _METRICS:
    register(_id, _function, direction=_direction, threshold=_threshold, summary=_summary)
