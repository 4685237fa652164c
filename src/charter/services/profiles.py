"""The reference profile stored with a dataset version, so monitors never re-read the reference rows.

Which columns are profiled: numbers and booleans, and text or dictionary columns with at most
:data:`MAX_CATEGORIES` distinct values. Left out, each with its reason: columns classified as
personal data (their values would be copied into the profile), text with more distinct values
than that (identifiers, free text), and dates, times, binaries and nested types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charter.metrics.summary import ReferenceProfile

#: Text columns with more distinct values than this are not profiled (identifiers, free text).
MAX_CATEGORIES = 1000


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
    return stored


def profiled(stored: dict[str, Any] | None) -> ReferenceProfile | None:
    """The stored profile of a dataset version, or None when it has none."""
    return None if stored is None else ReferenceProfile.from_dict(stored)
