"""The deployments table: one row per deployment, its spec as JSON, and a generation counter.

Every write bumps ``generation``, so each server worker notices changes made by others.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lanza.clock import utcnow
from lanza.store.tables import Base


class DeploymentRow(Base):
    """A persisted deployment."""

    __tablename__ = "deployments"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
