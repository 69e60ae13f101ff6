"""Per-key token-bucket rate limits, in memory, shared by every face that limits callers.

Each server worker keeps its own buckets: a limit of N requests per minute per key holds
per worker, which is what a single-process deployment needs and what a multi-worker one
can divide.
"""

from __future__ import annotations

import math
import threading
import time
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
