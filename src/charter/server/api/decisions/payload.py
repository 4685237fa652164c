"""Ingest bodies to lake batches: gzip, JSON or Arrow IPC, and the checks that name the field and the row.

Everything here is pure (no store, no I/O): :func:`decode` undoes the content encoding within the
size limit, :func:`json_decisions` / :func:`json_outcomes` turn a JSON document's rows into Arrow
columns, :func:`read_arrow` reads an IPC stream, and :func:`normalise` gives a decision batch the
lake's fixed columns (lake/schema.py) typed and in order, with ``model_version``, ``alias`` and
``registered`` as the registry says (:class:`Registry`). A problem raises :class:`Refused` with the
HTTP status and a message naming the row and field: ``decisions[3].inputs.income: 'high' is text;
earlier rows hold a number``.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charter.lake.schema import DECISION_FIELDS, DECISION_ID, LABEL, RESERVED, TIMESTAMP, TS, check_names, group_column
from charter.services.references import Reference

ARROW = "application/vnd.apache.arrow.stream"
UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ROW_FIELDS = ("decision_id", "ts", "inputs", "prediction", "score", "scores", "latency_ms", "subject_id", "groups",
              "trace_id")  # fmt: skip
#: Arrow types of the JSON row fields, and of the input schema's feature types.
TYPES: dict[str, pa.DataType] = {
    "decision_id": pa.string(), "ts": pa.string(), "latency_ms": pa.float64(), "subject_id": pa.string(),
    "trace_id": pa.string(), "score": pa.float64(), "scores": pa.list_(pa.float64()),
    "number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(), "string": pa.string(),
    "category": pa.string(),
}  # fmt: skip
_KIND = {str: "text", bool: "true/false", int: "a number", float: "a number", dict: "an object", list: "a list"}
_EXPECTED = {"string": "text", "bool": "true/false", "double": "a number", "int64": "a whole number",
             "list<item: double>": "a list of numbers"}  # fmt: skip
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


class Refused(Exception):
    """A request the route answers with a problem document: its status, code and message."""

    def __init__(self, status: int, message: str, code: str = "input.invalid") -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message: str) -> Refused:
    """Content that was read but is wrong: 422."""
    return Refused(422, message)


def too_large(size: int, limit: int, what: str = "the body") -> Refused:
    return Refused(413, f"{what} is over {limit:,} bytes ({size:,} seen); send smaller batches or raise "
                        "CHARTER_INGEST_MAX_BYTES", "input.too_large")  # fmt: skip


@dataclass(frozen=True)
class Registry:
    """What the registry says of one model: each version's feature types, its aliases, the latest version."""

    schemas: dict[int, dict[str, str]]
    aliases: dict[str, int]
    latest: int | None

    def version(self, ref: Reference) -> int | None:
        if ref.version is not None:
            return ref.version
        return self.aliases.get(ref.alias) if ref.alias is not None else self.latest


