"""The LLM component: the gateway, its deployments and the OpenAI face, in the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool

from lanza.api.component import Component
from lanza.api.errors import face_errors
from lanza.llm.budgets.budgets import Budgets
from lanza.llm.budgets.ledger import Ledger
from lanza.llm.gateway.face import OpenAIFace
from lanza.llm.gateway.face import error_body as openai_error_body
from lanza.llm.gateway.metrics import GatewayMetrics
from lanza.llm.gateway.observe import Traces
from lanza.llm.gateway.policy import CallPolicy
from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.gateway.service import Gateway
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.prompts import PromptStore
from lanza.llm.providers.base import ChatMessage, GenerationParams
from lanza.llm.tracing import Tracer
from lanza.security.keys import KeyStore
from lanza.workspace import Workspace

log = logging.getLogger("lanza.llm")
LEDGER_FLUSH_S = 1.0


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
        self.ledger = Ledger(workspace.database)
        self.budgets = Budgets(workspace.database, self.ledger)
        policy = CallPolicy(
            self.gateway.specs,
            self.ledger,
            self.budgets,
            KeyStore(workspace.database),
            ask=self.judge,
        )

        # The prompt registry is MLflow's: connected when a request first names a prompt,
        # so a server that serves none never imports MLflow.
        def prompts() -> PromptStore:
            return PromptStore(workspace.mlflow)

        self.face = OpenAIFace(self.gateway, prompts, self.traces, self.metrics, policy)
        self._stopping = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    def install(self, app: FastAPI) -> None:
        from lanza.llm.budgets.routes import budgets_router
        from lanza.llm.gateway.routes import deployments_router, openai_router

        app.state.llm = self
        app.include_router(openai_router(), prefix="/v1")
        face_errors(app, ("/v1/",), openai_error_body, upstream_passes=True)
        app.include_router(deployments_router(), prefix="/api/v1")
        app.include_router(budgets_router(self.budgets, self.ledger))

    async def start(self) -> None:
        # The gateway's spans go to this server's trace store, through a tracer of its own.
        self.traces.tracer = store_tracer(self.workspace)
        self._stopping = asyncio.Event()
        self._flusher = asyncio.create_task(self._flush_loop(), name="lanza-llm-ledger")

    async def stop(self) -> None:
        self._stopping.set()
        if self._flusher is not None:
            await self._flusher
            self._flusher = None
        await self.gateway.close()
        self.traces.close()

    async def judge(self, deployment: str, prompt: str, caller: str) -> str:
        """One guardrail judge call: a span inside the checked call's, charged to its caller."""
        messages = [ChatMessage(role="user", content=prompt)]
        inputs = {"messages": [m.model_dump(exclude_none=True) for m in messages]}
        params = GenerationParams(max_tokens=8, temperature=0.0)
        with self.traces.call("guardrail", deployment, inputs) as span:
            span.add_tags(["guardrail:judge"])
            reply = await self.gateway.call(deployment, lambda p: p.chat(messages, params), caller)
            span.set_outputs({"text": reply.result.text})
            usage = reply.usage
            span.set_usage(
                usage.prompt_tokens, usage.completion_tokens, reply.model, reply.cost_usd
            )
        self.face.policy.charge(
            deployment, reply.served_by, reply.model, caller, usage, reply.cost_usd
        )
        return str(reply.result.text)

    async def _flush_loop(self) -> None:
        """Write the ledger every second, and once more when the server stops."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), LEDGER_FLUSH_S)
            try:
                await run_in_threadpool(self.ledger.flush)
            except Exception:  # a database outage: the charges stay queued for the next round
                log.exception("writing the LLM cost ledger failed; retrying")
            if self._stopping.is_set():
                return
