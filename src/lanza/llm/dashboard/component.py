"""The LLMOps views: ``/traces``, ``/traces/{id}``, ``/evaluations``, ``/evaluators`` and
``/spend`` pages, plus the dataset and evaluation routes they read.

Drawn in lanza's web shell (``lanza.web``) with their scripts in
``lanza/llm/dashboard/static``; they read the JSON API with the browser's stored key,
like the monitoring pages do.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from lanza.api.component import Component
from lanza.llm.dashboard.pages import pages_router
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
        app.include_router(evaluations_router(partial(evaluation_log, self.workspace)))
        assets(app).add("llm", STATIC)
        app.include_router(pages_router())
