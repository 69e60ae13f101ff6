"""Automation tables: applied resources, schedule timers, and the runs they fire.

``automation_resources`` holds what ``lanza apply`` wrote that has no other home
(models to train, prompts, scheduled jobs, pipelines); deployments, LLM deployments and
alert rules live in their own subsystems' tables and have a row here only as a mark
that apply manages them. A timer's ``next_run_at`` is claimed with a
compare-and-set, so with several server workers one schedule fires once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lanza.clock import utcnow
from lanza.store.tables import Base


class ResourceRow(Base):
    """One applied resource of a kind (``model``, ``schedule``, ``pipeline``, ...)."""

    __tablename__ = "automation_resources"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The folder of the lanza.yaml it came from: relative data paths are read from there.
    base: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TimerRow(Base):
    """When a schedule (``schedule:NAME`` or ``pipeline:NAME``) is next due."""

    __tablename__ = "automation_timers"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RunRow(Base):
    """One run of a scheduled job or a pipeline, with its steps in ``detail``."""

    __tablename__ = "automation_runs"
    __table_args__ = (UniqueConstraint("kind", "name", "due_at", name="uq_automation_runs_due"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    state: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