def decode(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (gzip or none), refused past ``limit`` bytes decompressed."""
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise Refused(415, f"Content-Encoding {encoding!r} is not taken: send gzip or none",
                      "input.unsupported_media_type")  # fmt: skip
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise Refused(400, f"the body is not valid gzip ({exc})") from None
    if len(data) > limit:
        raise too_large(len(data), limit, "the decompressed body")
    if not inflate.eof:
        raise Refused(400, "the gzip body is truncated")
    return data


def json_document(data: bytes, kind: str, given: dict[str, str | None]) -> tuple[dict[str, str | None], list[Any]]:
    """A JSON body's rows, and its ``model`` / ``reference`` merged with the query's (they must agree)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"the body is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise invalid(f'the body must be an object: {{"model": ..., "{kind}": [...]}}')
    allowed = {kind, *given}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    merged = dict(given)
    for key, query in given.items():
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise invalid(f"{key}: {value!r} is not text")
        if value is not None and query is not None and value != query:
            raise invalid(f"{key}: the body says {value!r} and the query {query!r}")
        merged[key] = value or query
    rows = document.get(kind)
    if not isinstance(rows, list) or not rows:
        raise invalid(f"{kind}: a non-empty list of {kind} is required")
    _objects(rows, kind + "[{row}]")
    return merged, rows


def json_decisions(rows: list[dict[str, Any]], features: dict[str, str]) -> pa.RecordBatch:
    """Decision rows as Arrow columns; inputs typed by the version's input schema (``features``) where it has them."""
    unknown = sorted(set().union(*rows) - set(ROW_FIELDS))
    if unknown:
        row = next(i for i, r in enumerate(rows) if unknown[0] in r)
        raise invalid(f"decisions[{row}]: unknown field {unknown[0]!r} (known: {', '.join(ROW_FIELDS)})")
    columns = {name: column([r.get(name) for r in rows], TYPES[name], "decisions", name)
               for name in ("decision_id", "ts", "latency_ms", "subject_id", "trace_id", "scores")}  # fmt: skip
    binary = [r.get("score", _second(r.get("scores"))) for r in rows]  # a binary classifier's positive class
    columns["score"] = column(binary, pa.float64(), "decisions", "score")
    columns["prediction"] = column([r.get("prediction") for r in rows], None, "decisions", "prediction")
    for key in ("inputs", "groups"):
        maps = [r.get(key) or {} for r in rows]
        _objects(maps, "decisions[{row}]." + key)
        names = list(dict.fromkeys(name for m in maps for name in m))
        check_names(names, what="group" if key == "groups" else "feature")
        for name in names:
            typed = TYPES.get(features.get(name, "")) if key == "inputs" else None
            target = group_column(name) if key == "groups" else name
            columns[target] = column([m.get(name) for m in maps], typed, "decisions", f"{key}.{name}")
    return pa.RecordBatch.from_pydict(columns)


def json_outcomes(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    unknown = sorted(set().union(*rows) - {DECISION_ID, TS, LABEL})
    if unknown:
        raise invalid(f"outcomes: unknown field {unknown[0]!r} (known: decision_id, label, ts)")
    return pa.RecordBatch.from_pydict({
        DECISION_ID: column([r.get(DECISION_ID) for r in rows], pa.string(), "outcomes", DECISION_ID),
        TS: column([r.get(TS) for r in rows], pa.string(), "outcomes", TS),
        LABEL: column([r.get(LABEL) for r in rows], None, "outcomes", LABEL),
    })  # fmt: skip


def read_arrow(data: bytes) -> pa.RecordBatch:
    try:
        table = pa.ipc.open_stream(data).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise Refused(400, f"the body is not an Arrow IPC stream ({exc})") from None
    if table.num_rows == 0:
        raise invalid("the Arrow stream holds no rows")
    return table.combine_chunks().to_batches()[0]


def column(values: list[Any], type_: pa.DataType | None, what: str, field: str) -> pa.Array:
    """One column from JSON values; a value that does not fit is named by row and field."""
    try:
        array = pa.array(values, type=type_)
    except _CAST_ERRORS:
        raise invalid(_locate(values, type_, what, field)) from None
    if type_ is None and pa.types.is_nested(array.type):
        raise invalid(_locate(values, type_, what, field))
    return array


def checked(batch: pa.RecordBatch, what: str) -> pa.RecordBatch:
    """``decision_id`` (UUID text, no nulls) and ``ts`` (a time with a zone) present and well formed; ts cast."""
    names = batch.schema.names
    for required in (DECISION_ID, TS) + ((LABEL,) if what == "outcomes" else ()):
        if required not in names:
            raise invalid(f"{what}: the batch has no {required!r} column")
    if len(set(names)) != len(names):
        raise invalid(f"{what}: a column appears twice ({', '.join(names)})")
    ids = batch.column(DECISION_ID)
    if not pa.types.is_string(ids.type):
        raise invalid(f"{what}: decision_id must be text (UUIDs), not {ids.type}")
    valid = pc.fill_null(pc.match_substring_regex(ids, UUID_TEXT), False)
    if not pc.all(valid).as_py():
        row = pc.index(valid, False).as_py()
        raise invalid(f"{what}[{row}].decision_id: {ids[row].as_py()!r} is not a decision id (lowercase UUID text)")
    stamps = batch.column(TS)
    try:
        stamps = stamps.cast(TIMESTAMP)
    except _CAST_ERRORS:
        row = next(i for i in range(len(stamps)) if not _casts(stamps.slice(i, 1), TIMESTAMP))
        raise invalid(f"{what}[{row}].ts: {stamps[row].as_py()!r} is not a time with a zone "
                      "(e.g. 2026-11-01T09:30:00Z)") from None  # fmt: skip
    if stamps.null_count:
        raise invalid(f"{what}[{pc.index(pc.is_null(stamps), True).as_py()}].ts: a time is required")
    return batch.set_column(names.index(TS), pa.field(TS, TIMESTAMP, nullable=False), stamps)


def normalise(batch: pa.RecordBatch, ref: Reference, registry: Registry) -> pa.RecordBatch:
    """The lake's fixed columns first, typed; ``model_version``, ``alias`` and ``registered`` as the registry says.

    Where rows leave them empty, the reference's alias fills the alias, an alias gives its version, and
    the reference's version (a bare name: the latest registered) fills the rest; ``registered`` is
    whether the registry knows the version, whatever the client claimed (a shadow launch cannot pass
    for an approved one).
    """
    batch = checked(batch, "decisions")
    ids = batch.column(DECISION_ID)
    if pc.count_distinct(ids).as_py() < len(ids):
        counts = pc.value_counts(ids)
        twice = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        rows = pc.indices_nonzero(pc.equal(ids, twice)).to_pylist()
        raise invalid(f"decisions[{rows[1]}].decision_id: {twice} is also the id of row {rows[0]}")
    check_names([n for n in batch.schema.names if n not in RESERVED], what="column")
    columns: dict[str, pa.Array] = {}
    for f in DECISION_FIELDS:
        if f.name not in batch.schema.names:
            columns[f.name] = pa.nulls(batch.num_rows, f.type)
            continue
        try:
            columns[f.name] = batch.column(f.name).cast(f.type)
        except _CAST_ERRORS:
            raise invalid(f"decisions: column {f.name!r} is {batch.column(f.name).type}, not {f.type}") from None
    versions, aliases = columns["model_version"], columns["alias"]
    if ref.alias is not None:
        aliases = pc.coalesce(aliases, pa.scalar(ref.alias, pa.string()))
    if versions.null_count and registry.aliases:
        names = pa.array(list(registry.aliases), pa.string())
        by_alias = pc.take(pa.array(list(registry.aliases.values()), pa.int64()), pc.index_in(aliases, value_set=names))
        versions = pc.coalesce(versions, by_alias)
    if versions.null_count:
        versions = pc.coalesce(versions, pa.scalar(registry.version(ref), pa.int64()))
    known = pa.array(list(registry.schemas), pa.int64())
    columns.update(model_version=versions, alias=aliases,
                   registered=pc.fill_null(pc.is_in(versions, value_set=known), False))  # fmt: skip
    fields = [pa.field(f.name, columns[f.name].type, nullable=f.nullable) for f in DECISION_FIELDS]
    rest = [f for f in batch.schema if f.name not in columns]
    arrays = [columns[f.name] for f in DECISION_FIELDS] + [batch.column(f.name) for f in rest]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields + rest))


