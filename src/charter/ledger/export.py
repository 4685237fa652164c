"""Ledger exports: JSON Lines that an outside witness can verify without Charter's database.

Line 1 is a header ``{"format": "charter.ledger.export.v1", "head": {"seq", "hash"},
"exported_at", "entries", "checkpoints": [{seq, head_hash, ts, key_id, signature}, ...]}``;
then one ``{"type": "entry", ...}`` line per entry, in sequence order, whose ``payload`` is
the exact canonical JSON text that was hashed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from charter.errors import InvalidInput
from charter.ledger.chain import CHAIN_COLUMNS, ChainSnapshot, Checkpoint, RawEntry
from charter.ledger.checkpoints import parse_document
from charter.ledger.encoding import CHECKPOINT_VERSION

EXPORT_FORMAT = "charter.ledger.export.v1"
_FIELDS = tuple(CHAIN_COLUMNS.split(", "))


def write_export(
    snapshot: ChainSnapshot,
    out: IO[str],
    *,
    exported_at: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the snapshot to ``out``; returns the number of entries written."""
    head_seq, head_hash = snapshot.head
    header = {
        "format": EXPORT_FORMAT,
        "head": {"seq": head_seq, "hash": head_hash},
        "exported_at": exported_at,
        "entries": head_seq,
        "checkpoints": [checkpoint.to_dict() for checkpoint in snapshot.checkpoints],
    }
    out.write(json.dumps(header, sort_keys=True) + "\n")
    written = 0
    for chunk in snapshot.chunks():
        out.writelines(
            json.dumps({"type": "entry", **dict(zip(_FIELDS, row, strict=True))}, sort_keys=True) + "\n"
            for row in chunk
        )
        written += len(chunk)
        if progress is not None:
            progress(written)
    return written


class ExportFile:
    """An export read back as a verification source (see ``charter audit verify --file``)."""

    def __init__(self, path: Path):
        self.path = path
        self.head: tuple[int, str] | None = None
        self.checkpoints: list[Checkpoint] = []
        try:
            with path.open(encoding="utf-8") as handle:
                header = self._parse(handle.readline(), 1)
                if header.get("format") != EXPORT_FORMAT:
                    raise InvalidInput(f"{path} line 1: not a Charter ledger export (format {EXPORT_FORMAT!r})")
                head = header.get("head")
                if not (
                    isinstance(head, dict) and isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str)
                ):
                    raise InvalidInput(f"{path} line 1: the header has no valid 'head' {{seq, hash}}")
                self.head = (head["seq"], head["hash"])
                documents = header.get("checkpoints", [])
                if not isinstance(documents, list):
                    raise InvalidInput(f"{path} line 1: 'checkpoints' must be a list")
                for index, document in enumerate(documents):
                    if not isinstance(document, dict):
                        raise InvalidInput(f"{path} line 1: checkpoints[{index}] must be an object")
                    where = f"{path} line 1 checkpoints[{index}]"
                    self.checkpoints.append(parse_document({**document, "format": CHECKPOINT_VERSION}, where))
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{path} is not UTF-8 text") from None

    def _parse(self, line: str, number: int) -> dict[str, Any]:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{self.path} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise InvalidInput(f"{self.path} line {number}: expected a JSON object")
        return value

    def chunks(self, size: int = 50_000) -> Iterator[list[RawEntry]]:
        chunk: list[RawEntry] = []
        with self.path.open(encoding="utf-8") as handle:
            handle.readline()
            for number, line in enumerate(handle, start=2):
                document = self._parse(line, number)
                if document.get("type") != "entry":
                    continue
                chunk.append(self._entry(document, number))
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _entry(self, document: dict[str, Any], number: int) -> RawEntry:
        values = []
        for name in _FIELDS:
            value = document.get(name)
            wanted = int if name == "seq" else str
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise InvalidInput(
                    f"{self.path} line {number}: field {name!r} must be {wanted.__name__}, got {value!r}"
                )
            values.append(value)
        return tuple(values)  # type: ignore[return-value]
