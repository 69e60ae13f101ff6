"""The automation page of the dashboard: pipelines with their runs, and schedules.

Plain HTML, CSS and JavaScript shipped in ``lanza/automation/dashboard/static`` (no
CDN, no build step). The page shares the monitoring dashboard's stylesheet, reads the
automation JSON routes with the browser's stored key, and polls them, so a run's
steps and decision appear without a reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the assets and the ``/automation`` page."""
    app.mount("/static/automation", StaticFiles(directory=STATIC), name="automation-static")

    @app.get("/automation", include_in_schema=False)
    async def automation() -> FileResponse:
        return FileResponse(STATIC / "automation.html", media_type="text/html")
