"""Documents attached to models and versions: model cards, risk assessments, technical documentation.

Revision ID: 0008_documents
Revises: 0007_evaluations
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_documents"
down_revision = "0007_evaluations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_model_documents_model_id_models"),
        sa.ForeignKeyConstraint(
            ["version_id"], ["model_versions.id"], name="fk_model_documents_version_id_model_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_model_documents"),
    )
    op.create_index("ix_model_documents_model_id", "model_documents", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_model_documents_model_id", table_name="model_documents")
    op.drop_table("model_documents")
