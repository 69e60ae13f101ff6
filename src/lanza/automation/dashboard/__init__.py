"""The automation page of the dashboard: pipelines with their runs, and schedules.

Drawn in lanza's web shell (``lanza.web``) with its script and stylesheet in
``lanza/automation/dashboard/static``; it reads the automation JSON routes with the
browser's stored key and polls them, so a run's steps and decision appear without a
reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from lanza.web import assets, page

STATIC = Path(__file__).parent / "static"
MAIN = """
    <h1>Pipelines</h1>
    <div id="pipelines"><p class="muted">Loading…</p></div>
    <h1>Schedules</h1>
    <div id="schedules"><p class="muted">Loading…</p></div>
  """


def install(app: FastAPI) -> None:
    """Register the assets and the ``/automation`` page."""
    assets(app).add("automation", STATIC)
    shell = page(
        "automation",
        script="/static/automation/automation.js",
        styles=("/static/automation/automation.css",),
        main=MAIN,
        here="automation",
        crumb="pipelines and schedules",
    )

    @app.get("/automation", include_in_schema=False)
    async def automation() -> HTMLResponse:
        return HTMLResponse(shell)
