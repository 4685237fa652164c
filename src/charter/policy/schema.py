"""The types the evaluation context is declared with, and checking a value against them.

A context schema is a tree of four kinds of type:

- :class:`Scalar`: string, number, integer, bool or timestamp (optionally null, optionally one
  of a list of choices);
- :class:`Record`: a mapping with declared fields, each with a description;
- :class:`MapOf`: a mapping from names the data decides (metric names, protected attributes)
  to values of one type;
- :class:`ListOf`: a list of values of one type.

:func:`conform` checks a value against a type and returns it in the form CEL compares
reliably: numbers as floats (CEL does not add an int to a double), timestamps as UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

ScalarType = Literal["string", "number", "integer", "bool", "timestamp"]

#: The sample timestamp of sample contexts.
SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Scalar:
    type: ScalarType
    nullable: bool = False
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        text: str = self.type
        if self.choices:
            text += f" ({' | '.join(self.choices)})"
        return f"{text} or null" if self.nullable else text


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    description: str
    example: Any = None


@dataclass(frozen=True)
class Record:
    fields: tuple[Field, ...]
    #: Evidence that may not exist yet: the record is then ``{}``, which ``has()`` detects.
    evidence: bool = False

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> list[str]:
        return sorted(f.name for f in self.fields)

    def describe(self) -> str:
        return "record, {} when there is no such evidence" if self.evidence else "record"


@dataclass(frozen=True)
class MapOf:
    #: What the keys are, as a placeholder in paths: ``metric`` gives ``evaluation.metrics.<metric>``.
    key: str
    value: Type
    #: When given, the names a dotted field access may use (lint reports others); data may hold more.
    known: tuple[str, ...] = ()
    #: Keys of the sample context when ``known`` is empty.
    examples: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"map of {self.key} to {short(self.value)}"

    def sample_keys(self) -> tuple[str, ...]:
        return self.known or self.examples or ("example",)


@dataclass(frozen=True)
class ListOf:
    item: Type

    def describe(self) -> str:
        return f"list of {short(self.item)}"


Type = Scalar | Record | MapOf | ListOf


def short(type_: Type) -> str:
    if isinstance(type_, Scalar):
        return type_.describe()
    if isinstance(type_, Record):
        return "record"
    return type_.describe()


def walk(type_: Type, path: str) -> Iterator[tuple[str, Type, Field | None]]:
    """Every (path, type, declaring field) under ``type_``, depth first, in declaration order."""
    if isinstance(type_, Record):
        for f in type_.fields:
            child = f"{path}.{f.name}" if path else f.name
            yield child, f.type, f
            yield from walk(f.type, child)
    elif isinstance(type_, MapOf):
        child = f"{path}.<{type_.key}>"
        yield child, type_.value, None
        yield from walk(type_.value, child)
    elif isinstance(type_, ListOf):
        yield from walk(type_.item, f"{path}[]")


def conform(value: Any, type_: Type, path: str, problems: list[str]) -> Any:
    """``value`` checked against ``type_``, in CEL-ready form; each mismatch is appended to ``problems``."""
    if isinstance(type_, Scalar):
        return _scalar(value, type_, path, problems)
    if isinstance(type_, Record):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a record, got {kind(value)}")
            return value
        result: dict[str, Any] = {}
        for key, item in value.items():
            f = type_.field(key) if isinstance(key, str) else None
            child = f"{path}.{key}" if path else str(key)
            if f is None:
                problems.append(f"unknown field {child!r} (known: {', '.join(type_.names)})")
                continue
            result[key] = conform(item, f.type, child, problems)
        return result
    if isinstance(type_, MapOf):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a {type_.describe()}, got {kind(value)}")
            return value
        mapped: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{path}: keys must be strings, got {kind(key)} {key!r}")
                continue
            mapped[key] = conform(item, type_.value, f"{path}.{key}", problems)
        return mapped
    if not isinstance(value, list | tuple):
        problems.append(f"{path}: expected a {type_.describe()}, got {kind(value)}")
        return value
    return [conform(item, type_.item, f"{path}[{i}]", problems) for i, item in enumerate(value)]


def _scalar(value: Any, type_: Scalar, path: str, problems: list[str]) -> Any:
    if value is None:
        if not type_.nullable:
            problems.append(f"{path}: expected {type_.describe()}, got null")
        return None
    wanted = type_.type
    if wanted == "string" and isinstance(value, str):
        if type_.choices and value not in type_.choices:
            problems.append(f"{path}: {value!r} is not one of {', '.join(type_.choices)}")
        return value
    if wanted == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if (wanted == "integer" and isinstance(value, int) and not isinstance(value, bool)) or (
        wanted == "bool" and isinstance(value, bool)
    ):
        return value
    if wanted == "timestamp":
        moment = timestamp(value)
        if moment is not None:
            return moment
    problems.append(f"{path}: expected {type_.describe()}, got {kind(value)} {value!r}")
    return value


def timestamp(value: Any) -> datetime | None:
    """A datetime, date or ISO-8601 text as a UTC datetime (naive times are taken as UTC); else None."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return timestamp(parsed)
    return None


def jsonable(value: Any) -> Any:
    """A context as JSON values: timestamps become RFC 3339 strings (``2026-01-01T00:00:00+00:00``).

    The offset is written as +00:00, not Z: rego-cpp's ``time.parse_rfc3339_ns`` reads only that.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo is not None else value
        fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "+00:00"
    if isinstance(value, date):
        return value.isoformat()
    return value


def kind(value: Any) -> str:
    """The CEL name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, datetime | date):
        return "timestamp"
    return type(value).__name__


def sample(type_: Type, example: Any = None) -> Any:
    """A fully populated value of ``type_``: every field, every known key, one list item."""
    if isinstance(type_, Scalar):
        if example is not None:
            return example
        if type_.choices:
            return type_.choices[0]
        return {"string": "example", "number": 0.5, "integer": 1, "bool": True, "timestamp": SAMPLE_TIME}[type_.type]
    if isinstance(type_, Record):
        return {f.name: sample(f.type, f.example) for f in type_.fields}
    if isinstance(type_, MapOf):
        return {key: sample(type_.value) for key in type_.sample_keys()}
    return [sample(type_.item, example[0] if isinstance(example, list) and example else None)]
