"""Monitors, their runs and time series, incidents, escalation policies and notification targets.

Revision ID: 0009_monitoring
Revises: 0008_documents
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_monitoring"
down_revision = "0008_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("target", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitors"),
        sa.UniqueConstraint("name", name="uq_monitors_name"),
    )
    op.create_index("ix_monitors_model", "monitors", ["model"])
    op.create_table(
        "monitor_schedule",
        sa.Column("monitor_id", sa.String(36), nullable=False),
        sa.Column("next_run_at", sa.String(27), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.String(27), nullable=True),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], name="fk_monitor_schedule_monitor_id_monitors"),
        sa.PrimaryKeyConstraint("monitor_id", name="pk_monitor_schedule"),
    )
    op.create_index("ix_monitor_schedule_next_run_at", "monitor_schedule", ["next_run_at"])
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("monitor_id", sa.String(36), nullable=False),
        sa.Column("window_start", sa.String(27), nullable=True),
        sa.Column("window_end", sa.String(27), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("started_at", sa.String(27), nullable=False),
        sa.Column("finished_at", sa.String(27), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], name="fk_monitor_runs_monitor_id_monitors"),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_runs"),
        sa.UniqueConstraint("monitor_id", "window_end", name="uq_monitor_runs_monitor_id_window_end"),
    )
    op.create_table(
        "monitor_values",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("monitor_id", sa.String(36), nullable=False),
        sa.Column("window_end", sa.String(27), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["monitor_runs.id"], name="fk_monitor_values_run_id_monitor_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_values"),
    )
    op.create_index("ix_monitor_values_monitor_id_window_end", "monitor_values", ["monitor_id", "window_end"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("monitor_id", sa.String(36), nullable=True),
        sa.Column("dedup_key", sa.String(300), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("runbook", sa.Text(), nullable=False),
        sa.Column("escalation_policy", sa.String(100), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.String(27), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.Column("resolved_at", sa.String(27), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("number", name="uq_incidents_number"),
    )
    op.create_index("ix_incidents_dedup_key", "incidents", ["dedup_key"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "escalation_policies",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_escalation_policies"),
    )
    op.create_table(
        "notification_targets",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_notification_targets"),
    )


def downgrade() -> None:
    op.drop_table("notification_targets")
    op.drop_table("escalation_policies")
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_index("ix_incidents_dedup_key", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_monitor_values_monitor_id_window_end", table_name="monitor_values")
    op.drop_table("monitor_values")
    op.drop_table("monitor_runs")
    op.drop_index("ix_monitor_schedule_next_run_at", table_name="monitor_schedule")
    op.drop_table("monitor_schedule")
    op.drop_index("ix_monitors_model", table_name="monitors")
    op.drop_table("monitors")
