"""Span attributes in the GenAI, OpenInference and OpenLLMetry dialects, read as lanza's fields."""

from __future__ import annotations

import json

from lanza.llm.tracing.genai import read_genai


def test_events_lend_their_messages_to_the_span() -> None:
    prompt = [{"role": "user", "content": "hi"}]
    events = [
        {"name": "gen_ai.content.prompt", "attributes": {"gen_ai.prompt": json.dumps(prompt)}},
        {"name": "gen_ai.content.completion", "attributes": {"gen_ai.completion": "hello"}},
        {"name": "other", "attributes": {"gen_ai.request.model": "ignored"}},
    ]
    found = read_genai({"gen_ai.operation.name": "text_completion"}, events)
    assert (found.run_type, found.model) == ("llm", None)
    assert found.inputs == {"messages": prompt}
    assert found.outputs == {"messages": "hello"}


def test_current_inference_details_event() -> None:
    details = {
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": []}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": []}]),
    }
    events = [{"name": "gen_ai.client.inference.operation.details", "attributes": details}]
    found = read_genai({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, events)
    assert found.inputs == {"messages": [{"role": "user", "parts": []}]}
    assert found.outputs == {"messages": [{"role": "assistant", "parts": []}]}


def test_openinference_kinds_map_to_run_types() -> None:
    kinds = {
        "EMBEDDING": "embedding",
        "RERANKER": "retriever",
        "AGENT": "chain",
        "TOOL": "tool",
        "GUARDRAIL": "chain",
    }
    for kind, run_type in kinds.items():
        assert read_genai({"openinference.span.kind": kind}, []).run_type == run_type
    found = read_genai(
        {"openinference.span.kind": "EMBEDDING", "embedding.model_name": "minilm"}, []
    )
    assert found.model == "minilm"


def test_openllmetry_request_types_and_span_kinds() -> None:
    assert read_genai({"llm.request.type": "embedding"}, []).run_type == "embedding"
    assert read_genai({"llm.request.type": "completion"}, []).run_type == "llm"
    assert read_genai({"traceloop.span.kind": "tool"}, []).run_type == "tool"
    assert read_genai({"traceloop.span.kind": "task"}, []).run_type == "chain"
    assert read_genai({"http.method": "GET"}, []).run_type is None


def test_the_current_convention_wins_and_unread_attributes_stay() -> None:
    found = read_genai(
        {
            "gen_ai.usage.input_tokens": 3,
            "gen_ai.usage.prompt_tokens": 99,
            "llm.token_count.prompt": 98,
            "gen_ai.response.model": "gpt-4o-2024",
            "gen_ai.request.model": "gpt-4o",
            "user.id": "u1",
        },
        [],
    )
    assert (found.prompt_tokens, found.model) == (3, "gpt-4o-2024")
    assert found.metadata == {"user.id": "u1"}
