"""Tables of annotation: the queues and the reviews given in them."""

from __future__ import annotations

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lanza.store.tables import Base


class QueueRow(Base):
    """An annotation queue: which traces it offers for review."""

    __tablename__ = "llm_annotation_queues"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class ReviewRow(Base):
    """One reviewer's score (1-5) and optional corrected answer for one trace."""

    __tablename__ = "llm_reviews"
    __table_args__ = (Index("ix_llm_reviews_queue", "queue"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String(64))
    trace_id: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(128))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[float] = mapped_column(Float)
