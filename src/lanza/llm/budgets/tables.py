"""Tables of the cost ledger (one row per gateway call) and of budgets."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lanza.store.tables import Base


class LedgerRow(Base):
    """One gateway call: who called which deployment with which prompt, its tokens and cost."""

    __tablename__ = "llm_ledger"
    __table_args__ = (Index("ix_llm_ledger_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    key: Mapped[str] = mapped_column(String(128))
    deployment: Mapped[str] = mapped_column(String(64))
    served_by: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256))
    prompt: Mapped[str | None] = mapped_column(String(256), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)


class BudgetRow(Base):
    """A spending limit over a period, for one API key, one deployment, or everything."""

    __tablename__ = "llm_budgets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    deployment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    usd: Mapped[float] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(8))
    webhook: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    alerted_period: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
