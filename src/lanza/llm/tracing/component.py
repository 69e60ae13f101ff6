"""The tracing component: the trace store's routes, the ingest faces and the MLflow export.

Routes: ``/api/v1/traces`` (``routes.py``), ``/langsmith/...`` (``langsmith.py``) and
``/otlp/v1/traces`` (``otlp.py``). Spans the server opens itself (every gateway call) go
to the same store through the process's tracer. In the background, settled traces go to
MLflow every ``tracing.mlflow_export_interval_s`` seconds; an export failure is logged
and retried on the next round, never raised into a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from lanza.api.component import Component
from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.providers.base import Usage
from lanza.llm.tracing.langsmith import langsmith_router
from lanza.llm.tracing.mlflow_export import MlflowExporter
from lanza.llm.tracing.otlp import otlp_router
from lanza.llm.tracing.queries import TraceReader
from lanza.llm.tracing.routes import traces_router
from lanza.llm.tracing.sdk import Tracer, configure, get_tracer
from lanza.llm.tracing.sinks import StoreSink
from lanza.llm.tracing.store import TraceStore
from lanza.workspace import Workspace

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger("lanza.tracing")


class TracingComponent(Component):
    """Trace ingest and reads over lanza's database, plus the export to MLflow."""

    name = "tracing"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.interval_s = workspace.settings.tracing.mlflow_export_interval_s
        self.failed_exports = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        prices = PriceTable.load(workspace.settings.llm.prices_path)

        def price(model: str, prompt: int, completion: int) -> float | None:
            return prices.cost(model, Usage(prompt, completion))

        # Spans with a model in the price table and their tokens get a cost when written.
        self._store = TraceStore(workspace.database, price)
        self._tracer: Tracer | None = None

    def install(self, app: FastAPI) -> None:
        store, reader = self._store, TraceReader(self.workspace.database)
        app.state.trace_store = store
        app.include_router(traces_router(store, reader))
        app.include_router(langsmith_router(store, reader))
        app.include_router(otlp_router(store))

    async def start(self) -> None:
        # Spans opened in the server itself (every gateway call) go to this store, unless
        # the process already traces somewhere else.
        if not get_tracer().enabled:
            self._tracer = configure(sink=StoreSink(self._store))
        if self.interval_s > 0:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._export_loop(), name="lanza-trace-export")

    async def stop(self) -> None:
        if self._tracer is not None and get_tracer() is self._tracer:
            await run_in_threadpool(configure, None)  # flushes what the server traced
        self._tracer = None
        # Let a running export finish its thread rather than cancel it halfway.
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    def _mlflow(self) -> MlflowClient:
        """The workspace's MLflow client: the exporter connects when it has traces to send."""
        return self.workspace.mlflow

    async def _export_loop(self) -> None:
        settings = self.workspace.settings.tracing
        exporter: MlflowExporter | None = None
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            if self._stopping.is_set():
                return
            try:
                if exporter is None:
                    exporter = MlflowExporter(
                        self.workspace.database, self._mlflow, settings.mlflow_experiment
                    )
                while await run_in_threadpool(exporter.export_once) == exporter.batch_size:
                    if self._stopping.is_set():
                        return
            except Exception:
                self.failed_exports += 1
                log.exception("exporting traces to MLflow failed; retrying next round")
