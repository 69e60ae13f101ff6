"""The unmodified ``langsmith`` SDK sending to lanza: ``@traceable``, nested runs, feedback."""

from __future__ import annotations

import httpx
import pytest
import zstandard
from langsmith import Client, traceable, tracing_context

from tests.integration.tracing.conftest import Server
from tests.servers import wait_for


@pytest.fixture
def langsmith_client(shared_server: Server, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"{shared_server.url}/langsmith")
    monkeypatch.setenv("LANGSMITH_API_KEY", "anything")
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    return Client(api_url=f"{shared_server.url}/langsmith", api_key="anything")


def _trace(url: str, name: str) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def landed() -> bool:
        traces = httpx.get(f"{url}/api/v1/traces", params={"name": name}).json()["traces"]
        done = [t for t in traces if t["status"] != "running"]
        found[:] = done
        return bool(done)

    wait_for(landed, timeout=30)
    return httpx.get(f"{url}/api/v1/traces/{found[0]['trace_id']}").json()


def test_traceable_runs_arrive_as_one_tree(shared_server: Server, langsmith_client: Client) -> None:
    @traceable(run_type="retriever", client=langsmith_client)
    def search(query: str) -> list[str]:
        return [f"doc about {query}"]

    @traceable(run_type="llm", client=langsmith_client, metadata={"ls_model_name": "tiny"})
    def generate(prompt: str) -> dict[str, object]:
        usage = {"input_tokens": 17, "output_tokens": 5, "total_tokens": 22}
        return {"text": "answer", "usage_metadata": usage}

    @traceable(name="rag pipeline", client=langsmith_client, tags=["ls-e2e"])
    def pipeline(question: str) -> str:
        documents = search(question)
        return str(generate(f"{question} {documents}")["text"])

    with tracing_context(enabled=True, client=langsmith_client):
        assert pipeline("tides") == "answer"
    langsmith_client.flush()
    found = _trace(shared_server.url, "rag pipeline")
    assert (found["status"], found["source"], found["span_count"]) == ("success", "langsmith", 3)
    assert found["total_tokens"] == 22
    assert "ls-e2e" in found["tags"]
    (root,) = found["spans"]
    assert root["inputs"] == {"question": "tides"}
    assert root["outputs"] == {"output": "answer"}
    children = {c["name"]: c for c in root["children"]}
    assert children["search"]["run_type"] == "retriever"
    assert children["generate"]["model"] == "tiny"
    assert children["search"]["latency_ms"] is not None

    run_id = root["id"]
    langsmith_client.create_feedback(run_id, key="helpful", score=1, comment="good")
    wait_for(lambda: _trace(shared_server.url, "rag pipeline")["feedback"], timeout=30)
    feedback = _trace(shared_server.url, "rag pipeline")["feedback"][0]
    assert (feedback["key"], feedback["score"], feedback["comment"]) == ("helpful", 1.0, "good")


def test_errors_are_recorded_on_the_run(shared_server: Server, langsmith_client: Client) -> None:
    @traceable(name="failing step", client=langsmith_client)
    def failing() -> None:
        raise ValueError("no tides today")

    with (
        tracing_context(enabled=True, client=langsmith_client),
        pytest.raises(ValueError, match="no tides"),
    ):
        failing()
    langsmith_client.flush()
    found = _trace(shared_server.url, "failing step")
    assert found["status"] == "error"
    assert "no tides today" in found["spans"][0]["error"]


def test_post_then_patch_and_batch_and_zstd_multipart_merge(shared_server: Server) -> None:
    base = f"{shared_server.url}/langsmith"
    info = httpx.get(f"{base}/info").json()
    assert info["batch_ingest_config"]["use_multipart_endpoint"] is True
    assert info["instance_flags"]["zstd_compression_enabled"] is True
    run = {
        "id": "r-1",
        "trace_id": "r-1",
        "name": "manual",
        "run_type": "chain",
        "start_time": "2026-01-01T00:00:00Z",
        "inputs": {"x": 1},
    }
    assert httpx.post(f"{base}/runs", json=run).status_code == 202
    patch = {"trace_id": "r-1", "end_time": "2026-01-01T00:00:02Z", "outputs": {"y": 2}}
    assert httpx.patch(f"{base}/runs/r-1", json=patch).status_code == 202
    child = {
        "id": "r-2",
        "trace_id": "r-1",
        "parent_run_id": "r-1",
        "name": "step",
        "start_time": "2026-01-01T00:00:01Z",
        "end_time": "2026-01-01T00:00:01.5Z",
    }
    assert httpx.post(f"{base}/runs/batch", json={"post": [child]}).status_code == 202
    found = httpx.get(f"{shared_server.url}/api/v1/traces/r-1").json()
    assert (found["status"], found["latency_ms"], found["span_count"]) == ("success", 2000.0, 2)
    assert found["spans"][0]["outputs"] == {"y": 2}

    body = (
        b'--b\r\nContent-Disposition: form-data; name="post.r-3"\r\n'
        b"Content-Type: application/json\r\n\r\n"
        b'{"id": "r-3", "trace_id": "r-3", "name": "zipped", "start_time": "2026-01-01T00:00:00Z"}'
        b'\r\n--b\r\nContent-Disposition: form-data; name="patch.r-3"\r\n\r\n'
        b'{"id": "r-3", "trace_id": "r-3", "end_time": "2026-01-01T00:00:00.5Z"}'
        b"\r\n--b--\r\n"
    )
    response = httpx.post(
        f"{base}/runs/multipart",
        content=zstandard.ZstdCompressor().compress(body),
        headers={"content-type": "multipart/form-data; boundary=b", "content-encoding": "zstd"},
    )
    assert response.status_code == 202, response.text
    zipped = httpx.get(f"{shared_server.url}/api/v1/traces/r-3").json()
    assert (zipped["status"], zipped["latency_ms"]) == ("success", 500.0)
    broken = httpx.post(f"{base}/runs", content=b"{not json")
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["error"]["message"]
