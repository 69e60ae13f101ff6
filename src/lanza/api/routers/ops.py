"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from lanza import __version__
from lanza.api.auth import require
from lanza.api.component import Component


class OpsComponent(Component):
    """``/healthz``, ``/readyz`` and ``/metrics`` over the other components."""

    name = "ops"

    def __init__(self, components: list[Component], metrics: CollectorRegistry) -> None:
        self.components = components
        self.metrics = metrics

    def install(self, app: FastAPI) -> None:
        router = APIRouter(tags=["operations"])

        @router.get("/healthz", summary="Liveness: the process answers")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "version": __version__}

        @router.get("/readyz", summary="Readiness: every deployment loaded")
        async def readyz(request: Request) -> JSONResponse:
            if getattr(request.app.state, "draining", False):
                return JSONResponse({"status": "draining"}, status_code=503)
            report = {c.name: c.readiness() for c in self.components}
            ready = all(ok for ok, _ in report.values())
            body = {
                "status": "ready" if ready else "not ready",
                "components": {k: {"ready": ok, "detail": why} for k, (ok, why) in report.items()},
            }
            return JSONResponse(body, status_code=200 if ready else 503)

        # Metrics name every deployment and version: a 'read' key once keys exist, unless
        # LANZA_SERVER__EXPOSE_METRICS opens them to an unauthenticated scraper.
        exposed = app.state.settings.server.expose_metrics
        guard = [] if exposed else [Depends(require("read"))]

        @router.get("/metrics", summary="Prometheus metrics", dependencies=guard)
        async def metrics() -> Response:
            return Response(generate_latest(self.metrics), media_type=CONTENT_TYPE_LATEST)

        app.include_router(router)
