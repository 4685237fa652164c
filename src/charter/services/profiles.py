"""The reference profile stored with a dataset version, so monitors never re-read the reference rows.

Which columns are profiled: numbers and booleans, and text or dictionary columns with at most
:data:`MAX_CATEGORIES` distinct values. Left out, each with its reason: columns classified as
personal data (their values would be copied into the profile), text with more distinct values
than that (identifiers, free text), and dates, times, binaries and nested types.

The profile also carries the input-anomaly model (:class:`~charter.metrics.anomaly.AnomalyModel`)
fitted on the profiled numeric columns, so an ``input_anomaly`` monitor works for data registered
from memory (the SDK's ``register_dataset``) as well as from files, without re-reading rows.
It is left out, with the reason under ``anomaly_skipped``, when there are more than
:data:`MAX_ANOMALY_COLUMNS` numeric columns (its covariance grows with their square) or the
rows cannot support it (fewer complete rows than columns, a singular covariance).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import InvalidInput
from charter.metrics.summary import ReferenceProfile

#: Text columns with more distinct values than this are not profiled (identifiers, free text).
MAX_CATEGORIES = 1000
#: More numeric columns than this and no anomaly model is stored with the profile.
MAX_ANOMALY_COLUMNS = 100


def _reason(values: pa.ChunkedArray, pii_category: str | None) -> str | None:
    """Why a column is left out of the profile, or None to profile it."""
    if pii_category is not None:
        return f"personal data ({pii_category})"
    kind = values.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        distinct = int(pc.count_distinct(values.cast(kind) if kind != values.type else values).as_py())
        return None if distinct <= MAX_CATEGORIES else f"{distinct:,} distinct values (more than {MAX_CATEGORIES:,})"
    return f"type {values.type} is not profiled"


def _present(values: pa.ChunkedArray) -> int:
    """Values that are neither null nor, for floating-point columns, NaN or infinite."""
    kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if pa.types.is_floating(kind) and not pa.types.is_dictionary(values.type):
        return int(pc.sum(pc.is_finite(values)).as_py() or 0)
    return int(len(values) - values.null_count)


def dataset_profile(table: pa.Table, pii: Sequence[str | None]) -> dict[str, Any] | None:
    """The profile of a registered table as stored (``ReferenceProfile.to_dict()`` plus ``skipped``).

    ``pii`` holds each column's PII category (None when it is not personal data), in table
    order. None when the table has no rows.
    """
    if table.num_rows == 0:
        return None
    skipped: dict[str, str] = {}
    kept = []
    for name, category in zip(table.column_names, pii, strict=True):
        values = table.column(name)
        reason = _reason(values, category)
        if reason is None and _present(values) == 0:
            reason = "every value is missing"
        if reason is None:
            kept.append(name)
        else:
            skipped[name] = reason
    profile = ReferenceProfile.fit(table.select(kept)) if kept else None
    stored: dict[str, Any] = profile.to_dict() if profile else {"rows": table.num_rows, "columns": {}}
    stored["skipped"] = skipped
    _add_anomaly_model(stored, table, kept)
    return stored


def _add_anomaly_model(stored: dict[str, Any], table: pa.Table, kept: Sequence[str]) -> None:
    from charter.metrics.anomaly import AnomalyModel

    def is_number(kind: pa.DataType) -> bool:
        return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))

    numeric = [name for name in kept if is_number(table.schema.field(name).type)]
    if not numeric:
        stored["anomaly_skipped"] = "no numeric column"
    elif len(numeric) > MAX_ANOMALY_COLUMNS:
        stored["anomaly_skipped"] = f"{len(numeric)} numeric columns (more than {MAX_ANOMALY_COLUMNS})"
    else:
        try:
            stored["anomaly_model"] = AnomalyModel.fit(table.select(numeric)).to_dict()
        except InvalidInput as exc:
            stored["anomaly_skipped"] = exc.message


def stored_anomaly_model(stored: dict[str, Any] | None, columns: Sequence[str] | None = None) -> Any:
    """The anomaly model stored with a profile, cut down to ``columns`` when they are given; None when there
    is none or it does not cover them all."""
    from charter.metrics.anomaly import AnomalyModel

    found = None if stored is None else stored.get("anomaly_model")
    if not found or (columns is not None and not set(columns) <= set(found.get("columns", ()))):
        return None
    model = AnomalyModel.from_dict(found)
    return model if columns is None or list(columns) == list(model.columns) else model.select(columns)


def profiled(stored: dict[str, Any] | None) -> ReferenceProfile | None:
    """The stored profile of a dataset version, or None when it has none."""
    return None if stored is None else ReferenceProfile.from_dict(stored)
