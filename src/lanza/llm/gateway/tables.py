"""The LLM deployments table: one row per deployment, its spec as JSON."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from lanza.clock import utcnow
from lanza.store.tables import Base


class LLMDeploymentRow(Base):
    """A persisted LLM deployment."""

    __tablename__ = "llm_deployments"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
