"""The online evaluation component: the scoring loop, its routes, its MLflow runs.

Judge and embedder calls go through the LLM component's gateway (retries, fallback),
are traced as spans tagged ``lanza:evaluator`` (which the loop never scores) and are
charged to the ledger under the key ``evaluator``. Window means go to MLflow, one run
per evaluator in the ``lanza-evaluators`` experiment, every
``tracing.mlflow_export_interval_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool

from lanza.api.component import Component
from lanza.llm.online.routes import evaluators_router
from lanza.llm.online.store import EvaluatorStore
from lanza.llm.online.worker import EVALUATOR_TAG, OnlineEvaluator
from lanza.llm.providers.base import ChatMessage, GenerationParams
from lanza.store.lease import Lease
from lanza.workspace import Workspace

if TYPE_CHECKING:
    from lanza.llm.gateway.component import LLMComponent

log = logging.getLogger("lanza.llm")
EXPERIMENT = "lanza-evaluators"
CALLER = "evaluator"
LEASE_S = 10.0


class OnlineEvaluationComponent(Component):
    """Scores live traces in the background; ``/api/v1/evaluators``, annotation queues."""

    name = "online-evaluation"

    def __init__(self, workspace: Workspace, metrics: CollectorRegistry, llm: LLMComponent) -> None:
        self.workspace = workspace
        self.llm = llm
        self.store = EvaluatorStore(workspace.database)
        # One process of several scores (and logs to MLflow): the lease's holder.
        lease = Lease(workspace.database, "online-evaluation", ttl_s=LEASE_S)
        self.loop = OnlineEvaluator(workspace.database, self.ask, self.embed, metrics, lease=lease)
        self._mlflow: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._runs: dict[str, str] = {}

    def install(self, app: FastAPI) -> None:
        from lanza.llm.annotation.queues import AnnotationQueues
        from lanza.llm.annotation.routes import annotation_router

        app.state.evaluators = self
        app.include_router(evaluators_router(self.store, self.loop))
        # Reviewers check what evaluators scored: the queues live beside them.
        app.include_router(annotation_router(AnnotationQueues(self.workspace.database)))

    async def start(self) -> None:
        self.loop.start()
        interval = self.workspace.settings.tracing.mlflow_export_interval_s
        self._stopping = asyncio.Event()
        if interval > 0:
            self._mlflow = asyncio.create_task(
                self._mlflow_loop(interval), name="lanza-eval-mlflow"
            )

    async def stop(self) -> None:
        self._stopping.set()
        if self._mlflow is not None:  # its last round while this process still holds the lease
            await self._mlflow
            self._mlflow = None
        await self.loop.stop()

    async def ask(self, deployment: str, prompt: str) -> str:
        """One judge call through the gateway, traced and charged, never evaluated."""
        messages = [ChatMessage(role="user", content=prompt)]
        inputs = {"messages": [m.model_dump(exclude_none=True) for m in messages]}
        params = GenerationParams(max_tokens=8, temperature=0.0)
        with self.llm.traces.call("judge", deployment, inputs) as span:
            span.add_tags([EVALUATOR_TAG])
            reply = await self.llm.gateway.call(
                deployment, lambda p: p.chat(messages, params), CALLER
            )
            span.set_outputs({"text": reply.result.text})
            usage = reply.usage
            span.set_usage(
                usage.prompt_tokens, usage.completion_tokens, reply.model, reply.cost_usd
            )
        self.llm.face.policy.charge(
            deployment, reply.served_by, reply.model, CALLER, usage, reply.cost_usd
        )
        return str(reply.result.text)

    async def embed(self, deployment: str, texts: list[str]) -> list[list[float]]:
        """Vectors from an embeddings deployment, traced like a judge call."""
        with self.llm.traces.call("embed", deployment, {"input": texts}, "embedding") as span:
            span.add_tags([EVALUATOR_TAG])
            reply = await self.llm.gateway.call(deployment, lambda p: p.embed(texts), CALLER)
        vectors: list[list[float]] = reply.result.vectors
        return vectors

    def log_to_mlflow(self) -> int:
        """Each evaluator's window means and counts as metrics of its MLflow run."""
        from lanza.experiments import experiment_id

        root = self.workspace.settings.artifact_root
        assert root is not None
        logged = 0
        for name, state in list(self.loop.rules.items()):
            if not state.last_mean:
                continue
            # Connected only once there is a figure to log: a server with no evaluator
            # running never imports MLflow for this loop.
            client = self.workspace.mlflow
            run_id = self._runs.get(name)
            if run_id is None:
                run = client.create_run(
                    experiment_id(client, EXPERIMENT, root),
                    run_name=name,
                    tags={"lanza.kind": "online-evaluator", "lanza.evaluator": name},
                )
                run_id = self._runs[name] = run.info.run_id
                client.log_param(run_id, "filter", state.spec.filter or "(all)")
                client.log_param(run_id, "scorers", ",".join(state.spec.scorers))
            for scorer, mean in state.last_mean.items():
                client.log_metric(run_id, f"{scorer}_mean", mean, step=state.scored)
            client.log_metric(run_id, "scored", state.scored, step=state.scored)
            client.log_metric(run_id, "dropped", state.dropped, step=state.scored)
            logged += 1
        return logged

    async def _mlflow_loop(self, interval: float) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            if not self.loop.holding:
                continue
            try:
                await run_in_threadpool(self.log_to_mlflow)
            except Exception:
                log.exception("logging evaluator scores to MLflow failed; retrying next round")