def _objects(values: list[Any], where: str) -> None:
    bad = next((i for i, v in enumerate(values) if not isinstance(v, dict)), None)
    if bad is not None:
        raise invalid(f"{where.format(row=bad)}: {values[bad]!r} is not an object")


def _second(scores: Any) -> Any:
    return scores[1] if isinstance(scores, list) and len(scores) == 2 else None


def _casts(array: pa.Array, type_: pa.DataType) -> bool:
    try:
        array.cast(type_)
    except _CAST_ERRORS:
        return False
    return True


def _locate(values: list[Any], type_: pa.DataType | None, what: str, field: str) -> str:
    """The first row whose value the type refuses, or (no type given) the first of another kind than the first's."""
    nested = next((row for row, v in enumerate(values) if isinstance(v, dict | list)), None)
    if type_ is None and nested is not None:
        return f"{what}[{nested}].{field}: {values[nested]!r} is not one value (a number, text or true/false)"
    first = next((_KIND.get(type(v), "another kind") for v in values if v is not None), "")
    for row, value in enumerate(values):
        if value is None:
            continue
        if type_ is not None and not _fits(value, type_):
            return f"{what}[{row}].{field}: {value!r} is not {_EXPECTED.get(str(type_), str(type_))}"
        kind = _KIND.get(type(value), "another kind")
        if type_ is None and kind != first:
            return f"{what}[{row}].{field}: {value!r} is {kind}; earlier rows hold {first}"
    return f"{what}: {field}: the values cannot be stored in one column"


def _fits(value: Any, type_: pa.DataType) -> bool:
    try:
        pa.array([value], type=type_)
    except _CAST_ERRORS:
        return False
    return True
