"""The trace routes over HTTP: the SDK's HTTP sink, reads, feedback, OTLP, keys and errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from lanza import tracing
from lanza.llm.tracing.mlflow_export import mlflow_trace_id
from lanza.llm.tracing.sinks import HttpSink
from lanza.security.keys import KeyStore
from tests.integration.tracing.conftest import Server, serve
from tests.servers import wait_for


def _traces(url: str, **params: object) -> list[dict[str, object]]:
    response = httpx.get(f"{url}/api/v1/traces", params=params)
    assert response.status_code == 200, response.text
    return response.json()["traces"]


def _traced_app(tracer: tracing.Tracer) -> None:
    @tracing.trace("rag", tracer=tracer)
    def rag(question: str) -> dict[str, str]:
        with tracer.span("search", "retriever", inputs={"q": question}) as search:
            search.set_outputs({"documents": ["doc-1"]})
        with tracer.span("generate", "llm", tags=["gpt"]) as generate:
            generate.set_usage(30, 10, model="tiny", cost_usd=0.0004)
        return {"answer": "42"}

    rag("meaning of life?")


def test_the_sdk_http_sink_lands_whole_trees_that_read_back(shared_server: Server) -> None:
    tracer = tracing.Tracer(HttpSink(shared_server.url))
    _traced_app(tracer)
    assert tracer.flush()
    tracer.close()
    assert tracer.stats.written == 3
    (summary,) = _traces(shared_server.url, name="rag")
    assert (summary["name"], summary["status"], summary["span_count"]) == ("rag", "success", 3)
    assert (summary["total_tokens"], summary["cost_usd"], summary["tags"]) == (40, 0.0004, ["gpt"])
    tree = httpx.get(f"{shared_server.url}/api/v1/traces/{summary['trace_id']}").json()
    (root,) = tree["spans"]
    assert root["outputs"] == {"answer": "42"}
    assert [c["run_type"] for c in root["children"]] == ["retriever", "llm"]
    assert _traces(shared_server.url, tag="gpt", min_tokens=40, status="success")
    assert not _traces(shared_server.url, min_latency_ms=60_000)

    feedback = {"key": "correct", "score": 1, "comment": "spot on", "correction": None}
    response = httpx.post(
        f"{shared_server.url}/api/v1/traces/{summary['trace_id']}/feedback", json=feedback
    )
    assert response.status_code == 201, response.text
    tree = httpx.get(f"{shared_server.url}/api/v1/traces/{summary['trace_id']}").json()
    assert tree["feedback"][0]["comment"] == "spot on"


def test_spans_opened_in_the_server_process_land_in_its_store(shared_server: Server) -> None:
    with tracing.span("chat gpt", run_type="llm") as span:  # what the gateway does per call
        span.set_usage(3, 4, model="tiny", cost_usd=0.5)
    assert tracing.get_tracer().flush()
    (summary,) = _traces(shared_server.url, name="chat gpt")
    assert (summary["total_tokens"], summary["cost_usd"]) == (7, 0.5)


def test_bad_requests_get_clear_errors(shared_server: Server) -> None:
    missing = httpx.get(f"{shared_server.url}/api/v1/traces/nope")
    assert missing.status_code == 404
    assert "no trace 'nope'" in missing.json()["error"]["message"]
    assert (
        httpx.get(f"{shared_server.url}/api/v1/traces", params={"status": "odd"}).status_code == 422
    )
    empty = httpx.post(f"{shared_server.url}/api/v1/traces/nope/feedback", json={"key": "k"})
    assert empty.status_code == 422
    bad = httpx.post(f"{shared_server.url}/api/v1/traces", json={"spans": [{"name": "no ids"}]})
    assert bad.status_code == 422
    otlp = httpx.post(
        f"{shared_server.url}/otlp/v1/traces", content=b"x", headers={"content-type": "text/plain"}
    )
    assert otlp.status_code == 415


def test_otlp_protobuf_from_the_opentelemetry_sdk_and_gzipped_json(shared_server: Server) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{shared_server.url}/otlp/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "chatbot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel = provider.get_tracer("test")
    with otel.start_as_current_span("invoke_agent bot") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        with otel.start_as_current_span("chat tiny") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "tiny")
            chat.set_attribute("gen_ai.usage.input_tokens", 21)
            chat.set_attribute("gen_ai.usage.output_tokens", 8)
    provider.shutdown()
    (summary,) = _traces(shared_server.url, name="invoke_agent")
    assert (summary["source"], summary["total_tokens"], summary["span_count"]) == ("otlp", 29, 2)
    tree = httpx.get(f"{shared_server.url}/api/v1/traces/{summary['trace_id']}").json()
    (root,) = tree["spans"]
    assert root["run_type"] == "chain"
    assert root["children"][0]["model"] == "tiny"
    assert root["children"][0]["metadata"]["service.name"] == "chatbot"

    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "embeddings mini",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000100000000",
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "embeddings"}}],
    }
    body = gzip.compress(
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    )
    response = httpx.post(
        f"{shared_server.url}/otlp/v1/traces",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    (embedded,) = _traces(shared_server.url, name="embeddings")
    assert embedded["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_ingest_needs_a_predict_key_once_keys_exist(server: Server) -> None:
    keys = KeyStore(server.workspace.database)
    _, reader_key = keys.create("dashboard", "read")
    _, writer_key = keys.create("app", "predict")
    body = {"spans": [{"id": "s", "trace_id": "t", "name": "x", "start_time": 1.0}]}
    # The guard re-reads keys in the background every two seconds: new keys apply shortly
    # (a read that stores nothing tells when).
    wait_for(lambda: httpx.get(f"{server.url}/api/v1/traces").status_code == 401, timeout=15)
    assert httpx.post(f"{server.url}/api/v1/traces", json=body).status_code == 401
    denied = httpx.post(
        f"{server.url}/api/v1/traces", json=body, headers={"authorization": f"Bearer {reader_key}"}
    )
    assert denied.status_code == 403
    tracer = tracing.Tracer(HttpSink(server.url, api_key=writer_key))
    with tracer.span("keyed"):
        pass
    tracer.flush()
    tracer.close()
    assert tracer.stats.written == 1
    listed = httpx.get(f"{server.url}/api/v1/traces", headers={"x-api-key": reader_key}).json()[
        "traces"
    ]
    assert [t["name"] for t in listed] == ["keyed"]


@pytest.fixture
def exporting_server(home: Path) -> Iterator[Server]:
    yield from serve(home, export_interval_s=0.2)


@pytest.mark.slow
def test_the_server_exports_settled_traces_to_mlflow(exporting_server: Server) -> None:
    tracer = tracing.Tracer(HttpSink(exporting_server.url))
    _traced_app(tracer)
    tracer.flush()
    tracer.close()
    (summary,) = _traces(exporting_server.url)
    client = exporting_server.workspace.mlflow
    experiment = client.get_experiment_by_name("lanza-traces")

    def exported() -> bool:
        found = client.get_experiment_by_name("lanza-traces")
        return found is not None and bool(client.search_traces(locations=[found.experiment_id]))

    wait_for(exported, timeout=30)
    experiment = client.get_experiment_by_name("lanza-traces")
    (trace,) = client.search_traces(locations=[experiment.experiment_id])
    assert trace.info.trace_id == mlflow_trace_id(str(summary["trace_id"]))
    assert {s.name for s in trace.data.spans} == {"rag", "search", "generate"}
