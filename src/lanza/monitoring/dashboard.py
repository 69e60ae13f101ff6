"""The dashboard: a page at ``/`` listing deployments, and one page per deployment.

Plain HTML, CSS and JavaScript shipped in ``lanza/monitoring/static`` (no CDN, so it
renders without internet); the page polls the monitoring API and redraws its SVG
charts in place, so it updates without a reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the assets and the two page routes (both serve the same page)."""
    app.mount("/static/monitoring", StaticFiles(directory=STATIC), name="monitoring-static")

    @app.get("/", include_in_schema=False)
    async def overview() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/dashboard/{name}", include_in_schema=False)
    async def deployment(name: str) -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")
