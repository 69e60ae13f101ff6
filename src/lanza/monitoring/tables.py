"""Monitoring tables: the prediction log, ground truth, alert rules and fired alerts, and
the flagged inputs of batch jobs.

One log row per answered request: its validated input columns, predictions and
probabilities are JSON text (encoded once, when the row is logged, which is cheaper than
a JSON column type's per-row encoding), so a row keeps every value the model saw and said.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lanza.clock import utcnow
from lanza.store.tables import Base

# The face of rows a batch job logged (``lanza batch --log-rate``): they carry no latency.
BATCH_FACE = "batch"


class PredictionLogRow(Base):
    """One answered prediction request."""

    __tablename__ = "monitoring_predictions"
    # a window is the end of one deployment's log: read from this index, never sorted
    __table_args__ = (Index("ix_monitoring_predictions_deployment_id", "deployment", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    deployment: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(256))
    face: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    features: Mapped[str] = mapped_column(Text)
    prediction: Mapped[str] = mapped_column(Text)
    probabilities: Mapped[str | None] = mapped_column(Text, nullable=True)
    classes: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedbackRow(Base):
    """The true value(s) for one logged request, joined to the log by request id."""

    __tablename__ = "monitoring_feedback"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertRuleRow(Base):
    """A condition on a monitoring metric that posts a webhook when it holds."""

    __tablename__ = "monitoring_alert_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(64), index=True)
    metric: Mapped[str] = mapped_column(String(128))
    comparison: Mapped[str] = mapped_column(String(4))
    threshold: Mapped[float] = mapped_column(Float)
    window: Mapped[int] = mapped_column(Integer)
    cooldown_s: Mapped[float] = mapped_column(Float)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AlertEventRow(Base):
    """One firing of a rule, and whether its webhook was delivered."""

    __tablename__ = "monitoring_alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(32), index=True)
    deployment: Mapped[str] = mapped_column(String(64), index=True)
    metric: Mapped[str] = mapped_column(String(128))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    comparison: Mapped[str] = mapped_column(String(4))
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BatchFlagsRow(Base):
    """One committed part of a watched batch job: rows scored, and rows flagged per reason.

    ``counts`` is JSON ``{feature: {reason: rows}}``. A part is counted once (a resumed
    job that scores it again adds nothing), so the totals match the job's output.
    """

    __tablename__ = "monitoring_batch_flags"
    __table_args__ = (UniqueConstraint("deployment", "job", "part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(64), index=True)
    job: Mapped[str] = mapped_column(String(64))
    part: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    counts: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
