"""The canonical encoding of ledger entries and checkpoints (docs/ledger.md).

An entry's hash is the SHA-256, in lowercase hex, of the UTF-8 bytes of::

    "charter.ledger.v1" US seq US ts US actor US action US subject US payload US prev_hash

where ``US`` is the unit separator U+001F, ``seq`` is decimal, ``ts`` is
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC) and ``payload`` is canonical JSON: keys
sorted, no spaces, ASCII only (other characters escaped as ``\\uXXXX``), no NaN
or infinity. No field may contain a control character, so the text splits back
into exactly these fields. ``prev_hash`` of the first entry is 64 zeros.

A checkpoint signs, with Ed25519, the UTF-8 bytes of::

    "charter.checkpoint.v1" US seq US head_hash US ts US key_id
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from charter.clock import format_timestamp
from charter.errors import LedgerEntryInvalid

ENTRY_VERSION = "charter.ledger.v1"
CHECKPOINT_VERSION = "charter.checkpoint.v1"
SEPARATOR = "\x1f"

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ACTOR = 200
MAX_ACTION = 100
MAX_SUBJECT = 500


def entry_preimage(seq: int, ts: str, actor: str, action: str, subject: str, payload: str, prev_hash: str) -> bytes:
    return SEPARATOR.join((ENTRY_VERSION, str(seq), ts, actor, action, subject, payload, prev_hash)).encode()


def entry_hash(seq: int, ts: str, actor: str, action: str, subject: str, payload: str, prev_hash: str) -> str:
    return hashlib.sha256(entry_preimage(seq, ts, actor, action, subject, payload, prev_hash)).hexdigest()


def checkpoint_message(seq: int, head_hash: str, ts: str, key_id: str) -> bytes:
    return SEPARATOR.join((CHECKPOINT_VERSION, str(seq), head_hash, ts, key_id)).encode()


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The canonical JSON text of a payload; refuses what JSON cannot hold exactly."""
    if not isinstance(payload, Mapping):
        raise LedgerEntryInvalid(f"ledger payload must be a mapping, not {type(payload).__name__}")
    return json.dumps(
        _plain(payload, "payload"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )


def _plain(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON types, naming the place of anything that cannot be."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LedgerEntryInvalid(f"ledger {where}: {value} is not a finite number")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerEntryInvalid(f"ledger {where}: key {key!r} is not a string")
            out[key] = _plain(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, Decimal):
        return _plain(float(value), where) if value != value.to_integral() else int(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    if isinstance(value, set | frozenset):
        return sorted(_plain(item, f"{where}[]") for item in value)
    raise LedgerEntryInvalid(f"ledger {where}: a {type(value).__name__} cannot be recorded as JSON")


def validate_fields(actor: str, action: str, subject: str) -> None:
    """Refuse an entry whose fields would break the canonical encoding or the indexes."""
    _check_text("actor", actor, MAX_ACTOR, allow_empty=False)
    _check_text("subject", subject, MAX_SUBJECT, allow_empty=True)
    if len(action) > MAX_ACTION or not ACTION_PATTERN.match(action):
        raise LedgerEntryInvalid(
            f"ledger action {action!r} is not valid: use dotted lowercase words such as 'model.registered'"
        )


def _check_text(field: str, value: str, limit: int, *, allow_empty: bool) -> None:
    if not isinstance(value, str):
        raise LedgerEntryInvalid(f"ledger {field} must be text, not {type(value).__name__}")
    if not value and not allow_empty:
        raise LedgerEntryInvalid(f"ledger {field} is empty; say who acts (e.g. 'user:alice')")
    if len(value) > limit:
        raise LedgerEntryInvalid(f"ledger {field} is {len(value)} characters long; the limit is {limit}")
    if _CONTROL.search(value):
        raise LedgerEntryInvalid(f"ledger {field} {value!r} contains a control character")
