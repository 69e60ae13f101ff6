"""Annotation queues and reviews.

Revision ID: 0013_llm_annotation
Revises: 0012_llm_evaluators
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_llm_annotation"
down_revision = "0012_llm_evaluators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_annotation_queues",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "llm_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("correction", sa.Text, nullable=True),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_llm_reviews_queue", "llm_reviews", ["queue"])


def downgrade() -> None:
    op.drop_table("llm_reviews")
    op.drop_table("llm_annotation_queues")
