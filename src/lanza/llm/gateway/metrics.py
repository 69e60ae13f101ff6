"""Prometheus series of the LLM gateway, per deployment, on a registry the app injects.

``deployment`` is the deployment that answered (after a fallback, the fallback) and,
for a call that failed, the one asked for. Tokens and cost count what providers
reported; time to first token is measured on streamed answers, from the request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

from lanza.errors import LanzaError
from lanza.llm.providers.base import Usage

LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15)


@dataclass
class CallRecord:
    """What one call reports to the metrics while it runs."""

    deployment: str
    operation: str
    started: float = field(default_factory=time.perf_counter)
    usage: Usage | None = None
    cost_usd: float | None = None
    first_token_s: float | None = None
    error: LanzaError | None = None

    def answered(
        self, served_by: str, usage: Usage, cost_usd: float | None, error: LanzaError | None = None
    ) -> None:
        """The deployment that answered, its tokens and cost, and a failure after the start."""
        self.deployment, self.usage, self.cost_usd, self.error = served_by, usage, cost_usd, error


class GatewayMetrics:
    """Requests, errors, tokens in and out, cost, latency and time to first token."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["deployment", "operation"]
        self.requests = Counter(
            "lanza_llm_requests", "LLM gateway calls.", [*labels, "status"], registry=registry
        )
        self.errors = Counter(
            "lanza_llm_errors",
            "LLM gateway calls that failed.",
            [*labels, "code"],
            registry=registry,
        )
        self.tokens = Counter(
            "lanza_llm_tokens",
            "Tokens read (input) and written (output) by providers.",
            ["deployment", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "lanza_llm_cost_usd",
            "USD spent, from the price table.",
            ["deployment"],
            registry=registry,
        )
        self.latency = Histogram(
            "lanza_llm_request_duration_seconds",
            "LLM gateway call duration (a stream: to its last event).",
            labels,
            buckets=LLM_BUCKETS,
            registry=registry,
        )
        self.first_token = Histogram(
            "lanza_llm_time_to_first_token_seconds",
            "Seconds from a streamed request to its first content.",
            ["deployment"],
            buckets=TTFT_BUCKETS,
            registry=registry,
        )

    @contextmanager
    def call(self, deployment: str, operation: str) -> Iterator[CallRecord]:
        """Time a call; an error raised in the block is counted and re-raised."""
        record = CallRecord(deployment, operation)
        try:
            yield record
        except LanzaError as exc:
            record.error = exc
            raise
        finally:
            self.observe(record)

    def observe(self, record: CallRecord) -> None:
        """Count a finished call (streams call this when their last event is sent)."""
        name, operation = record.deployment, record.operation
        status = "ok" if record.error is None else str(record.error.status_code)
        self.requests.labels(name, operation, status).inc()
        if record.error is not None:
            self.errors.labels(name, operation, record.error.code).inc()
        self.latency.labels(name, operation).observe(time.perf_counter() - record.started)
        if record.usage is not None:
            self.tokens.labels(name, "input").inc(record.usage.prompt_tokens)
            self.tokens.labels(name, "output").inc(record.usage.completion_tokens)
        if record.cost_usd:
            self.cost.labels(name).inc(record.cost_usd)
        if record.first_token_s is not None:
            self.first_token.labels(name).observe(record.first_token_s)
