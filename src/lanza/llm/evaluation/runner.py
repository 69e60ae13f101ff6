"""Runs a dataset against a target with bounded concurrency, and scores every row.

A target is an LLM deployment (each row's ``input`` or ``messages`` is sent as is) or a
prompt reference (``NAME@ALIAS`` or ``NAME/VERSION``, rendered with each row's
``inputs``) run on a deployment. Calls go through the gateway, so retries, fallbacks,
cost and tracing are the same as for HTTP clients. A failed row is recorded with its
error and scores nothing; the run goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lanza.errors import InvalidInputError, LanzaError, NotFoundError
from lanza.llm.evaluation.dataset import Dataset, Example
from lanza.llm.gateway.observe import Traces
from lanza.llm.gateway.service import Gateway
from lanza.llm.prompts import PromptInfo, PromptStore
from lanza.llm.providers.base import ChatMessage, Completion, GenerationParams, Provider

Score = Callable[[Example, str], float | Awaitable[float | None] | None]


@dataclass(frozen=True)
class Target:
    """What is evaluated: a deployment, or a prompt version on a deployment."""

    deployment: str
    prompt: PromptInfo | None = None

    @property
    def label(self) -> str:
        """``deployment`` or ``prompt NAME/VERSION on deployment``."""
        if self.prompt is None:
            return self.deployment
        return f"{self.prompt.reference} on {self.deployment}"

    def messages(self, example: Example) -> list[ChatMessage]:
        """The chat to send for one row."""
        given = [ChatMessage.model_validate(m) for m in example.messages]
        rendered: list[ChatMessage] = []
        if self.prompt is not None:
            # A prompt's rows fill its variables; 'input' is the variable {{input}}.
            variables = {"input": example.input, **example.inputs}
            rendered = self.prompt.messages(variables)
        elif example.input is not None:
            given.append(ChatMessage(role="user", content=example.input))
        if not rendered and not given:
            raise InvalidInputError(f"Row {example.id} has nothing to send to a deployment.")
        return rendered + given


@dataclass
class RowResult:
    """One row's answer, cost and scores."""

    id: str
    question: str
    expected: str | None
    output: str | None = None
    error: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    scores: dict[str, float | None] = field(default_factory=dict)


def resolve_target(
    gateway: Gateway, prompts: PromptStore, target: str, deployment: str | None
) -> Target:
    """A deployment name, or a prompt reference that needs ``deployment`` to run on."""
    if "@" not in target and "/" not in target:
        try:
            gateway.store.get(target)
            return Target(target)
        except NotFoundError:
            pass
    prompt = prompts.get(target)
    if deployment is None:
        raise InvalidInputError(
            f"'{target}' is a prompt: say which deployment runs it with --deployment NAME."
        )
    gateway.store.get(deployment)
    return Target(deployment, prompt)


class Evaluator:
    """Sends every row to the target, at most ``concurrency`` at once, and scores it."""

    def __init__(
        self, gateway: Gateway, concurrency: int, params: GenerationParams, traces: Traces
    ) -> None:
        self.gateway = gateway
        self.traces = traces
        self.concurrency = concurrency
        self.params = params

    async def run(
        self,
        dataset: Dataset,
        target: Target,
        scorers: dict[str, Score],
        advance: Callable[[], None] = lambda: None,
    ) -> list[RowResult]:
        """Every row's result, in dataset order."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(example: Example) -> RowResult:
            async with gate:
                result = await self._row(example, target, scorers)
            advance()
            return result

        return list(await asyncio.gather(*(one(e) for e in dataset.examples)))

    async def _row(self, example: Example, target: Target, scorers: dict[str, Score]) -> RowResult:
        row = RowResult(example.id, example.question, example.expected)
        started = time.perf_counter()
        try:
            messages = target.messages(example)
            inputs = {"messages": [m.model_dump(exclude_none=True) for m in messages]}
            with self.traces.call("eval", target.deployment, inputs) as span:
                reply = await self.gateway.call(
                    target.deployment, self._chat(messages), caller="lanza-eval"
                )
                completion: Completion = reply.result
                span.set_outputs({"text": completion.text})
                span.set_usage(
                    reply.usage.prompt_tokens,
                    reply.usage.completion_tokens,
                    reply.model,
                    reply.cost_usd,
                )
        except LanzaError as exc:
            row.error = exc.message
            row.latency_ms = (time.perf_counter() - started) * 1000
            return row
        row.latency_ms = (time.perf_counter() - started) * 1000
        row.output = completion.text
        row.prompt_tokens = reply.usage.prompt_tokens
        row.completion_tokens = reply.usage.completion_tokens
        row.cost_usd = reply.cost_usd
        for name, score in scorers.items():
            row.scores[name] = await _score(score, example, completion.text)
        return row

    def _chat(self, messages: list[ChatMessage]) -> Callable[[Provider], Awaitable[Completion]]:
        async def call(provider: Provider) -> Completion:
            return await provider.chat(messages, self.params)

        return call


async def _score(score: Score, example: Example, output: str) -> float | None:
    value = score(example, output)
    if inspect.isawaitable(value):
        return await value
    return value


def aggregate(rows: list[RowResult], scorers: list[str]) -> dict[str, float]:
    """Mean score per scorer, error rate, latency, tokens and cost over a run."""
    answered = [r for r in rows if r.error is None]
    metrics: dict[str, float] = {
        "rows": float(len(rows)),
        "error_rate": (len(rows) - len(answered)) / len(rows) if rows else 0.0,
    }
    for name in scorers:
        values = [v for r in answered if (v := r.scores.get(name)) is not None]
        if values:
            metrics[f"{name}_mean"] = statistics.fmean(values)
    if answered:
        latencies = [r.latency_ms for r in answered]
        metrics["latency_ms_mean"] = statistics.fmean(latencies)
        metrics["latency_ms_p50"] = statistics.median(latencies)
    metrics["prompt_tokens"] = float(sum(r.prompt_tokens for r in rows))
    metrics["completion_tokens"] = float(sum(r.completion_tokens for r in rows))
    costs = [r.cost_usd for r in answered if r.cost_usd is not None]
    if costs:
        metrics["cost_usd"] = sum(costs)
    return metrics


def row_table(rows: list[RowResult]) -> dict[str, list[Any]]:
    """Rows as columns, for MLflow's table artifact."""
    scorers = sorted({name for r in rows for name in r.scores})
    table: dict[str, list[Any]] = {
        "id": [r.id for r in rows],
        "input": [r.question for r in rows],
        "expected": [r.expected for r in rows],
        "output": [r.output for r in rows],
        "error": [r.error for r in rows],
        "latency_ms": [round(r.latency_ms, 2) for r in rows],
        "prompt_tokens": [r.prompt_tokens for r in rows],
        "completion_tokens": [r.completion_tokens for r in rows],
        "cost_usd": [r.cost_usd for r in rows],
    }
    for name in scorers:
        table[f"score_{name}"] = [r.scores.get(name) for r in rows]
    return table
