"""Model versions keep the training run they came from (metrics, params, dataset inputs).

Revision ID: 0005_training_run
Revises: 0004_lineage
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_training_run"
down_revision = "0004_lineage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("training_run", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("training_run")
