"""The LLMOps views: ``/traces``, ``/traces/{id}``, ``/evaluations``, ``/evaluators`` and
``/spend`` pages, plus the dataset and evaluation routes they read.

Drawn in lanza's web shell (``lanza.web``) with their scripts in
``lanza/llm/dashboard/static``; they read the JSON API with the browser's stored key,
like the monitoring pages do.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from lanza.api.component import Component
from lanza.llm.dashboard.pages import llm_page
from lanza.llm.evaluation.datasets import DatasetLibrary
from lanza.llm.evaluation.routes import datasets_router, evaluations_router
from lanza.llm.evaluation.tracking import EvaluationLog
from lanza.llm.tracing.queries import TraceReader
from lanza.web import assets
from lanza.workspace import Workspace

STATIC = Path(__file__).parent / "static"


def evaluation_log(workspace: Workspace) -> EvaluationLog:
    """Where a workspace's evaluation runs are recorded."""
    settings = workspace.settings
    assert settings.artifact_root is not None
    return EvaluationLog(workspace.mlflow, settings.llm.eval_experiment, settings.artifact_root)


class LLMDashboardComponent(Component):
    """Pages for traces and evaluations, and the datasets and evaluations API."""

    name = "llm-dashboard"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def install(self, app: FastAPI) -> None:
        reader = TraceReader(self.workspace.database)
        app.include_router(datasets_router(DatasetLibrary.of(self.workspace.settings.home), reader))
        app.include_router(evaluations_router(evaluation_log(self.workspace)))
        assets(app).add("llm", STATIC)
        traces_page = llm_page("traces")
        evaluations_page = llm_page("evaluations")
        spend_page = llm_page("spend")
        evaluators_page = llm_page("evaluators")

        @app.get("/traces", include_in_schema=False)
        async def traces() -> HTMLResponse:
            return HTMLResponse(traces_page)

        @app.get("/traces/{trace_id}", include_in_schema=False)
        async def trace(trace_id: str) -> HTMLResponse:
            return HTMLResponse(traces_page)

        @app.get("/evaluations", include_in_schema=False)
        async def evaluations() -> HTMLResponse:
            return HTMLResponse(evaluations_page)

        @app.get("/evaluators", include_in_schema=False)
        async def evaluators() -> HTMLResponse:
            return HTMLResponse(evaluators_page)

        @app.get("/spend", include_in_schema=False)
        async def spend() -> HTMLResponse:
            return HTMLResponse(spend_page)
