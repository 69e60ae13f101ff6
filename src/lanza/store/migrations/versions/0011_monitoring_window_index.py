"""Monitoring: an index on (deployment, id) so a window is read from the end of the log.

A round reads a deployment's latest N requests (``ORDER BY id DESC LIMIT N``); with
only the deployment indexed, a deployment owning most of a 10-million-row log made the
database sort millions of rows each round.

Revision ID: 0011m
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0011m"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_monitoring_predictions_deployment_id", "monitoring_predictions", ["deployment", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_monitoring_predictions_deployment_id", "monitoring_predictions")
