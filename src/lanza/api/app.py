"""The app factory: ``create_app(settings) -> FastAPI``, with every component in sight.

Route table (each component's module lists its routes):

=====================  ==============================================================
component              routes
=====================  ==============================================================
ops                    GET /healthz, /readyz, /metrics
grpc                   inference.GRPCInferenceService on server.grpc_port (when set)
serving                /api/v1/deployments[...], /api/v1/models[...],
                       MLflow /invocations /ping /deployments/{name}/invocations,
                       Open Inference v2 /v2/..., Vertex AI AIP_* routes
llm                    OpenAI /v1/chat/completions /v1/completions /v1/embeddings
                       /v1/models, /api/v1/llm/deployments[...]
batch                  /api/v1/batch-jobs[/{id}[/resume]]
monitoring             GET / /dashboard/{name}, /api/v1/monitoring, /api/v1/deployments/
                       {name}/feedback|monitoring|alerts[/{id}]
pages                  GET /deployments/{name}[/upload|/label], /models/{name}/versions/
                       {v}/card[.md|.html], /api/v1/deployments/{name}/form|explain|
                       uploads|labelling, /api/v1/models/{name}/versions/{v}/card
automation             /api/v1/pipelines[/{name}[/runs]], /api/v1/pipeline-runs/{id},
                       /api/v1/schedules[/{name}/runs]
llm-dashboard          GET /traces[/{id}] /evaluations /evaluators /spend,
                       /api/v1/datasets[/{name}], /api/v1/evaluations[/compare|/{run_id}]
online-evaluation      /api/v1/evaluators[/{name}[/scores|/arms]], /annotate/{queue},
                       /api/v1/annotation-queues[/{name}/next|/reviews/{trace}|/agreement]
=====================  ==============================================================
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lanza import __version__
from lanza.api import openapi
from lanza.api.auth import AuditMiddleware, Guard
from lanza.api.component import Component
from lanza.api.errors import error_response, install_error_handlers
from lanza.api.lean import LeanApp
from lanza.api.routers.ops import OpsComponent
from lanza.errors import PayloadTooLargeError
from lanza.security.keys import KeyStore
from lanza.settings import Settings
from lanza.workspace import Workspace

log = logging.getLogger("lanza.server")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, workspace: Workspace | None = None) -> FastAPI:
    """Build the server for one workspace; components start when the app starts."""
    workspace = workspace or Workspace(settings)
    settings = workspace.settings
    metrics = CollectorRegistry()
    components: list[Component] = build_components(workspace, metrics)
    components.insert(0, OpsComponent(components, metrics))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            await app.state.guard.start()
            for component in components:
                await component.start()
                started.append(component)
            # Everything loaded so far (libraries, models) lives as long as the server: keep
            # it out of the collector's full passes, which otherwise stall requests for
            # hundreds of milliseconds on a heap this size.
            gc.freeze()
            yield
        finally:
            app.state.draining = True
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    log.exception("component %s failed to stop", component.name)
            workspace.close()

    app = LeanApp(
        title="lanza",
        version=__version__,
        lifespan=lifespan,
        description="Models in production: serving, batch, monitoring and LLMOps.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.body_limit = settings.server.max_body_bytes
    app.state.workspace = workspace
    app.state.metrics = metrics
    app.state.draining = False
    app.state.guard = Guard(
        KeyStore(workspace.database),
        workspace.database,
        public=is_public(settings),
        rpm=settings.server.key_rpm,
    )
    install_error_handlers(app)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.server.max_body_bytes)
    # Helpers every page loads before its own script (headers, fetch, el, fmt).
    app.mount("/static/lanza", StaticFiles(directory=STATIC), name="lanza-static")
    for component in components:
        component.install(app)
    openapi.install(app)
    install_docs(app, settings.server.expose_docs)
    return app


def install_docs(app: FastAPI, exposed: bool) -> None:
    """``/openapi.json`` and ``/docs``: a 'read' key once keys exist, unless ``exposed``.

    The document lists every route and model name pattern; a server that keeps its
    deployments to key holders keeps its map to them too.
    """
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse

    from lanza.api.auth import require

    guard = [] if exposed else [Depends(require("read"))]

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="lanza API")


def is_public(settings: Settings) -> bool:
    """Keys are mandatory on any interface beyond loopback, unless told ``insecure``."""
    return settings.server.host not in LOOPBACK and not settings.server.insecure


def build_components(workspace: Workspace, metrics: CollectorRegistry) -> list[Component]:
    """Every component of the server, in start order."""
    from lanza.automation.component import AutomationComponent
    from lanza.batch.component import BatchComponent
    from lanza.llm.dashboard.component import LLMDashboardComponent
    from lanza.llm.gateway.component import LLMComponent
    from lanza.llm.online.component import OnlineEvaluationComponent
    from lanza.llm.tracing.component import TracingComponent
    from lanza.monitoring.component import MonitoringComponent
    from lanza.pages.component import PagesComponent
    from lanza.serving.component import ServingComponent

    serving = ServingComponent(workspace, metrics)
    components: list[Component] = [serving]
    if workspace.settings.server.grpc_port:
        from lanza.api.grpc.face import GrpcComponent

        components.append(GrpcComponent(serving, workspace.settings.server))
    monitoring = MonitoringComponent(workspace, metrics, serving)
    components.append(monitoring)
    components.append(PagesComponent(workspace, serving, monitoring))
    llm = LLMComponent(workspace, metrics)
    components.append(llm)
    components.append(BatchComponent(workspace))
    components.append(TracingComponent(workspace))
    components.append(LLMDashboardComponent(workspace))
    components.append(OnlineEvaluationComponent(workspace, metrics, llm))
    components.append(AutomationComponent(workspace))
    return components


class BodyLimitMiddleware:
    """413 for a body over the limit: judged by Content-Length, and counted while streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = self.declared(scope)
        if declared is not None and declared > self.limit:
            await self.refusal(Request(scope, receive), declared, self.limit)(scope, receive, send)
            return
        await self.app(scope, self.counted(receive, self.limit), send)

    @staticmethod
    def declared(scope: Scope) -> int | None:
        """The request's Content-Length, when it declares one."""
        declared = dict(scope["headers"]).get(b"content-length", b"")
        return int(declared) if declared.isdigit() else None

    @staticmethod
    def counted(receive: Receive, limit: int) -> Receive:
        """``receive`` that raises a 413 once the body streamed passes ``limit``."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLargeError(
                    f"The request body is over the limit of {limit:,} bytes."
                )
            return message

        return counted

    @staticmethod
    def refusal(request: Request, size: int, limit: int) -> Response:
        """The 413 for a declared size over the limit."""
        return error_response(
            request,
            413,
            "payload_too_large",
            f"The request body is {size:,} bytes; the limit is {limit:,}.",
        )
