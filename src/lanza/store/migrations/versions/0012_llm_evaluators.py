"""Online evaluators and their scores.

Revision ID: 0012_llm_evaluators
Revises: 0011_llm_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_llm_evaluators"
down_revision = "0011_llm_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_evaluators",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "llm_evaluator_scores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.Column("scorer", sa.String(32), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("arm", sa.String(256), nullable=True),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_llm_evaluator_scores_rule_at", "llm_evaluator_scores", ["rule", "at"])
    op.create_index("ix_llm_evaluator_scores_trace", "llm_evaluator_scores", ["trace_id"])


def downgrade() -> None:
    op.drop_table("llm_evaluator_scores")
    op.drop_table("llm_evaluators")
