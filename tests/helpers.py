"""Test helpers: tampering with a store directly, and building chains without a database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, text

from charter.ledger.chain import Checkpoint, RawEntry
from charter.ledger.encoding import entry_hash
from charter.store.schema import GENESIS_HASH

ENTRY_COLUMNS = ("seq", "ts", "actor", "action", "subject", "payload", "prev_hash", "hash")


def tamper(engine: Engine, sql: str, **params: Any) -> None:
    """Change the database behind Charter's back, as an attacker with SQL access would."""
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def raw_rows(engine: Engine) -> list[RawEntry]:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM ledger_entries ORDER BY seq"))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def build_chain(count: int, *, start_ts: int = 0) -> list[RawEntry]:
    """A valid chain of ``count`` entries, built with the documented encoding only."""
    rows: list[RawEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        fields = (
            seq,
            f"2026-01-01T00:00:{(start_ts + seq) % 60:02d}.{seq:06d}Z",
            f"user:u{seq % 3}",
            "model.registered",
            f"model:m{seq % 5}",
            f'{{"i":{seq}}}',
            prev,
        )
        digest = entry_hash(*fields)
        rows.append((*fields, digest))
        prev = digest
    return rows


def rehash(row: Sequence[Any]) -> RawEntry:
    """The row with its hash recomputed from its (possibly changed) content."""
    return (*row[:7], entry_hash(*row[:7]))  # type: ignore[return-value]


class ListSource:
    """An in-memory verification source, like a snapshot or an export file."""

    def __init__(
        self,
        rows: Sequence[RawEntry],
        head: tuple[int, str] | None,
        checkpoints: Sequence[Checkpoint] = (),
    ):
        self.rows = list(rows)
        self.head = head
        self.checkpoints = list(checkpoints)

    def chunks(self, size: int = 50_000) -> Iterator[list[RawEntry]]:
        for start in range(0, len(self.rows), size):
            yield self.rows[start : start + size]
