"""Data quality of a window: missing values, type violations, out-of-range values, unseen categories.

What each feature is checked against comes from the version's input schema
(``context["input_schema"]``, the registry's ``{"features": [{"name", "type", "min", "max",
"categories"}]}``), and where the schema says nothing, from the reference profile:

- every feature: the **missing** share over rows (null, NaN and the empty string, as
  :mod:`charter.metrics.quality` counts them);
- ``number`` and ``integer`` features (numeric in the profile): **type violations**, values
  that are not numbers (text that does not read as a number, booleans), and for ``integer``
  numbers with a fraction; **out of range**, numbers below ``min`` or above ``max`` (the
  profile's reference minimum and maximum when the schema declares none) and ±inf;
- ``category`` features with ``categories`` (categorical in the profile: its labels):
  **unseen categories**, present values that are none of them.

Type, range and category shares are over the feature's present values. Each batch is counted
into a small integer array per feature, so merging is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from charter.engines.base import Finished, MetricValue, Plan, Setup
from charter.errors import InvalidInput
from charter.metrics.quality_values import NUMBER_TEXT
from charter.metrics.summary import CategoricalProfile, NumericProfile

NUMERIC_TYPES = ("number", "integer")
# Cells of a feature's counts.
ROWS, MISSING, PRESENT, TYPE_CHECKED, TYPE_BAD, RANGE_CHECKED, OUT_OF_RANGE, CATEGORY_CHECKED, UNSEEN = range(9)
Counts = dict[str, npt.NDArray[np.int64]]


@dataclass(frozen=True)
class _Rule:
    """What one feature is checked against."""

    numeric: bool
    integer: bool = False
    low: float | None = None
    high: float | None = None
    categories: tuple[Any, ...] | None = None

    @property
    def bounded(self) -> bool:
        return self.low is not None or self.high is not None


def data_quality(setup: Setup) -> Plan:
    setup.options(())
    schema = _schema_features(setup)
    reference = setup.reference
    if schema is None and reference is None:
        raise InvalidInput(
            "data_quality: the context has no 'input_schema' (the version's input schema) and no reference "
            "profile was given; pass one of them"
        )
    declared = list(schema or {}) or list(reference.columns if reference else [])
    features = list(setup.spec.features) or declared
    if setup.spec.features:
        setup.check_features(features)
    absent = [f for f in features if f not in setup.schema.names]
    features = [f for f in features if f in setup.schema.names]
    rules = {f: _rule(f, (schema or {}).get(f), reference, setup.schema.field(f).type) for f in features}

    def summarise(batch: pa.RecordBatch) -> Counts:
        return {f: _count(batch.column(f), rule) for f, rule in rules.items()}

    def merge(a: Counts, b: Counts) -> Counts:
        return {f: a[f] + b[f] for f in rules}

    def finish(counts: Counts) -> Finished:
        values: list[MetricValue] = []
        source = "input schema" if schema is not None else "reference profile"
        notes = [f"feature {f}: in the {source}, not in the decisions table" for f in absent]
        checks = (
            ("quality.missing_share", MISSING, ROWS, lambda r: True),
            ("quality.type_violation_share", TYPE_BAD, TYPE_CHECKED, lambda r: r.numeric),
            ("quality.out_of_range_share", OUT_OF_RANGE, RANGE_CHECKED, lambda r: r.numeric and r.bounded),
            ("quality.unseen_category_share", UNSEEN, CATEGORY_CHECKED, lambda r: r.categories is not None),
        )
        for metric, count, total, applies in checks:
            used = [f for f, rule in rules.items() if applies(rule)]
            if not used:
                notes.append(f"{metric}: no feature has what the check needs")
                continue
            failing = sum(int(counts[f][count]) for f in used)
            checked = sum(int(counts[f][total]) for f in used)
            per_feature = {f: _share(int(counts[f][count]), int(counts[f][total])) for f in used}
            details = {"count": failing, "of": checked, "features": per_feature}
            values.append(MetricValue(metric, _share(failing, checked), checked, details))
            for f in used:
                rule = rules[f]
                extra = {"low": rule.low, "high": rule.high} if metric == "quality.out_of_range_share" else {}
                values.append(
                    MetricValue(
                        f"{metric}:{f}",
                        per_feature[f],
                        int(counts[f][total]),
                        {"count": int(counts[f][count]), **extra},
                    )
                )
        if schema is not None and not setup.spec.features:
            values.append(MetricValue("quality.schema_violations", len(absent), 0, {"missing_columns": absent}))
        return Finished(values, notes)

    return Plan(tuple(features), summarise, merge, finish, {f: np.zeros(9, dtype=np.int64) for f in rules})


def _schema_features(setup: Setup) -> dict[str, Mapping[str, Any]] | None:
    schema = setup.context.get("input_schema")
    if schema is None:
        return None
    if not isinstance(schema, Mapping) or not isinstance(schema.get("features"), list):
        raise InvalidInput("data_quality: context 'input_schema' must be an input schema: {'features': [...]}")
    features: dict[str, Mapping[str, Any]] = {}
    for index, feature in enumerate(schema["features"]):
        if not isinstance(feature, Mapping) or not isinstance(feature.get("name"), str):
            raise InvalidInput(f"data_quality: input_schema features[{index}] has no name")
        features[feature["name"]] = feature
    return features


def _rule(name: str, declared: Mapping[str, Any] | None, reference: Any, column: pa.DataType) -> _Rule:
    profile = reference.columns.get(name) if reference is not None else None
    if declared is not None:
        kind = declared.get("type")
        if kind in NUMERIC_TYPES:
            low, high = declared.get("min"), declared.get("max")
            if low is None and high is None and isinstance(profile, NumericProfile):
                low, high = profile.reference.minimum, profile.reference.maximum
            return _Rule(True, kind == "integer", _number(low), _number(high))
        categories = declared.get("categories")
        if categories is None and isinstance(profile, CategoricalProfile) and kind == "category":
            categories = list(profile.reference.as_dict())
        return _Rule(False, categories=None if categories is None else tuple(categories))
    if isinstance(profile, NumericProfile):
        return _Rule(True, False, profile.reference.minimum, profile.reference.maximum)
    if isinstance(profile, CategoricalProfile):
        return _Rule(False, categories=tuple(profile.reference.as_dict()))
    numeric = pa.types.is_integer(column) or pa.types.is_floating(column) or pa.types.is_decimal(column)
    return _Rule(numeric)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _count(values: pa.Array, rule: _Rule) -> npt.NDArray[np.int64]:
    counts = np.zeros(9, dtype=np.int64)
    counts[ROWS] = len(values)
    kind = values.type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    absent = pc.is_null(values, nan_is_null=True)
    if text:
        absent = pc.or_(absent, pc.equal(values, ""))
    present = values.filter(pc.invert(absent))
    counts[MISSING] = len(values) - len(present)
    counts[PRESENT] = len(present)
    if rule.numeric:
        counts[TYPE_CHECKED] = len(present)
        numbers, bad = _numbers(present, text)
        if rule.integer and len(numbers):
            finite = numbers[np.isfinite(numbers)]
            bad += int(np.count_nonzero(finite != np.floor(finite)))
        counts[TYPE_BAD] = bad
        if rule.bounded:
            counts[RANGE_CHECKED] = len(present)
            outside = ~np.isfinite(numbers)
            if rule.low is not None:
                outside |= numbers < rule.low
            if rule.high is not None:
                outside |= numbers > rule.high
            counts[OUT_OF_RANGE] = int(np.count_nonzero(outside))
    if rule.categories is not None:
        counts[CATEGORY_CHECKED] = len(present)
        counts[UNSEEN] = len(present) - int(pc.sum(_known(present, rule.categories)).as_py() or 0)
    return counts


def _numbers(present: pa.Array, text: bool) -> tuple[npt.NDArray[np.float64], int]:
    """The present values that are numbers, as floats, and how many are not numbers."""
    kind = present.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return np.asarray(present.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64), 0
    if text:
        readable = pc.match_substring_regex(present, NUMBER_TEXT)
        numbers = pc.cast(pc.utf8_trim_whitespace(present.filter(readable)), pa.float64())
        return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64), len(present) - len(numbers)
    return np.empty(0, dtype=np.float64), len(present)  # booleans, dates, ...: none is a number


def _known(present: pa.Array, categories: tuple[Any, ...]) -> pa.Array:
    try:
        allowed = pa.array(list(categories)).cast(present.type)
        return pc.is_in(present, value_set=allowed)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        as_text = pa.array([str(c) for c in categories], type=pa.string())
        return pc.is_in(pc.cast(present, pa.string()), value_set=as_text)
