"""Routes for datasets and evaluation runs (the dashboard's ``/evaluations`` reads them).

=======  ===================================  =====  ======================================
method   path                                 role   what
=======  ===================================  =====  ======================================
GET      /api/v1/datasets                     read   named datasets
POST     /api/v1/datasets                     admin  build one from traces
GET      /api/v1/datasets/{name}              read   summary and first rows
GET      /api/v1/evaluations                  read   evaluation runs, newest first
GET      /api/v1/evaluations/compare?a=&b=    read   two runs side by side
GET      /api/v1/evaluations/{run_id}         read   one run: params, metrics, rows
=======  ===================================  =====  ======================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.llm.evaluation.comparison import compare, list_runs
from lanza.llm.evaluation.datasets import NAME, DatasetLibrary, rows_from_traces
from lanza.llm.evaluation.tracking import EvaluationLog
from lanza.llm.tracing.queries import TraceQuery, TraceReader
from lanza.llm.tracing.records import MAX_TOKENS


class DatasetFromTraces(BaseModel):
    """``POST /api/v1/datasets``: which traces become rows of a new dataset."""

    name: str = Field(min_length=1, max_length=100, json_schema_extra={"pattern": NAME.pattern})
    name_filter: str | None = Field(None, description="Part of the traces' name.")
    tag: str | None = None
    status: str | None = Field("success", pattern="^(success|error|running)$")
    start_after: datetime | None = None
    start_before: datetime | None = None
    min_latency_ms: float | None = Field(None, ge=0, le=1e12)
    min_tokens: int | None = Field(None, ge=0, le=MAX_TOKENS)
    limit: int = Field(1000, ge=1, le=100_000, description="Most rows.")
    corrections_only: bool = Field(False, description="Only traces with a correction.")
    overwrite: bool = False

    def query(self) -> TraceQuery:
        """The trace filter this request describes."""
        return TraceQuery(
            name=self.name_filter,
            tag=self.tag,
            status=self.status,
            start_after=self.start_after,
            start_before=self.start_before,
            min_latency_ms=self.min_latency_ms,
            min_tokens=self.min_tokens,
        )


def datasets_router(library: DatasetLibrary, reader: TraceReader) -> APIRouter:
    """Named datasets."""
    router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

    @router.get("", dependencies=[Depends(require("read"))], summary="List datasets")
    async def list_datasets() -> list[dict[str, Any]]:
        return [d.view() for d in await run_in_threadpool(library.all)]

    @router.post(
        "",
        dependencies=[Depends(require("admin"))],
        status_code=201,
        summary="Build a dataset from traces",
    )
    async def create(body: DatasetFromTraces) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            library.path(body.name)  # a bad name fails before the traces are read
            rows = rows_from_traces(reader, body.query(), body.limit, body.corrections_only)
            return library.write(body.name, rows, body.overwrite).view()

        return await run_in_threadpool(build)

    @router.get("/{name}", dependencies=[Depends(require("read"))], summary="One dataset")
    async def show(
        name: Annotated[str, Path(json_schema_extra={"pattern": NAME.pattern})],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            return {**library.info(name).view(), "examples": library.rows(name, limit)}

        return await run_in_threadpool(read)

    return router


def evaluations_router(log: Callable[[], EvaluationLog]) -> APIRouter:
    """Evaluation runs recorded in MLflow.

    ``log`` gives the evaluation log when a request needs it (in the request's worker
    thread): MLflow is connected on the first such request, not when the server starts.
    """
    router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])
    read = [Depends(require("read"))]

    @router.get("", dependencies=read, summary="List evaluation runs")
    async def list_all(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        def listed() -> list[dict[str, Any]]:
            return [asdict(r) for r in list_runs(log(), limit)]

        return await run_in_threadpool(listed)

    @router.get("/compare", dependencies=read, summary="Compare two evaluation runs")
    async def compare_two(a: str, b: str) -> dict[str, Any]:
        def both() -> dict[str, Any]:
            runs = log()
            return compare(runs.load(a), runs.load(b))

        return await run_in_threadpool(both)

    @router.get("/{run_id}", dependencies=read, summary="One evaluation run")
    async def show(run_id: str) -> dict[str, Any]:
        return asdict(await run_in_threadpool(lambda: log().load(run_id)))

    return router
