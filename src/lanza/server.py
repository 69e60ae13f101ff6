"""The composition root: which components make a lanza server, and the app that serves them.

Everything below this module is a part (the HTTP kit in ``lanza.api``, the features in
their packages); only here are they put together. ``lanza serve``, the tests and the
benchmarks all build their server with ``create_app``.

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

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lanza.api.app import assemble
from lanza.api.component import Component
from lanza.automation.component import AutomationComponent
from lanza.batch.component import BatchComponent
from lanza.llm.dashboard.component import LLMDashboardComponent
from lanza.llm.gateway.component import LLMComponent
from lanza.llm.online.component import OnlineEvaluationComponent
from lanza.llm.tracing.component import TracingComponent
from lanza.monitoring.component import MonitoringComponent
from lanza.pages.component import PagesComponent
from lanza.serving.component import ServingComponent
from lanza.settings import Settings
from lanza.workspace import Workspace


def create_app(settings: Settings | None = None, workspace: Workspace | None = None) -> FastAPI:
    """Build the server for one workspace; components start when the app starts."""
    workspace = workspace or Workspace(settings)
    metrics = CollectorRegistry()
    return assemble(workspace, build_components(workspace, metrics), metrics)


def build_components(workspace: Workspace, metrics: CollectorRegistry) -> list[Component]:
    """Every component of the server, in start order."""
    serving = ServingComponent(workspace, metrics)
    components: list[Component] = [serving]
    if workspace.settings.server.grpc_port:
        from lanza.serving.faces.grpc.face import GrpcComponent

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
