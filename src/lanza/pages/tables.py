"""Pages tables: the owner-edited fields of model cards, and answers given in the queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lanza.clock import utcnow
from lanza.store.tables import Base


class ModelCardRow(Base):
    """What an owner wrote on a model version's card."""

    __tablename__ = "pages_model_cards"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    owners: Mapped[list[str]] = mapped_column(JSON)
    intended_use: Mapped[str] = mapped_column(Text, default="")
    limitations: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelRow(Base):
    """One answer from the labelling queue, and which sample the item came from."""

    __tablename__ = "pages_labels"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(64), index=True)
    sample: Mapped[str] = mapped_column(String(16))
    value: Mapped[Any] = mapped_column(JSON)
    predicted: Mapped[Any] = mapped_column(JSON)
    agreed: Mapped[bool] = mapped_column(Boolean)
    labeller: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
