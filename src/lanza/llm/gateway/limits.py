"""Per-key token-bucket rate limits and an exact-match response cache, both in memory.

Each server worker keeps its own buckets and cache: a limit of N requests per minute
per key holds per worker, which is what a single-process deployment needs and what a
multi-worker one can divide.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lanza.errors import RateLimitedError


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by (deployment, caller): ``rpm`` per minute, bursts up to ``rpm``."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def acquire(self, deployment: str, caller: str, rpm: int) -> None:
        """Take one token, or raise 429 with the seconds until one is back."""
        rate = rpm / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault((deployment, caller), _Bucket(float(rpm), now))
            bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = math.ceil((1.0 - bucket.tokens) / rate)
        error = RateLimitedError(
            f"Rate limit of {rpm} requests per minute reached for '{deployment}'; "
            f"retry in {wait} s."
        )
        error.retry_after = wait  # type: ignore[attr-defined]  # read by the error handler
        raise error


class ResponseCache:
    """Least-recently-used answers keyed by the exact request."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(deployment: str, route: str, request: dict[str, Any]) -> str:
        """A stable digest of the deployment, route and request body."""
        text = json.dumps([deployment, route, request], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        """The cached answer, if any."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        """Keep an answer, dropping the oldest past the limit."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
