"""The model registry: models, their tags, versions, aliases and alias history.

Revision ID: 0002_registry
Revises: 0001_ledger
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("team", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("risk_tier", sa.String(20), nullable=False),
        sa.Column("intended_use", sa.Text(), nullable=False),
        sa.Column("limitations", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("name", name="uq_models_name"),
    )
    op.create_index("ix_models_risk_tier", "models", ["risk_tier"])
    op.create_index("ix_models_owner", "models", ["owner"])
    op.create_table(
        "model_tags",
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_model_tags_model_id_models", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id", "tag", name="pk_model_tags"),
    )
    op.create_index("ix_model_tags_tag", "model_tags", ["tag"])
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("artifact_size", sa.BigInteger(), nullable=False),
        sa.Column("framework", sa.String(50), nullable=False),
        sa.Column("flavour", sa.String(50), nullable=False),
        sa.Column("input_schema", sa.JSON(), nullable=True),
        sa.Column("output_schema", sa.JSON(), nullable=True),
        sa.Column("source_commit", sa.String(100), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("creator", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_model_versions_model_id_models"),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
    )
    op.create_index("ix_model_versions_artifact_sha256", "model_versions", ["artifact_sha256"])
    op.create_index("ix_model_versions_status", "model_versions", ["status"])
    op.create_table(
        "aliases",
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_aliases_model_id_models"),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"], name="fk_aliases_version_id_model_versions"),
        sa.PrimaryKeyConstraint("model_id", "name", name="pk_aliases"),
    )
    op.create_index("ix_aliases_version_id", "aliases", ["version_id"])
    op.create_table(
        "alias_history",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("from_version_id", sa.String(36), nullable=True),
        sa.Column("to_version_id", sa.String(36), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("ledger_seq", SEQUENCE, nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_alias_history_model_id_models"),
        sa.ForeignKeyConstraint(
            ["from_version_id"], ["model_versions.id"], name="fk_alias_history_from_version_id_model_versions"
        ),
        sa.ForeignKeyConstraint(
            ["to_version_id"], ["model_versions.id"], name="fk_alias_history_to_version_id_model_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alias_history"),
    )
    op.create_index("ix_alias_history_model_id_alias", "alias_history", ["model_id", "alias"])


def downgrade() -> None:
    op.drop_table("alias_history")
    op.drop_table("aliases")
    op.drop_table("model_versions")
    op.drop_table("model_tags")
    op.drop_table("models")
