"""The end time of a trace project (the LangSmith face's ``PATCH /sessions/{id}``).

Revision ID: 0015_trace_project_end
Revises: 0014_trace_projects
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_trace_project_end"
down_revision = "0014_trace_projects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trace_projects") as table:
        table.add_column(sa.Column("end_time", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trace_projects") as table:
        table.drop_column("end_time")
