"""The gateway: one path from a deployment name to an answer, for every route and caller.

Per call it looks the deployment up (in memory: ``spec_cache.py``), takes a rate-limit
token, answers from the cache when allowed, calls the provider under a deadline with
retries and exponential backoff on 429/5xx/timeouts, falls back to another deployment
when all tries fail, prices the tokens and traces the whole call. The HTTP routes and
``lanza eval`` both use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lanza.errors import DeadlineExceededError, LanzaError
from lanza.llm.gateway.limits import ResponseCache
from lanza.llm.gateway.pool import ProviderPool
from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.spec_cache import SpecCache
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.providers.base import Completion, Delta, Embeddings, Provider, Usage
from lanza.security.limits import RateLimiter

log = logging.getLogger("lanza.llm")
T = TypeVar("T")
Call = Callable[[Provider], Awaitable[T]]
Opener = Callable[[Provider], AsyncIterator[Delta]]


@dataclass(frozen=True)
class Reply:
    """An answer and where it came from."""

    served_by: str
    model: str
    result: Any
    usage: Usage
    cost_usd: float | None = None
    cached: bool = False


class Gateway:
    """Deployments by name, with their policies, in front of the providers."""

    def __init__(
        self,
        store: LLMDeploymentStore,
        prices: PriceTable,
        retry_backoff_s: float = 0.5,
        cache_entries: int = 1024,
        spec_ttl_s: float = 0.0,
    ) -> None:
        self.store = store
        self.specs = SpecCache(store, spec_ttl_s)
        self.prices = prices
        self.retry_backoff_s = retry_backoff_s
        self.pool = ProviderPool()
        self.limiter = RateLimiter()
        self.cache = ResponseCache(cache_entries)

    async def close(self) -> None:
        """Release every loaded model and connection."""
        await self.pool.close()

    async def call(
        self, name: str, call: Call[Any], caller: str, cache_key: dict[str, Any] | None = None
    ) -> Reply:
        """Run ``call`` on a deployment's provider with every policy of the deployment."""
        return await self._call(name, call, caller, cache_key, visited=())

    async def _call(
        self,
        name: str,
        call: Call[Any],
        caller: str,
        cache_key: dict[str, Any] | None,
        visited: tuple[str, ...],
    ) -> Reply:
        spec = self.specs.get(name)
        self._admit(spec, caller)
        key = ResponseCache.key(name, "call", cache_key) if spec.cache and cache_key else None
        if key is not None and (hit := self.cache.get(key)) is not None:
            return Reply(hit.served_by, hit.model, hit.result, hit.usage, hit.cost_usd, True)
        try:
            result = await self._with_retries(spec, call)
        except LanzaError as exc:
            if not _falls_back(spec, exc, visited):
                raise
            assert spec.fallback is not None
            log.warning("'%s' failed (%s); falling back to '%s'", name, exc, spec.fallback)
            return await self._call(spec.fallback, call, caller, None, (*visited, name))
        usage = result.usage if isinstance(result, Completion | Embeddings) else Usage()
        reply = Reply(spec.name, spec.model, result, usage, self.cost(spec, usage))
        if key is not None:
            self.cache.put(key, reply)
        return reply

    async def stream(
        self, name: str, opener: Opener, caller: str
    ) -> tuple[str, AsyncIterator[Delta]]:
        """Open a stream; retries and fallback apply until the first piece arrives."""
        visited: tuple[str, ...] = ()
        while True:
            spec = self.specs.get(name)
            self._admit(spec, caller)
            try:
                first, rest = await self._open(spec, opener)
            except LanzaError as exc:
                if not _falls_back(spec, exc, visited):
                    raise
                assert spec.fallback is not None
                visited, name = (*visited, name), spec.fallback
                continue
            return spec.name, _chain(first, rest, spec.timeout_s)

    def cost(self, spec: LLMDeploymentSpec, usage: Usage) -> float | None:
        """USD for a call (local models are free)."""
        if spec.provider != "openai":
            return 0.0
        return self.prices.cost(spec.model, usage)

    def _admit(self, spec: LLMDeploymentSpec, caller: str) -> None:
        if spec.rate_limit_rpm:
            self.limiter.acquire(spec.name, caller, spec.rate_limit_rpm)

    async def _with_retries(self, spec: LLMDeploymentSpec, call: Call[T]) -> T:
        provider = await self.pool.get(spec)
        for attempt in range(spec.retries + 1):
            try:
                return await _deadline(call(provider), spec)
            except LanzaError as exc:
                if attempt == spec.retries or not _retryable(exc):
                    raise
                delay = self.retry_backoff_s * 2**attempt
                log.info(
                    "'%s' attempt %d failed (%s); retry in %.2fs",
                    spec.name,
                    attempt + 1,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _open(
        self, spec: LLMDeploymentSpec, opener: Opener
    ) -> tuple[Delta | None, AsyncIterator[Delta]]:
        async def first_piece(provider: Provider) -> tuple[Delta | None, AsyncIterator[Delta]]:
            pieces = aiter(opener(provider))
            try:
                return await anext(pieces), pieces
            except StopAsyncIteration:
                return None, pieces

        return await self._with_retries(spec, first_piece)


async def _deadline(awaitable: Awaitable[T], spec: LLMDeploymentSpec) -> T:
    try:
        return await asyncio.wait_for(awaitable, spec.timeout_s)
    except TimeoutError as exc:
        raise DeadlineExceededError(
            f"LLM deployment '{spec.name}' did not answer within {spec.timeout_s:g} s."
        ) from exc


async def _chain(
    first: Delta | None, rest: AsyncIterator[Delta], timeout_s: float
) -> AsyncIterator[Delta]:
    if first is None:
        return
    yield first
    while True:
        try:
            piece = await asyncio.wait_for(anext(rest), timeout_s)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise DeadlineExceededError(f"The stream stalled for {timeout_s:g} s.") from exc
        yield piece


def _retryable(exc: LanzaError) -> bool:
    return exc.status_code == 429 or exc.status_code >= 500


def _falls_back(spec: LLMDeploymentSpec, exc: LanzaError, visited: tuple[str, ...]) -> bool:
    return bool(spec.fallback) and _retryable(exc) and spec.fallback not in (*visited, spec.name)
