"""OTLP/HTTP trace ingest at ``POST /otlp/v1/traces`` (JSON or protobuf, maybe gzipped).

What an LLM span says (run type, model, tokens, inputs, outputs) is read in the
OpenTelemetry GenAI, OpenInference and OpenLLMetry dialects (``genai.py``); other
attributes and the resource's ``service.name`` are kept as metadata. The store prices a
span whose model is in the price table and whose tokens are known.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.errors import InvalidInputError, UnsupportedMediaTypeError
from lanza.llm.tracing.bodies import inflate, load_json
from lanza.llm.tracing.genai import read_genai
from lanza.llm.tracing.records import SpanRecord
from lanza.llm.tracing.store import TraceStore

PROTOBUF = "application/x-protobuf"


def otlp_router(store: TraceStore) -> APIRouter:
    """``POST /otlp/v1/traces`` over one store."""
    router = APIRouter(prefix="/otlp", tags=["otlp"])

    @router.post("/v1/traces", dependencies=[Depends(require("predict"))])
    async def export(request: Request) -> Response:
        body = inflate(await request.body(), request.headers.get("content-encoding"))
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
    events = [
        {"name": e.get("name"), "attributes": _attributes(e.get("attributes"))}
        for e in item.get("events") or []
    ]
    genai = read_genai(attributes, events)
    metadata = genai.metadata
    if "service.name" in resource:
        metadata["service.name"] = resource["service.name"]
    return SpanRecord(
        id=span_id,
        trace_id=trace_id,
        parent_id=_id(item.get("parentSpanId"), ids) or None,
        name=str(item.get("name") or metadata.get("gen_ai.operation.name") or "span"),
        run_type=genai.run_type or "chain",
        start_time=_seconds(item.get("startTimeUnixNano")),
        end_time=_seconds(item.get("endTimeUnixNano")),
        inputs=genai.inputs,
        outputs=genai.outputs,
        error=_error(item),
        metadata=metadata,
        model=genai.model,
        prompt_tokens=genai.prompt_tokens,
        completion_tokens=genai.completion_tokens,
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


def _decode_protobuf(body: bytes) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,unused-ignore]
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]
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
