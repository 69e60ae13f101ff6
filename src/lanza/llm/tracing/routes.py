"""lanza's own trace routes under ``/api/v1/traces``: list, read a tree, feedback, ingest.

=======  ==================================  =========  ==========================
method   path                                role       what
=======  ==================================  =========  ==========================
GET      /api/v1/traces                      read       filtered page, newest first
GET      /api/v1/traces/{trace_id}           read       summary, span tree, feedback
POST     /api/v1/traces/{trace_id}/feedback  predict    key, score, comment, correction
POST     /api/v1/traces                      predict    batch ingest (the SDK's HTTP sink)
=======  ==================================  =========  ==========================
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.llm.tracing.queries import FeedbackIn, TraceQuery, TraceReader
from lanza.llm.tracing.records import MAX_TOKENS, SpanBatch
from lanza.llm.tracing.store import TraceStore


def traces_router(store: TraceStore, reader: TraceReader) -> APIRouter:
    """The native trace routes over one store."""
    router = APIRouter(prefix="/api/v1/traces", tags=["traces"])

    @router.get("", dependencies=[Depends(require("read"))], summary="List traces")
    async def list_traces(
        name: str | None = None,
        status: Annotated[str | None, Query(pattern="^(success|error|running)$")] = None,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        tag: str | None = None,
        min_latency_ms: Annotated[float | None, Query(ge=0)] = None,
        min_tokens: Annotated[int | None, Query(ge=0, le=MAX_TOKENS)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_TOKENS)] = 0,
    ) -> dict[str, Any]:
        query = TraceQuery(
            name=name,
            status=status,
            start_after=start_after,
            start_before=start_before,
            tag=tag,
            min_latency_ms=min_latency_ms,
            min_tokens=min_tokens,
            limit=limit,
            offset=offset,
        )
        return await run_in_threadpool(reader.list, query)

    @router.get("/{trace_id}", dependencies=[Depends(require("read"))], summary="One trace")
    async def get_trace(trace_id: str) -> dict[str, Any]:
        return await run_in_threadpool(reader.get, trace_id)

    @router.post(
        "/{trace_id}/feedback",
        dependencies=[Depends(require("predict", audit=True))],
        status_code=201,
        summary="Add feedback to a trace",
    )
    async def add_feedback(trace_id: str, feedback: FeedbackIn) -> dict[str, Any]:
        return await run_in_threadpool(reader.add_feedback, trace_id, feedback)

    @router.post(
        "",
        dependencies=[Depends(require("predict"))],
        status_code=202,
        summary="Ingest a batch of spans",
    )
    async def ingest(batch: SpanBatch) -> dict[str, int]:
        traces = await run_in_threadpool(store.write, batch.spans)
        return {"spans": len(batch.spans), "traces": traces}

    return router
