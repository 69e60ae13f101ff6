"""Automation: resources applied from lanza.yaml, schedule timers, and their runs.

Revision ID: 0008
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0002"
branch_labels = ("automation",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automation_resources",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("base", sa.String(4096), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "automation_timers",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("next_run_at", TZ, nullable=False),
        sa.Column("last_run_at", TZ, nullable=True),
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False, index=True),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("step", sa.String(32), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("kind", "name", "due_at", name="uq_automation_runs_due"),
    )


def downgrade() -> None:
    for table in ("automation_runs", "automation_timers", "automation_resources"):
        op.drop_table(table)
