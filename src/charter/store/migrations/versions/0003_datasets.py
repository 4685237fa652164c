"""Datasets: provenance, versions with schema and quality, column classification, certification.

Revision ID: 0003_datasets
Revises: 0002_registry
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_datasets"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

TIME = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("licence", sa.String(200), nullable=False),
        sa.Column("collected_from", TIME, nullable=False),
        sa.Column("collected_to", TIME, nullable=False),
        sa.Column("legal_basis", sa.String(40), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
    )
    op.create_index("ix_datasets_owner", "datasets", ["owner"])
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("creator", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], name="fk_dataset_versions_dataset_id_datasets"),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_id_version"),
    )
    op.create_index("ix_dataset_versions_sha256", "dataset_versions", ["sha256"])
    op.create_table(
        "dataset_columns",
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dtype", sa.String(20), nullable=False),
        sa.Column("pii_category", sa.String(30), nullable=True),
        sa.Column("sensitivity", sa.String(20), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("classified_by", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["dataset_versions.id"], name="fk_dataset_columns_version_id_dataset_versions"
        ),
        sa.PrimaryKeyConstraint("version_id", "name", name="pk_dataset_columns"),
    )
    op.create_table(
        "certifications",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("certified_by", sa.String(200), nullable=False),
        sa.Column("certified_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"], ["dataset_versions.id"], name="fk_certifications_version_id_dataset_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_certifications"),
    )
    op.create_index("ix_certifications_version_id", "certifications", ["version_id"])


def downgrade() -> None:
    op.drop_table("certifications")
    op.drop_table("dataset_columns")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
