"""The gateway's policies on a real store: retries, fallback cycles, limits and cost."""

from __future__ import annotations

import asyncio

import pytest

from lanza.errors import ProviderError, RateLimitedError
from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.gateway.service import Gateway
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore, parse_spec
from lanza.llm.providers.base import ChatMessage, Completion, GenerationParams, Provider, Usage
from lanza.workspace import Workspace

CLOSED = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, connections fail at once


def _spec(name: str, **fields: object) -> LLMDeploymentSpec:
    return parse_spec(
        {"name": name, "provider": "openai", "model": "m", "base_url": CLOSED, **fields}
    )


async def _chat(provider: Provider) -> Completion:
    return await provider.chat([ChatMessage(role="user", content="hi")], GenerationParams())


def test_fallback_cycle_ends_with_the_last_error(workspace: Workspace) -> None:
    store = LLMDeploymentStore(workspace.database)
    store.create(_spec("a", retries=1))
    store.create(_spec("b", retries=0, fallback="a"))
    store.replace(_spec("a", retries=1, fallback="b"))
    gateway = Gateway(store, PriceTable.load(), retry_backoff_s=0.0)

    async def run() -> None:
        try:
            with pytest.raises(ProviderError) as failed:
                await gateway.call("a", _chat, caller="t")
            assert failed.value.status_code == 502
            assert "cannot be reached" in failed.value.message
        finally:
            await gateway.close()

    asyncio.run(run())


def test_rate_limit_comes_before_the_provider(workspace: Workspace) -> None:
    store = LLMDeploymentStore(workspace.database)
    store.create(_spec("r", rate_limit_rpm=1, retries=0))
    gateway = Gateway(store, PriceTable.load(), retry_backoff_s=0.0)

    async def run() -> None:
        with pytest.raises(ProviderError):
            await gateway.call("r", _chat, caller="t")
        with pytest.raises(RateLimitedError):
            await gateway.call("r", _chat, caller="t")
        await gateway.close()

    asyncio.run(run())


def test_cost_is_zero_for_local_models_and_priced_for_remote(workspace: Workspace) -> None:
    gateway = Gateway(LLMDeploymentStore(workspace.database), PriceTable.load())
    local = LLMDeploymentSpec(name="l", provider="local-transformers", model="/x")
    remote = LLMDeploymentSpec(name="r", provider="openai", model="gpt-4o", base_url=CLOSED)
    assert gateway.cost(local, Usage(10, 10)) == 0.0
    assert gateway.cost(remote, Usage(1_000_000, 0)) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "openai", "model": "m"}, "needs a base_url"),
        ({"provider": "local-transformers", "model": ""}, "'model'"),
        ({"provider": "local-transformers", "model": "x", "fallback": "n"}, "fall back to itself"),
        ({"provider": "local-transformers", "model": "x", "retries": -1}, "'retries'"),
        ({"provider": "local-transformers", "model": "x", "extra": 1}, "'extra'"),
    ],
)
def test_bad_specs_are_one_sentence(fields: dict[str, object], message: str) -> None:
    from lanza.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=message):
        parse_spec({"name": "n", **fields})
    with pytest.raises(InvalidInputError, match="'name'"):
        parse_spec({"name": "bad name", "provider": "local-transformers", "model": "x"})
