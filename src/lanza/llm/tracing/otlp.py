"""OTLP/HTTP trace ingest at ``POST /otlp/v1/traces`` (JSON or protobuf, maybe gzipped).

OpenTelemetry GenAI attributes become lanza's fields: ``gen_ai.operation.name`` picks
the run type, ``gen_ai.request.model``/``gen_ai.response.model`` the model,
``gen_ai.usage.input_tokens``/``output_tokens`` the tokens, ``gen_ai.input.messages``/
``gen_ai.output.messages`` (or the older ``gen_ai.prompt``/``gen_ai.completion``) the
inputs and outputs. Other attributes and the resource's are kept as metadata.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.errors import InvalidInputError, UnsupportedMediaTypeError
from lanza.llm.tracing.bodies import load_json, read_body
from lanza.llm.tracing.records import SpanRecord
from lanza.llm.tracing.store import TraceStore

PROTOBUF = "application/x-protobuf"
_RUN_TYPES = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "chain",
    "create_agent": "chain",
}
_KINDS = {"llm", "chain", "tool", "retriever", "embedding", "prompt", "parser"}
_MAPPED = {
    *("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.response.model"),
    *("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens"),
    *("gen_ai.usage.completion_tokens", "gen_ai.input.messages", "gen_ai.output.messages"),
    *("gen_ai.prompt", "gen_ai.completion", "openinference.span.kind"),
}


def otlp_router(store: TraceStore) -> APIRouter:
    """``POST /otlp/v1/traces`` over one store."""
    router = APIRouter(prefix="/otlp", tags=["otlp"])

    @router.post("/v1/traces", dependencies=[Depends(require("predict"))])
    async def export(request: Request) -> Response:
        body = await read_body(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type == PROTOBUF:
            records = records_from_request(_decode_protobuf(body), ids="base64")
        elif content_type in ("application/json", ""):
            records = records_from_request(load_json(body, "OTLP request"), ids="hex")
        else:
            raise UnsupportedMediaTypeError(
                f"OTLP bodies are {PROTOBUF} or application/json, not '{content_type}'."
            )
        await run_in_threadpool(store.write, records)
        if content_type == PROTOBUF:
            return Response(_empty_protobuf_response(), media_type=PROTOBUF)
        return Response(b'{"partialSuccess":{}}', media_type="application/json")

    return router


def records_from_request(payload: Any, ids: str) -> list[SpanRecord]:
    """Span records from an ``ExportTraceServiceRequest`` as a dict (OTLP JSON field names)."""
    if not isinstance(payload, dict):
        raise InvalidInputError("An OTLP request is an object with 'resourceSpans'.")
    records = []
    for resource_spans in payload.get("resourceSpans") or []:
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for item in scope_spans.get("spans") or []:
                try:
                    records.append(_record(item, resource, ids))
                except (ValueError, TypeError, AttributeError) as exc:
                    raise InvalidInputError(f"An OTLP span cannot be read: {exc}") from exc
    return records


def _record(item: dict[str, Any], resource: dict[str, Any], ids: str) -> SpanRecord:
    attributes = _attributes(item.get("attributes"))
    span_id, trace_id = _id(item.get("spanId"), ids), _id(item.get("traceId"), ids)
    if not span_id or not trace_id:
        raise InvalidInputError("Every OTLP span needs a 'traceId' and a 'spanId'.")
    operation = str(attributes.get("gen_ai.operation.name", ""))
    kind = str(attributes.get("openinference.span.kind", "")).lower()
    metadata = {k: v for k, v in attributes.items() if k not in _MAPPED}
    if "service.name" in resource:
        metadata["service.name"] = resource["service.name"]
    prompt = attributes.get(
        "gen_ai.usage.input_tokens", attributes.get("gen_ai.usage.prompt_tokens")
    )
    completion = attributes.get(
        "gen_ai.usage.output_tokens", attributes.get("gen_ai.usage.completion_tokens")
    )
    inputs = attributes.get("gen_ai.input.messages", attributes.get("gen_ai.prompt"))
    outputs = attributes.get("gen_ai.output.messages", attributes.get("gen_ai.completion"))
    if operation:
        metadata["gen_ai.operation.name"] = operation
    return SpanRecord(
        id=span_id,
        trace_id=trace_id,
        parent_id=_id(item.get("parentSpanId"), ids) or None,
        name=str(item.get("name") or operation or "span"),
        run_type=_RUN_TYPES.get(operation, kind if kind in _KINDS else "chain"),
        start_time=_seconds(item.get("startTimeUnixNano")),
        end_time=_seconds(item.get("endTimeUnixNano")),
        inputs=None if inputs is None else {"messages": _maybe_json(inputs)},
        outputs=None if outputs is None else {"messages": _maybe_json(outputs)},
        error=_error(item),
        metadata=metadata,
        model=_text(
            attributes.get("gen_ai.response.model", attributes.get("gen_ai.request.model"))
        ),
        prompt_tokens=int(prompt) if prompt is not None else None,
        completion_tokens=int(completion) if completion is not None else None,
        source="otlp",
    )


def _attributes(items: Any) -> dict[str, Any]:
    return {a["key"]: _value(a.get("value") or {}) for a in items or [] if "key" in a}


def _value(value: dict[str, Any]) -> Any:
    """An OTLP ``AnyValue`` as a Python value."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values") or []]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _error(item: dict[str, Any]) -> str | None:
    status = item.get("status") or {}
    if status.get("code") not in (2, "STATUS_CODE_ERROR"):
        return None
    for event in item.get("events") or []:
        if event.get("name") == "exception":
            found = _attributes(event.get("attributes"))
            kind, message = found.get("exception.type", ""), found.get("exception.message", "")
            return f"{kind}: {message}".strip(": ") or "error"
    return str(status.get("message") or "error")


def _id(value: Any, ids: str) -> str:
    if not value:
        return ""
    if ids == "base64":
        return base64.b64decode(value).hex()
    return str(value).lower()


def _seconds(nanos: Any) -> float | None:
    return int(nanos) / 1e9 if nanos not in (None, "", 0, "0") else None


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _decode_protobuf(body: bytes) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidInputError(f"The OTLP protobuf body cannot be decoded: {exc}.") from exc
    decoded: dict[str, Any] = MessageToDict(message)
    return decoded


def _empty_protobuf_response() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    encoded: bytes = ExportTraceServiceResponse().SerializeToString()
    return encoded
