"""Paged reads for clients that page through long results: ledger entries and decision lake windows.

Both page by key, not by offset, so a page stays correct while entries are appended: a ledger page
continues after the ``seq`` of the last entry shown, a lake page after the ``(ts, decision_id)`` of
the last row shown (rows are ordered by time, then decision id). The position is handed to the
client as an opaque cursor (URL-safe base64 of a small JSON object); a cursor from another kind of
page, or a garbled one, is refused with a clear error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from charter.clock import format_timestamp, parse_timestamp
from charter.errors import InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.ledger.uow import Entry
from charter.services.context import Context
from charter.services.references import check_name

#: The most a page may hold.
MAX_LEDGER_PAGE = 1000
MAX_LAKE_PAGE = 1000
#: The lake's own columns, left out of a page unless asked for by name.
LAKE_INTERNAL = ("_batch", "_row_hash")


@dataclass(frozen=True)
class EntryPage:
    entries: list[Entry]
    next_cursor: str | None


@dataclass(frozen=True)
class DecisionPage:
    model: str
    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(kind: str, position: dict[str, Any]) -> str:
    text = json.dumps({"k": kind, **position}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str, keys: Sequence[str]) -> dict[str, Any]:
    """The position a cursor of ``kind`` holds; refuses anything else."""
    problem = f"cursor {cursor[:40]!r} is not a {kind} cursor; pass the next_cursor of the previous page unchanged"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise InvalidInput(problem) from None
    if not isinstance(found, dict) or found.get("k") != kind or any(key not in found for key in keys):
        raise InvalidInput(problem)
    return found


# ---- ledger ---------------------------------------------------------------------------------------


def ledger_page(
    context: Context, where: EntryFilter, *, limit: int = 100, cursor: str | None = None, oldest_first: bool = False
) -> EntryPage:
    """Entries matching ``where``, newest first (or oldest first), ``limit`` at a time."""
    if not 1 <= limit <= MAX_LEDGER_PAGE:
        raise InvalidInput(f"limit must be from 1 to {MAX_LEDGER_PAGE}, got {limit}")
    if where.since and where.until and where.since >= where.until:
        raise InvalidInput("since must be earlier than until")
    order = "oldest" if oldest_first else "newest"
    if cursor is not None:
        position = decode_cursor("ledger", cursor, ("seq", "order"))
        seq = position["seq"]
        if position["order"] != order or not isinstance(seq, int) or isinstance(seq, bool):
            raise InvalidInput(f"this cursor pages {position['order']} first; ask with the same order")
        where = replace(where, after_seq=seq) if oldest_first else replace(where, before_seq=seq)
    found = list_entries(context.engine, where, limit=limit + 1, newest_first=not oldest_first)
    more = len(found) > limit
    entries = found[:limit]
    following = encode_cursor("ledger", {"seq": entries[-1].seq, "order": order}) if more else None
    return EntryPage(entries, following)


# ---- decision lake --------------------------------------------------------------------------------


def decisions_page(
    context: Context,
    model: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    versions: Sequence[int] | None = None,
    alias: str | None = None,
    columns: Sequence[str] | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> DecisionPage:
    """One page of a model's decisions in ``start <= ts < end`` (of some versions, or one alias), by time.

    Rows are JSON-ready: times as ISO-8601 text, binary values as hex, NaN and infinities as null.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from charter.lake.schema import DECISION_ID, TS
    from charter.services.lake import lake_of

    check_name(model, "model", "credit-risk")
    if not 1 <= limit <= MAX_LAKE_PAGE:
        raise InvalidInput(f"limit must be from 1 to {MAX_LAKE_PAGE}, got {limit}")
    after: tuple[datetime, str] | None = None
    if cursor is not None:
        position = decode_cursor("decisions", cursor, ("ts", "id", "model"))
        if position["model"] != model:
            raise InvalidInput(f"this cursor pages the decisions of {position['model']!r}, not {model!r}")
        try:
            after = (parse_timestamp(str(position["ts"])), str(position["id"]))
        except ValueError:
            raise InvalidInput(f"cursor {cursor[:40]!r} is damaged; start again without a cursor") from None
    if start is not None and end is not None and start >= end:
        raise InvalidInput(
            f"the window is empty: start {format_timestamp(start)} is not before end {format_timestamp(end)}"
        )
    wanted = list(dict.fromkeys(columns)) if columns else None
    lower = start if after is None or (start is not None and start > after[0]) else after[0]
    lake = lake_of(context)
    schema_names = lake.table(model).to_pyarrow_dataset().schema.names  # NotFound when nothing is logged yet
    shown = wanted or [name for name in schema_names if name not in LAKE_INTERNAL]
    if end is not None and lower is not None and lower >= end:
        return DecisionPage(model, shown, [], None)
    read = list(dict.fromkeys([TS, DECISION_ID, *shown]))
    order = [(TS, "ascending"), (DECISION_ID, "ascending")]
    kept: pa.Table | None = None
    for batch in lake.read(model, "decisions", start=lower, end=end, versions=versions, alias=alias, columns=read):
        table = pa.Table.from_batches([batch])
        if after is not None:
            moment = pa.scalar(after[0], type=table.schema.field(TS).type)
            later = pc.or_(
                pc.greater(table[TS], moment),
                pc.and_(pc.equal(table[TS], moment), pc.greater(table[DECISION_ID], after[1])),
            )
            table = table.filter(later)
        merged = table if kept is None else pa.concat_tables([kept, table])
        kept = merged.sort_by(order).slice(0, limit + 1)
    records = [] if kept is None else kept.to_pylist()
    following = None
    if len(records) > limit:
        last = records[limit - 1]
        position = {"model": model, "ts": format_timestamp(last[TS]), "id": last[DECISION_ID]}
        following = encode_cursor("decisions", position)
    rows = [{name: _json_value(row[name]) for name in shown} for row in records[:limit]]
    return DecisionPage(model, shown, rows, following)


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return format_timestamp(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)  # decimals, durations: their text
