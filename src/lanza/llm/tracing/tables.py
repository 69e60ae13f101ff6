"""Tables of the trace store: spans, one summary row per trace, and feedback.

Times are seconds since the epoch (floats), the same on sqlite and Postgres. JSON
payloads are kept as text so any traced value round-trips without a dialect's JSON type.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lanza.store.tables import Base


class TraceSpan(Base):
    """One span (a LangSmith "run"); merged by id when a post and a patch arrive apart."""

    __tablename__ = "trace_spans"
    __table_args__ = (Index("ix_trace_spans_trace_id", "trace_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(512))
    run_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    inputs: Mapped[str | None] = mapped_column(Text, nullable=True)
    outputs: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[str] = mapped_column(Text)
    meta: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(16))


class TraceSummary(Base):
    """One row per trace, recomputed from its spans on every write, for fast listing."""

    __tablename__ = "traces"
    __table_args__ = (Index("ix_traces_start_time", "start_time"),)

    trace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    span_count: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    total_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    tags: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[float] = mapped_column(Float)
    exported: Mapped[bool] = mapped_column(Boolean, default=False)


class TraceFeedback(Base):
    """A score, comment or correction on a trace (or one of its spans)."""

    __tablename__ = "trace_feedback"
    __table_args__ = (Index("ix_trace_feedback_trace_id", "trace_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key: Mapped[str] = mapped_column(String(256))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class TraceProject(Base):
    """A project (LangSmith "session") made by name, or changed after its runs made it.

    Projects otherwise exist by their runs' ``session_name``; a made one keeps the id,
    description, extra and end time its maker gave, and is listed while it holds no run.
    """

    __tablename__ = "trace_projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float | None] = mapped_column(Float, nullable=True)
