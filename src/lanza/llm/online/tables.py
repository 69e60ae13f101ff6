"""Tables of online evaluation: the rules, and one row per score they gave."""

from __future__ import annotations

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lanza.store.tables import Base


class EvaluatorRow(Base):
    """An online evaluator: which traces it scores, how, and when it alerts."""

    __tablename__ = "llm_evaluators"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class ScoreRow(Base):
    """One scorer's score of one trace by one evaluator, with the prompt version it used."""

    __tablename__ = "llm_evaluator_scores"
    __table_args__ = (
        Index("ix_llm_evaluator_scores_rule_at", "rule", "at"),
        Index("ix_llm_evaluator_scores_trace", "trace_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    trace_id: Mapped[str] = mapped_column(String(64))
    scorer: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    arm: Mapped[str | None] = mapped_column(String(256), nullable=True)
    at: Mapped[float] = mapped_column(Float)
