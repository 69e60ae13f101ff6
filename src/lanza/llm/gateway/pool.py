"""Loaded providers, one per deployment, rebuilt when a deployment's spec changes."""

from __future__ import annotations

import asyncio
import logging

from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.providers.base import Provider
from lanza.llm.providers.factory import build_provider

log = logging.getLogger("lanza.llm")


class ProviderPool:
    """Builds and loads each deployment's provider on first use, and closes stale ones."""

    def __init__(self) -> None:
        self._providers: dict[str, tuple[str, Provider]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, spec: LLMDeploymentSpec) -> Provider:
        """The loaded provider for a spec (loading it once, even under concurrent calls)."""
        fingerprint = spec.fingerprint()
        current = self._providers.get(spec.name)
        if current is not None and current[0] == fingerprint:
            return current[1]
        async with self._locks.setdefault(spec.name, asyncio.Lock()):
            current = self._providers.get(spec.name)
            if current is not None and current[0] == fingerprint:
                return current[1]
            provider = build_provider(spec)
            await provider.load()
            self._providers[spec.name] = (fingerprint, provider)
        if current is not None:
            await _close(spec.name, current[1])
        return provider

    async def drop(self, name: str) -> None:
        """Close a deployment's provider (after a delete)."""
        current = self._providers.pop(name, None)
        if current is not None:
            await _close(name, current[1])

    async def close(self) -> None:
        """Close every provider."""
        for name in list(self._providers):
            await self.drop(name)


async def _close(name: str, provider: Provider) -> None:
    try:
        await provider.close()
    except Exception:  # a failing close must not fail the request that replaced it
        log.exception("closing the provider of '%s' failed", name)
