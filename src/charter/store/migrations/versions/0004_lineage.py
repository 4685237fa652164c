"""Lineage: edges from dataset versions to derived datasets and to model versions, per feature.

Revision ID: 0004_lineage
Revises: 0003_datasets
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lineage"
down_revision = "0003_datasets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("target_dataset_id", sa.String(36), nullable=True),
        sa.Column("target_model_id", sa.String(36), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("transform", sa.String(200), nullable=False),
        sa.Column("code_ref", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("creator", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["dataset_versions.id"], name="fk_lineage_edges_source_id_dataset_versions"
        ),
        sa.ForeignKeyConstraint(
            ["target_dataset_id"], ["dataset_versions.id"], name="fk_lineage_edges_target_dataset_id_dataset_versions"
        ),
        sa.ForeignKeyConstraint(
            ["target_model_id"], ["model_versions.id"], name="fk_lineage_edges_target_model_id_model_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_edges"),
    )
    for column in ("source_id", "target_dataset_id", "target_model_id"):
        op.create_index(f"ix_lineage_edges_{column}", "lineage_edges", [column])
    op.create_table(
        "lineage_features",
        sa.Column("edge_id", sa.String(36), nullable=False),
        sa.Column("feature", sa.String(200), nullable=False),
        sa.Column("source_column", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["edge_id"], ["lineage_edges.id"], name="fk_lineage_features_edge_id_lineage_edges"),
        sa.PrimaryKeyConstraint("edge_id", "feature", name="pk_lineage_features"),
    )


def downgrade() -> None:
    op.drop_table("lineage_features")
    for column in ("source_id", "target_dataset_id", "target_model_id"):
        op.drop_index(f"ix_lineage_edges_{column}", "lineage_edges")
    op.drop_table("lineage_edges")
