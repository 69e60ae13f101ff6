"""The HTTP kit's assembly: one FastAPI app from components, with the layers they share.

``lanza.server`` chooses the components (the composition root); this module gives them
an app: lifespan (start in order, stop in reverse), the key guard, error handlers, the
body limit, the audit log, the OpenAPI document and its docs page.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry

from lanza import __version__
from lanza.api import openapi
from lanza.api.auth import AuditMiddleware, Guard
from lanza.api.bodylimit import BodyLimitMiddleware
from lanza.api.component import Component
from lanza.api.errors import install_error_handlers
from lanza.api.lean import LeanApp
from lanza.api.routers.ops import OpsComponent
from lanza.security.keys import KeyStore
from lanza.settings import Settings
from lanza.web import assets
from lanza.workspace import Workspace

log = logging.getLogger("lanza.server")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def assemble(
    workspace: Workspace, components: list[Component], metrics: CollectorRegistry
) -> FastAPI:
    """The app serving ``components`` for one workspace; they start when the app starts.

    The operations routes (health, readiness, metrics) are added in front: they report on
    every other component.
    """
    settings = workspace.settings
    components = [OpsComponent(components, metrics), *components]

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
    # The web shell's base stylesheet and helpers (headers, fetch, el, fmt), at /static/lanza.
    assets(app)
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
