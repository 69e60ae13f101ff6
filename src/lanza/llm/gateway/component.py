"""The LLM component: the gateway, its deployments and the OpenAI face, in the server."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lanza.api.component import Component
from lanza.llm.gateway.face import OpenAIFace
from lanza.llm.gateway.metrics import GatewayMetrics
from lanza.llm.gateway.observe import Traces
from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.gateway.service import Gateway
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.prompts import PromptStore
from lanza.llm.tracing import Tracer
from lanza.workspace import Workspace


def build_gateway(workspace: Workspace) -> Gateway:
    """A gateway on a workspace's database and settings (for the server and the CLI)."""
    settings = workspace.settings.llm
    return Gateway(
        LLMDeploymentStore(workspace.database),
        PriceTable.load(settings.prices_path),
        retry_backoff_s=settings.retry_backoff_s,
        cache_entries=settings.cache_entries,
        spec_ttl_s=workspace.settings.server.poll_interval_s,
    )


def store_tracer(workspace: Workspace) -> Tracer:
    """A tracer that writes to the workspace's trace store in batches."""
    from lanza.llm.tracing.sinks import StoreSink
    from lanza.llm.tracing.store import TraceStore

    return Tracer(StoreSink(TraceStore(workspace.database)))


class LLMComponent(Component):
    """``/v1`` (OpenAI) and ``/api/v1/llm/deployments``; models load on first use."""

    name = "llm"

    def __init__(self, workspace: Workspace, registry: CollectorRegistry | None = None) -> None:
        self.workspace = workspace
        self.gateway = build_gateway(workspace)
        self.store = self.gateway.store
        self.traces = Traces()
        self.metrics = GatewayMetrics(registry or CollectorRegistry())
        prompts = PromptStore(workspace.mlflow)
        self.face = OpenAIFace(self.gateway, prompts, self.traces, self.metrics)

    def install(self, app: FastAPI) -> None:
        from lanza.llm.gateway.routes import deployments_router, openai_router

        app.state.llm = self
        app.include_router(openai_router(), prefix="/v1")
        app.include_router(deployments_router(), prefix="/api/v1")

    async def start(self) -> None:
        # The gateway's spans go to this server's trace store, through a tracer of its own.
        self.traces.tracer = store_tracer(self.workspace)

    async def stop(self) -> None:
        await self.gateway.close()
        self.traces.close()
