"""The control-plane schema, as SQLAlchemy Core tables.

Migrations under ``store/migrations/versions`` create these tables; a test
checks that the migrated database and this metadata agree. Every table here is
a governance table: only a ledger unit of work may write it (DESIGN invariant 1).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: A 64-bit sequence number. On SQLite it is declared INTEGER so that, as the primary key,
#: it is the rowid: the chain is stored in seq order and scanned without an index lookup.
Sequence = BigInteger().with_variant(Integer(), "sqlite")

#: Hex SHA-256 of nothing before the first entry: 64 zeros.
GENESIS_HASH = "0" * 64

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=False),
    Column("ts", String(27), nullable=False, index=True),
    # No index on actor or action: each index costs every append a page write (about a
    # quarter of the append rate); filtering a million entries by them scans in well under
    # a second. Subject (timelines) and time are indexed.
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(500), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

#: One row (id = 1): the sequence number and hash of the last entry. Writers lock
#: it first, so appends are serialised; verification compares it with the chain.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=False),
    Column("head_hash", String(64), nullable=False),
    Column("ts", String(27), nullable=False),
    Column("key_id", String(80), nullable=False),
    Column("signature", String(200), nullable=False),
)

GOVERNED_TABLES = frozenset(metadata.tables)
