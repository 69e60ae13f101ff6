"""LLM spans from OpenTelemetry instrumentations, read the way each one writes them.

Three dialects are understood; for each field the first one found wins.

============  ===========================================  ==============================
field         OpenTelemetry GenAI (current, then older)     OpenInference / OpenLLMetry
============  ===========================================  ==============================
run type      ``gen_ai.operation.name``                     ``openinference.span.kind``;
                                                            ``llm.request.type``,
                                                            ``traceloop.span.kind``
model         ``gen_ai.response.model``,                    ``llm.model_name``,
              ``gen_ai.request.model``                      ``embedding.model_name``
tokens        ``gen_ai.usage.input_tokens``/``output_``,    ``llm.token_count.prompt``/
              ``gen_ai.usage.prompt_tokens``/``completion_``  ``completion``
inputs        ``gen_ai.input.messages`` (+ system           ``input.value``,
              instructions), ``gen_ai.prompt``, events      ``llm.input_messages.N.*``;
                                                            ``gen_ai.prompt.N.*``,
                                                            ``traceloop.entity.input``
outputs       ``gen_ai.output.messages``,                   ``output.value``,
              ``gen_ai.completion``, events                 ``llm.output_messages.N.*``;
                                                            ``gen_ai.completion.N.*``,
                                                            ``traceloop.entity.output``
============  ===========================================  ==============================

Events (``gen_ai.client.inference.operation.details``, the older
``gen_ai.content.prompt``/``completion``) lend their attributes when the span has none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "chain",
    "create_agent": "chain",
    "rerank": "retriever",
}
_OPENINFERENCE = {
    "llm": "llm",
    "chain": "chain",
    "tool": "tool",
    "retriever": "retriever",
    "reranker": "retriever",
    "embedding": "embedding",
    "agent": "chain",
    "guardrail": "chain",
    "evaluator": "chain",
    "prompt": "prompt",
}
_TRACELOOP = {"workflow": "chain", "task": "chain", "agent": "chain", "tool": "tool"}
_FLAT = re.compile(
    r"^(llm\.input_messages|llm\.output_messages|gen_ai\.prompt|gen_ai\.completion)\.(\d+)\.(.+)$"
)
_EVENTS = (
    "gen_ai.client.inference.operation.details",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
)
_READ = {
    *("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.response.model"),
    *("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens"),
    *("gen_ai.usage.completion_tokens", "gen_ai.input.messages", "gen_ai.output.messages"),
    *("gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.completion"),
    *("openinference.span.kind", "llm.model_name", "embedding.model_name"),
    *("llm.token_count.prompt", "llm.token_count.completion", "llm.token_count.total"),
    *("input.value", "output.value", "input.mime_type", "output.mime_type"),
    *("llm.request.type", "traceloop.span.kind", "traceloop.entity.input"),
    *("traceloop.entity.output", "llm.usage.total_tokens"),
}


@dataclass
class GenAIFields:
    """What a span's attributes say about the LLM work it did."""

    run_type: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def read_genai(attributes: dict[str, Any], events: list[dict[str, Any]]) -> GenAIFields:
    """The fields of one span; attributes not read are kept as metadata."""
    found = dict(attributes)
    for event in events:
        if event.get("name") in _EVENTS:
            for key, value in (event.get("attributes") or {}).items():
                found.setdefault(key, value)
    flat = _flattened(found)
    operation = str(found.get("gen_ai.operation.name") or "")
    metadata = {k: v for k, v in attributes.items() if k not in _READ and not _FLAT.match(k)}
    if operation:
        metadata["gen_ai.operation.name"] = operation
    return GenAIFields(
        run_type=_run_type(found),
        model=_first_text(
            found,
            "gen_ai.response.model",
            "gen_ai.request.model",
            "llm.model_name",
            "embedding.model_name",
        ),
        prompt_tokens=_first_int(
            found,
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
        ),
        completion_tokens=_first_int(
            found,
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
        ),
        inputs=_inputs(found, flat),
        outputs=_outputs(found, flat),
        metadata=metadata,
    )


def _run_type(found: dict[str, Any]) -> str | None:
    operation = str(found.get("gen_ai.operation.name") or "").lower()
    if operation in _OPERATIONS:
        return _OPERATIONS[operation]
    kind = str(found.get("openinference.span.kind") or "").lower()
    if kind in _OPENINFERENCE:
        return _OPENINFERENCE[kind]
    request = str(found.get("llm.request.type") or "").lower()
    if request in _OPERATIONS:
        return _OPERATIONS[request]
    return _TRACELOOP.get(str(found.get("traceloop.span.kind") or "").lower())


def _inputs(found: dict[str, Any], flat: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    messages = found.get("gen_ai.input.messages", found.get("gen_ai.prompt"))
    if messages is not None:
        inputs = {"messages": _maybe_json(messages)}
        if "gen_ai.system_instructions" in found:
            inputs["system_instructions"] = _maybe_json(found["gen_ai.system_instructions"])
        return inputs
    for key in ("llm.input_messages", "gen_ai.prompt"):
        if key in flat:
            return {"messages": flat[key]}
    return _value(found, ("input.value", "traceloop.entity.input"), "input")


def _outputs(found: dict[str, Any], flat: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    messages = found.get("gen_ai.output.messages", found.get("gen_ai.completion"))
    if messages is not None:
        return {"messages": _maybe_json(messages)}
    for key in ("llm.output_messages", "gen_ai.completion"):
        if key in flat:
            return {"messages": flat[key]}
    return _value(found, ("output.value", "traceloop.entity.output"), "output")


def _value(found: dict[str, Any], keys: tuple[str, ...], name: str) -> dict[str, Any] | None:
    for key in keys:
        if key in found:
            value = _maybe_json(found[key])
            return value if isinstance(value, dict) else {name: value}
    return None


def _flattened(found: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``prefix.N.field = value`` attributes as lists of messages, by prefix."""
    grouped: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in found.items():
        match = _FLAT.match(key)
        if match is None:
            continue
        prefix, index, rest = match.group(1), int(match.group(2)), match.group(3)
        name = rest.removeprefix("message.")
        grouped.setdefault(prefix, {}).setdefault(index, {})[name] = value
    return {p: [items[i] for i in sorted(items)] for p, items in grouped.items()}


def _first_text(found: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if found.get(key) not in (None, ""):
            return str(found[key])
    return None


def _first_int(found: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        if found.get(key) is not None:
            try:
                return int(found[key])
            except (TypeError, ValueError):
                continue
    return None


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
