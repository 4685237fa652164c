"""Service records as plain dicts, one level deep.

``dataclasses.asdict`` copies every nested value recursively, which costs more than the query that
read the record on the API's list routes. The records here are frozen and their nested values are
JSON-like data that callers only read, so a one-level copy is what the API and the CLI's JSON need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Result


def fields_dict(record: Any) -> dict[str, Any]:
    """The dataclass ``record``'s fields by name, values as they are (not copied)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def result_rows(result: Result[Any]) -> list[dict[str, Any]]:
    """Every row of an executed query as a plain dict (reading a result row by name is slow)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def row_fields(row: Mapping[Any, Any], fields: Iterable[str], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of ``row`` (a dict, or a result row's mapping) for the dataclass ``fields`` it has, less ``skip``."""
    values = row if isinstance(row, dict) else dict(row)  # a result row's `in` is slow; a dict's is not
    return {name: values[name] for name in fields if name in values and name not in skip}
