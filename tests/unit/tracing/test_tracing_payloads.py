"""Ingest payloads read without a server: compressed bodies, multipart, LangSmith runs, OTLP."""

from __future__ import annotations

import gzip
import json

import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

from lanza.errors import InvalidInputError, UnsupportedMediaTypeError
from lanza.llm.tracing.bodies import inflate, multipart
from lanza.llm.tracing.otlp import _decode_protobuf, records_from_request
from lanza.llm.tracing.runs import feedback_from_run_api, record_from_run


def _no_trace(run_id: str) -> str | None:
    return None


def test_bodies_inflate_from_gzip_and_zstd_and_refuse_the_rest() -> None:
    body = b'{"a": 1}' * 100
    assert inflate(gzip.compress(body), "gzip") == body
    assert inflate(zstandard.ZstdCompressor().compress(body), "zstd") == body
    assert inflate(body, None) == body
    with pytest.raises(InvalidInputError, match="cannot be decompressed"):
        inflate(b"not gzip", "gzip")
    with pytest.raises(UnsupportedMediaTypeError, match="br"):
        inflate(body, "br")


def test_multipart_parts_keep_names_types_and_bytes() -> None:
    body = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="post.1"\r\n'
        b"Content-Type: application/json\r\n\r\n"
        b'{"name": "a"}\r\n'
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="post.1.inputs"\r\n\r\n'
        b'{"q": "line\r\nbreak"}\r\n'
        b"--xyz--\r\n"
    )
    parts = multipart(body, 'multipart/form-data; boundary="xyz"')
    assert [p.name for p in parts] == ["post.1", "post.1.inputs"]
    assert parts[0].content_type == "application/json"
    assert parts[1].data == b'{"q": "line\r\nbreak"}'
    assert json.loads(parts[0].data) == {"name": "a"}
    with pytest.raises(UnsupportedMediaTypeError):
        multipart(body, "application/json")


def test_a_langsmith_post_maps_times_usage_model_and_metadata() -> None:
    run = {
        "id": "r1",
        "trace_id": "t1",
        "parent_run_id": "p1",
        "name": "ChatModel",
        "run_type": "llm",
        "start_time": "2026-01-01T00:00:00.000000Z",
        "end_time": "2026-01-01T00:00:01.500000+00:00",
        "inputs": {"messages": ["hi"]},
        "outputs": {"usage_metadata": {"input_tokens": 7, "output_tokens": 2, "total_cost": 0.5}},
        "extra": {"metadata": {"ls_model_name": "tiny-gpt"}},
        "session_name": "demo",
        "tags": ["a"],
    }
    record = record_from_run("post", run, _no_trace)
    assert (record.id, record.trace_id, record.parent_id) == ("r1", "t1", "p1")
    assert record.end_time - record.start_time == pytest.approx(1.5)
    assert (record.prompt_tokens, record.completion_tokens) == (7, 2)
    assert (record.model, record.cost_usd) == ("tiny-gpt", 0.5)
    assert record.metadata["project"] == "demo"
    assert record.source == "langsmith"


def test_a_langsmith_patch_sets_only_what_it_carries() -> None:
    record = record_from_run(
        "patch", {"id": "r1", "outputs": "plain", "error": "boom"}, lambda _: "t9"
    )
    assert record.trace_id == "t9"
    assert record.outputs == {"output": "plain"}
    assert record.model_fields_set == {"id", "source", "trace_id", "outputs", "error"}
    with pytest.raises(InvalidInputError, match="ISO 8601"):
        record_from_run("post", {"id": "r", "start_time": "yesterday"}, _no_trace)
    with pytest.raises(InvalidInputError, match="'id'"):
        record_from_run("post", {"name": "no id"}, _no_trace)


def test_langsmith_feedback_keeps_score_comment_and_correction() -> None:
    trace_id, feedback = feedback_from_run_api(
        {"run_id": "r1", "key": "helpful", "score": True, "correction": {"answer": "x"}}
    )
    assert trace_id is None
    assert (feedback.key, feedback.score, feedback.run_id) == ("helpful", 1.0, "r1")
    with pytest.raises(InvalidInputError, match="Feedback"):
        feedback_from_run_api({"run_id": "r1", "key": "empty"})


def _otlp_json() -> dict[str, object]:
    def attr(key: str, value: dict[str, object]) -> dict[str, object]:
        return {"key": key, "value": value}

    span = {
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "",
        "name": "chat tiny",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": [
            attr("gen_ai.operation.name", {"stringValue": "chat"}),
            attr("gen_ai.request.model", {"stringValue": "tiny"}),
            attr("gen_ai.usage.input_tokens", {"intValue": "11"}),
            attr("gen_ai.usage.output_tokens", {"intValue": "4"}),
            attr("gen_ai.input.messages", {"stringValue": '[{"role": "user"}]'}),
            attr("temperature", {"doubleValue": 0.2}),
        ],
        "status": {"code": 2, "message": "rate limited"},
    }
    resource = {"attributes": [attr("service.name", {"stringValue": "bot"})]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


def test_otlp_json_maps_the_gen_ai_attributes() -> None:
    (record,) = records_from_request(_otlp_json(), ids="hex")
    assert record.trace_id == "5b8efff798038103d269b633813fc60c"
    assert record.parent_id is None
    assert (record.run_type, record.model) == ("llm", "tiny")
    assert (record.prompt_tokens, record.completion_tokens) == (11, 4)
    assert record.inputs == {"messages": [{"role": "user"}]}
    assert record.end_time - record.start_time == pytest.approx(0.25)
    assert record.error == "rate limited"
    assert record.metadata["service.name"] == "bot"
    assert record.metadata["temperature"] == 0.2
    with pytest.raises(InvalidInputError, match="resourceSpans"):
        records_from_request([1, 2], ids="hex")


def test_otlp_protobuf_decodes_to_the_same_records() -> None:
    span = OtlpSpan(
        trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
        span_id=bytes.fromhex("eee19b7ec3c1b174"),
        parent_span_id=bytes.fromhex("00f067aa0ba902b7"),
        name="embed",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_100_000_000,
        attributes=[
            KeyValue(key="gen_ai.operation.name", value=AnyValue(string_value="embeddings")),
            KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(int_value=5)),
        ],
    )
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    )
    (record,) = records_from_request(_decode_protobuf(request.SerializeToString()), "base64")
    assert (record.id, record.parent_id) == ("eee19b7ec3c1b174", "00f067aa0ba902b7")
    assert (record.run_type, record.prompt_tokens) == ("embedding", 5)
    with pytest.raises(InvalidInputError, match="protobuf"):
        _decode_protobuf(b"\xff\xff\xff")
