"""Monitoring: prediction log, ground truth, alert rules and fired alerts.

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = ("monitoring",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitoring_predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False, index=True),
        sa.Column("deployment", sa.String(64), nullable=False, index=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("face", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("prediction", sa.Text, nullable=False),
        sa.Column("probabilities", sa.Text, nullable=True),
        sa.Column("classes", sa.Text, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("shadow", sa.Boolean, nullable=False),
    )
    op.create_table(
        "monitoring_feedback",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("deployment", sa.String(64), nullable=False, index=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "monitoring_alert_rules",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("deployment", sa.String(64), nullable=False, index=True),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("comparison", sa.String(4), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("cooldown_s", sa.Float, nullable=False),
        sa.Column("webhook_url", sa.String(2048), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_fired_at", TZ, nullable=True),
    )
    op.create_table(
        "monitoring_alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(32), nullable=False, index=True),
        sa.Column("deployment", sa.String(64), nullable=False, index=True),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("comparison", sa.String(4), nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "monitoring_alert_events",
        "monitoring_alert_rules",
        "monitoring_feedback",
        "monitoring_predictions",
    ):
        op.drop_table(table)
