"""The schema revisions this Charter knows, oldest first.

Kept as data so that opening a store does not load Alembic; a test checks it
against the migration scripts.
"""

from __future__ import annotations

REVISIONS: tuple[str, ...] = (
    "0001_ledger",
    "0002_registry",
    "0003_datasets",
    "0004_lineage",
    "0005_training_run",
    "0006_roles",
    "0007_evaluations",
    "0008_documents",
    "0009_monitoring",
    "0010_tokens",
)
HEAD = REVISIONS[-1]
