"""The dashboard: a page at ``/`` listing deployments, and one page per deployment.

Drawn in lanza's web shell (``lanza.web``) with its script in ``lanza/monitoring/static``;
the page polls the monitoring API and redraws its SVG charts in place, so it updates
without a reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from lanza.web import assets, page

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Register the assets and the two page routes (both serve the same page)."""
    assets(app).add("monitoring", STATIC)
    shell = page("monitoring", script="/static/monitoring/dashboard.js", here="deployments")

    @app.get("/", include_in_schema=False)
    async def overview() -> HTMLResponse:
        return HTMLResponse(shell)

    @app.get("/dashboard/{name}", include_in_schema=False)
    async def deployment(name: str) -> HTMLResponse:
        return HTMLResponse(shell)
