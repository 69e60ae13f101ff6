"""The LLM cost ledger and budgets.

Revision ID: 0011_llm_ledger
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_llm_ledger"
down_revision = "0002"
branch_labels = ("llm-ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("deployment", sa.String(64), nullable=False),
        sa.Column("served_by", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("prompt", sa.String(256), nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
    )
    op.create_index("ix_llm_ledger_at", "llm_ledger", ["at"])
    op.create_table(
        "llm_budgets",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(128), nullable=True),
        sa.Column("deployment", sa.String(64), nullable=True),
        sa.Column("usd", sa.Float, nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("webhook", sa.String(1024), nullable=True),
        sa.Column("alerted_period", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("llm_budgets")
    op.drop_index("ix_llm_ledger_at", "llm_ledger")
    op.drop_table("llm_ledger")
