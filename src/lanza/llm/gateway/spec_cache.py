"""LLM deployment specs held in memory, so a gateway call does not read the database.

A spec is re-read from the store once it is older than ``ttl_s`` (the server's
``poll_interval_s``, as deployments follow the store), so a change written by another
worker or the CLI shows within that interval; a change made through this process's
routes is seen at once (``forget``). A missing deployment is never cached: it reads the
store each time, so a new deployment answers as soon as it exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore


class SpecCache:
    """``get`` answers from memory for ``ttl_s`` seconds after each read of the store."""

    def __init__(
        self,
        store: LLMDeploymentStore,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._specs: dict[str, tuple[float, LLMDeploymentSpec]] = {}

    def get(self, name: str) -> LLMDeploymentSpec:
        """The deployment's spec; 404 (from the store) if it does not exist."""
        held = self._specs.get(name)
        now = self._clock()
        if held is not None and now - held[0] < self.ttl_s:
            return held[1]
        spec = self.store.get(name)
        if self.ttl_s > 0:
            self._specs[name] = (now, spec)
        return spec

    def forget(self, name: str | None = None) -> None:
        """Drop one spec (after this process changed or deleted it), or all of them."""
        if name is None:
            self._specs.clear()
        else:
            self._specs.pop(name, None)
