"""Token buckets per caller and the exact-match response cache."""

from __future__ import annotations

import pytest

from lanza.errors import RateLimitedError
from lanza.llm.gateway.limits import ResponseCache
from lanza.security.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.acquire("d", "k", rpm=3)
    with pytest.raises(RateLimitedError) as limited:
        limiter.acquire("d", "k", rpm=3)
    assert limited.value.retry_after == 20  # type: ignore[attr-defined]  # one token per 20 s
    assert limited.value.status_code == 429
    limiter.acquire("d", "other-key", rpm=3)  # buckets are per caller
    clock.now += 20
    limiter.acquire("d", "k", rpm=3)
    with pytest.raises(RateLimitedError):
        limiter.acquire("d", "k", rpm=3)


def test_cache_keys_are_exact_and_old_entries_go() -> None:
    cache = ResponseCache(entries=2)
    first = ResponseCache.key("d", "chat", {"messages": [1], "temperature": 0})
    assert first == ResponseCache.key("d", "chat", {"temperature": 0, "messages": [1]})
    assert first != ResponseCache.key("d", "chat", {"messages": [2], "temperature": 0})
    assert first != ResponseCache.key("e", "chat", {"messages": [1], "temperature": 0})
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recently used
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
