"""The gateway's in-memory deployment specs: one store read per interval, fresh after a change."""

from __future__ import annotations

import pytest

from lanza.errors import NotFoundError
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.spec_cache import SpecCache
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.workspace import Workspace


class CountingStore(LLMDeploymentStore):
    """The real store on sqlite, counting its reads."""

    reads = 0

    def get(self, name: str) -> LLMDeploymentSpec:
        self.reads += 1
        return super().get(name)


def _spec(model: str) -> LLMDeploymentSpec:
    return LLMDeploymentSpec(name="d", provider="openai", model=model, base_url="http://h/v1")


def test_specs_are_read_once_per_interval_and_forgotten_on_change(workspace: Workspace) -> None:
    now = [100.0]
    store = CountingStore(workspace.database)
    store.create(_spec("m1"))
    cache = SpecCache(store, ttl_s=5.0, clock=lambda: now[0])
    assert [cache.get("d").model for _ in range(10)] == ["m1"] * 10
    assert store.reads == 1

    LLMDeploymentStore(workspace.database).replace(_spec("m2"))  # another worker writes
    assert cache.get("d").model == "m1"
    now[0] += 5.0
    assert cache.get("d").model == "m2"
    assert store.reads == 2

    store.replace(_spec("m3"))
    cache.forget("d")
    assert cache.get("d").model == "m3"
    store.delete("d")
    cache.forget()
    with pytest.raises(NotFoundError):
        cache.get("d")
    store.create(_spec("m4"))
    assert cache.get("d").model == "m4"  # a miss is not remembered


def test_no_interval_reads_every_time(workspace: Workspace) -> None:
    store = CountingStore(workspace.database)
    store.create(_spec("m1"))
    cache = SpecCache(store, ttl_s=0.0)
    cache.get("d")
    cache.get("d")
    assert store.reads == 2
