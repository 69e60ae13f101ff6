"""Pages: owner-edited model card fields and answers from the labelling queue.

Revision ID: 0009
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0002"
branch_labels = ("pages",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pages_model_cards",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("owners", sa.JSON, nullable=False),
        sa.Column("intended_use", sa.Text, nullable=False),
        sa.Column("limitations", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "pages_labels",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("deployment", sa.String(64), nullable=False, index=True),
        sa.Column("sample", sa.String(16), nullable=False),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("predicted", sa.JSON, nullable=True),
        sa.Column("agreed", sa.Boolean, nullable=False),
        sa.Column("labeller", sa.String(256), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pages_labels")
    op.drop_table("pages_model_cards")
