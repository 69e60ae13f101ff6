"""Reading the trace store: filtered pages of traces, one trace as a tree, and feedback."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from lanza.errors import NotFoundError
from lanza.llm.tracing.records import dumps
from lanza.llm.tracing.tables import TraceFeedback, TraceSpan, TraceSummary
from lanza.store import Database


class TraceQuery(BaseModel):
    """Filters for a page of traces, newest first."""

    name: str | None = None
    status: str | None = Field(default=None, pattern="^(success|error|running)$")
    start_after: datetime | None = None
    start_before: datetime | None = None
    tag: str | None = None
    min_latency_ms: float | None = Field(default=None, ge=0)
    min_tokens: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class FeedbackIn(BaseModel):
    """Feedback on a trace: a key and at least one of score, value, comment or correction."""

    key: str = Field(min_length=1, max_length=256)
    score: float | None = None
    value: Any = None
    comment: str | None = None
    correction: Any = None
    run_id: str | None = Field(default=None, max_length=64)
    id: str | None = Field(
        default=None, max_length=64, description="Kept when the caller names it."
    )

    @model_validator(mode="after")
    def _has_content(self) -> FeedbackIn:
        if all(v is None for v in (self.score, self.value, self.comment, self.correction)):
            raise ValueError("feedback needs a score, a value, a comment or a correction")
        return self


class TraceReader:
    """Queries over the trace tables."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def list(self, query: TraceQuery) -> dict[str, Any]:
        """A page of trace summaries and the offset of the next page (None at the end)."""
        stmt = select(TraceSummary)
        if query.name:
            stmt = stmt.where(TraceSummary.name.contains(query.name, autoescape=True))
        if query.status:
            stmt = stmt.where(TraceSummary.status == query.status)
        if query.start_after:
            stmt = stmt.where(TraceSummary.start_time >= _epoch(query.start_after))
        if query.start_before:
            stmt = stmt.where(TraceSummary.start_time < _epoch(query.start_before))
        if query.tag:
            stmt = stmt.where(TraceSummary.tags.contains(dumps(query.tag), autoescape=True))
        if query.min_latency_ms is not None:
            stmt = stmt.where(TraceSummary.latency_ms >= query.min_latency_ms)
        if query.min_tokens is not None:
            stmt = stmt.where(TraceSummary.total_tokens >= query.min_tokens)
        stmt = stmt.order_by(TraceSummary.start_time.desc(), TraceSummary.trace_id)
        stmt = stmt.offset(query.offset).limit(query.limit + 1)
        with self.database.session() as session:
            rows = list(session.scalars(stmt))
        more = len(rows) > query.limit
        return {
            "traces": [summary_view(r) for r in rows[: query.limit]],
            "next_offset": query.offset + query.limit if more else None,
        }

    def get(self, trace_id: str) -> dict[str, Any]:
        """One trace: its summary, its spans as a tree (children by start time), its feedback."""
        with self.database.session() as session:
            summary = session.get(TraceSummary, trace_id)
            if summary is None:
                raise NotFoundError(f"There is no trace '{trace_id}'.")
            spans = list(
                session.scalars(
                    select(TraceSpan)
                    .where(TraceSpan.trace_id == trace_id)
                    .order_by(TraceSpan.start_time)
                )
            )
            feedback = list(
                session.scalars(
                    select(TraceFeedback)
                    .where(TraceFeedback.trace_id == trace_id)
                    .order_by(TraceFeedback.created_at)
                )
            )
        return {
            **summary_view(summary),
            "spans": _tree([span_view(s) for s in spans]),
            "feedback": [feedback_view(f) for f in feedback],
        }

    def add_feedback(
        self, trace_id: str, feedback: FeedbackIn, require_trace: bool = True
    ) -> dict[str, Any]:
        """Attach feedback to a trace (that must exist, if ``require_trace``)."""
        row = TraceFeedback(
            id=feedback.id or uuid.uuid4().hex,
            trace_id=trace_id,
            run_id=feedback.run_id,
            key=feedback.key,
            score=feedback.score,
            value=None if feedback.value is None else dumps(feedback.value),
            comment=feedback.comment,
            correction=None if feedback.correction is None else dumps(feedback.correction),
            created_at=time.time(),
        )
        with self.database.session() as session:
            if require_trace and session.get(TraceSummary, trace_id) is None:
                raise NotFoundError(f"There is no trace '{trace_id}'.")
            if row.run_id is None:  # on the root run, where the langsmith SDK looks for it
                row.run_id = session.scalar(
                    select(TraceSpan.id)
                    .where(TraceSpan.trace_id == trace_id, TraceSpan.parent_id.is_(None))
                    .limit(1)
                )
            # A named feedback sent twice (a client's retry) is one feedback.
            row = session.merge(row) if feedback.id else row
            session.add(row)
        return feedback_view(row)

    def trace_of(self, run_id: str) -> str | None:
        """The trace a span belongs to, if the span is stored."""
        with self.database.session() as session:
            return session.scalar(select(TraceSpan.trace_id).where(TraceSpan.id == run_id))


def summary_view(row: TraceSummary) -> dict[str, Any]:
    """A trace summary as JSON."""
    return {
        "trace_id": row.trace_id,
        "name": row.name,
        "status": row.status,
        "start_time": _iso(row.start_time),
        "end_time": _iso(row.end_time),
        "latency_ms": row.latency_ms,
        "span_count": row.span_count,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "cost_usd": row.cost_usd,
        "tags": json.loads(row.tags),
        "source": row.source,
    }


def span_view(row: TraceSpan) -> dict[str, Any]:
    """A span as JSON (children are added by ``_tree``)."""
    latency = None
    if row.start_time is not None and row.end_time is not None:
        latency = (row.end_time - row.start_time) * 1000.0
    return {
        "id": row.id,
        "parent_id": row.parent_id,
        "name": row.name,
        "run_type": row.run_type,
        "status": row.status,
        "start_time": _iso(row.start_time),
        "end_time": _iso(row.end_time),
        "latency_ms": latency,
        "inputs": _loads(row.inputs),
        "outputs": _loads(row.outputs),
        "error": row.error,
        "tags": json.loads(row.tags),
        "metadata": json.loads(row.meta),
        "model": row.model,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cost_usd": row.cost_usd,
    }


def feedback_view(row: TraceFeedback) -> dict[str, Any]:
    """Feedback as JSON."""
    return {
        "id": row.id,
        "trace_id": row.trace_id,
        "run_id": row.run_id,
        "key": row.key,
        "score": row.score,
        "value": _loads(row.value),
        "comment": row.comment,
        "correction": _loads(row.correction),
        "created_at": _iso(row.created_at),
    }


def _tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest spans under their parents; a span whose parent is missing is a root."""
    by_id = {s["id"]: {**s, "children": []} for s in spans}
    roots: list[dict[str, Any]] = []
    for node in by_id.values():
        parent = by_id.get(node["parent_id"]) if node["parent_id"] else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
