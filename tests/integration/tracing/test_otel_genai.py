"""OpenTelemetry's SDK exporting LLM spans to lanza over OTLP/HTTP, in three dialects.

Spans written the way the OpenTelemetry GenAI conventions, OpenInference and
OpenLLMetry write them are read back with their run type, model, tokens, inputs,
outputs and cost; a gateway call carrying ``traceparent`` joins the caller's trace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Tracer

from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.server import create_app
from lanza.settings import LLMSettings, Settings
from lanza.workspace import Workspace
from tests.integration.llm.wire_upstream import WireUpstream
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow

PRICES = {"gpt-4o-mini": (0.15, 0.6), "gpt-4o": (2.5, 10.0), "claude-x": (3.0, 15.0)}


class Served(NamedTuple):
    """The lanza server and an OpenTelemetry tracer exporting to it."""

    url: str
    tracer: Tracer
    provider: TracerProvider


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """lanza (with a price table and a remote LLM deployment) and an OTLP exporter to it."""
    home = tmp_path_factory.mktemp("otel-home")
    prices = home / "prices.json"
    table = {name: {"input": i, "output": o} for name, (i, o) in PRICES.items()}
    prices.write_text(json.dumps({"models": table}))
    workspace = Workspace(Settings(home=home, llm=LLMSettings(prices_path=prices)))
    upstream = WireUpstream()
    with running(upstream.app()) as base:
        spec = {"name": "gpt", "provider": "openai", "base_url": base + "/v1", "model": "m"}
        LLMDeploymentStore(workspace.database).create(LLMDeploymentSpec.model_validate(spec))
        with running(create_app(workspace=workspace)) as url:
            provider = TracerProvider(resource=Resource.create({"service.name": "otel-app"}))
            exporter = OTLPSpanExporter(endpoint=f"{url}/otlp/v1/traces")
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            yield Served(url, provider.get_tracer("lanza-tests"), provider)
            provider.shutdown()
    workspace.close()


def _spans(url: str, trace_id: int, count: int) -> dict[str, dict[str, Any]]:
    """The stored spans of a trace, by name, once ``count`` have arrived."""
    found: dict[str, dict[str, Any]] = {}

    def arrived() -> bool:
        response = httpx.get(f"{url}/api/v1/traces/{trace_id:032x}")
        if response.status_code != 200:
            return False
        found.clear()
        stack = list(response.json()["spans"])
        while stack:
            span = stack.pop()
            found[span["name"]] = span
            stack.extend(span["children"])
        return len(found) >= count

    wait_for(arrived, timeout=30)
    return found


def _cost(model: str, prompt: int, completion: int) -> float:
    price_in, price_out = PRICES[model]
    return (prompt * price_in + completion * price_out) / 1e6


def test_current_genai_conventions(served: Served) -> None:
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Weather?"}]}]
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}]}]
    with served.tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        with served.tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.output_tokens": 300,
                    "gen_ai.input.messages": json.dumps(messages),
                    "gen_ai.output.messages": json.dumps(answer),
                    "gen_ai.system_instructions": json.dumps(
                        [{"type": "text", "content": "Be brief."}]
                    ),
                }
            )
        with served.tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
    spans = _spans(served.url, agent.get_span_context().trace_id, 3)
    chat = spans["chat gpt-4o-mini"]
    assert chat["run_type"] == "llm"
    assert chat["model"] == "gpt-4o-mini"
    assert (chat["prompt_tokens"], chat["completion_tokens"]) == (1200, 300)
    assert chat["inputs"]["messages"] == messages
    assert chat["inputs"]["system_instructions"][0]["content"] == "Be brief."
    assert chat["outputs"] == {"messages": answer}
    assert chat["cost_usd"] == pytest.approx(_cost("gpt-4o-mini", 1200, 300))
    assert chat["metadata"]["gen_ai.provider.name"] == "openai"
    assert chat["metadata"]["service.name"] == "otel-app"
    assert spans["invoke_agent planner"]["run_type"] == "chain"
    assert spans["execute_tool get_weather"]["run_type"] == "tool"


def test_openinference_attributes(served: Served) -> None:
    with served.tracer.start_as_current_span("ChatCompletion") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o",
                "llm.token_count.prompt": 40,
                "llm.token_count.completion": 8,
                "llm.token_count.total": 48,
                "input.value": json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
                "input.mime_type": "application/json",
                "output.value": "hello there",
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": "hi",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "hello there",
            }
        )
    with served.tracer.start_as_current_span("retrieve") as retriever:
        retriever.set_attributes({"openinference.span.kind": "RETRIEVER", "input.value": "tides"})
    chat = _spans(served.url, span.get_span_context().trace_id, 1)["ChatCompletion"]
    assert chat["run_type"] == "llm"
    assert chat["model"] == "gpt-4o"
    assert (chat["prompt_tokens"], chat["completion_tokens"]) == (40, 8)
    assert chat["inputs"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert chat["outputs"] == {"messages": [{"role": "assistant", "content": "hello there"}]}
    assert chat["cost_usd"] == pytest.approx(_cost("gpt-4o", 40, 8))
    assert not any(k.startswith("llm.") for k in chat["metadata"])
    found = _spans(served.url, retriever.get_span_context().trace_id, 1)["retrieve"]
    assert (found["run_type"], found["inputs"]) == ("retriever", {"input": "tides"})


def test_openllmetry_attributes(served: Served) -> None:
    with served.tracer.start_as_current_span("answer.workflow") as workflow:
        workflow.set_attributes(
            {
                "traceloop.span.kind": "workflow",
                "traceloop.entity.input": json.dumps({"question": "why?"}),
                "traceloop.entity.output": json.dumps("because"),
            }
        )
        with served.tracer.start_as_current_span("openai.chat") as span:
            span.set_attributes(
                {
                    "llm.request.type": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "claude-x",
                    "gen_ai.usage.prompt_tokens": 70,
                    "gen_ai.usage.completion_tokens": 30,
                    "llm.usage.total_tokens": 100,
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": "why?",
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": "because",
                    "gen_ai.completion.0.finish_reason": "stop",
                }
            )
    spans = _spans(served.url, workflow.get_span_context().trace_id, 2)
    chat = spans["openai.chat"]
    assert chat["run_type"] == "llm"
    assert chat["model"] == "claude-x"
    assert (chat["prompt_tokens"], chat["completion_tokens"]) == (70, 30)
    assert chat["inputs"] == {"messages": [{"role": "user", "content": "why?"}]}
    completion = {"role": "assistant", "content": "because", "finish_reason": "stop"}
    assert chat["outputs"] == {"messages": [completion]}
    assert chat["cost_usd"] == pytest.approx(_cost("claude-x", 70, 30))
    root = spans["answer.workflow"]
    assert root["run_type"] == "chain"
    assert (root["inputs"], root["outputs"]) == ({"question": "why?"}, {"output": "because"})


def test_unpriced_model_has_no_cost(served: Served) -> None:
    with served.tracer.start_as_current_span("chat local") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "some-unknown-model",
                "gen_ai.usage.input_tokens": 5,
                "gen_ai.usage.output_tokens": 5,
            }
        )
    chat = _spans(served.url, span.get_span_context().trace_id, 1)["chat local"]
    assert (chat["model"], chat["cost_usd"]) == ("some-unknown-model", None)


def test_gateway_call_joins_the_callers_trace(served: Served) -> None:
    with served.tracer.start_as_current_span("agent") as agent:
        headers: dict[str, str] = {}
        inject(headers)
        body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(f"{served.url}/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200
    context = agent.get_span_context()
    spans = _spans(served.url, context.trace_id, 2)
    assert spans["chat gpt"]["parent_id"] == f"{context.span_id:016x}"
    assert spans["agent"]["children"][0]["name"] == "chat gpt"
