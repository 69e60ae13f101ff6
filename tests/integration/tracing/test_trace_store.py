"""The trace store on sqlite and Postgres: merges, summaries, filters, feedback, MLflow export."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from lanza import tracing
from lanza.errors import NotFoundError
from lanza.llm.tracing.mlflow_export import MlflowExporter, mlflow_trace_id
from lanza.llm.tracing.queries import FeedbackIn, TraceQuery, TraceReader
from lanza.llm.tracing.records import SpanRecord
from lanza.llm.tracing.sinks import StoreSink
from lanza.llm.tracing.store import TraceStore
from lanza.workspace import Workspace


def _record(span_id: str, trace_id: str, **fields: object) -> SpanRecord:
    return SpanRecord.model_validate({"id": span_id, "trace_id": trace_id, **fields})


@pytest.fixture
def store(any_workspace: Workspace) -> TraceStore:
    return TraceStore(any_workspace.database)


def test_a_post_and_its_patch_merge_into_one_span(store: TraceStore) -> None:
    now = time.time()
    store.write([_record("root", "t", name="agent", start_time=now, tags=["a"])])
    reader = TraceReader(store.database)
    assert reader.get("t")["status"] == "running"
    store.write(
        [
            _record(
                "child",
                "t",
                parent_id="root",
                name="llm",
                run_type="llm",
                start_time=now,
                end_time=now + 0.1,
                prompt_tokens=5,
                completion_tokens=2,
                cost_usd=0.01,
            ),
            _record(
                "root",
                "t",
                end_time=now + 0.5,
                outputs={"answer": 42},
                tags=["b"],
                metadata={"k": "v"},
            ),
        ]
    )
    found = reader.get("t")
    assert found["status"] == "success"
    assert found["latency_ms"] == pytest.approx(500, abs=1)
    assert (found["total_tokens"], found["cost_usd"], found["span_count"]) == (7, 0.01, 2)
    (root,) = found["spans"]
    assert (root["name"], root["outputs"], root["metadata"]) == (
        "agent",
        {"answer": 42},
        {"k": "v"},
    )
    assert root["tags"] == ["a", "b"]
    assert [c["name"] for c in root["children"]] == ["llm"]


def test_one_batch_may_carry_both_halves_of_a_run(store: TraceStore) -> None:
    store.write(
        [
            _record("r", "t2", name="job", start_time=1.0, inputs={"x": 1}),
            _record("r", "t2", end_time=2.0, error="ValueError: no"),
        ]
    )
    found = TraceReader(store.database).get("t2")
    assert found["status"] == "error"
    assert found["spans"][0]["inputs"] == {"x": 1}
    assert found["spans"][0]["error"] == "ValueError: no"


def test_lists_filter_and_page(store: TraceStore) -> None:
    base = time.time() - 100
    for n in range(6):
        store.write(
            [
                _record(
                    f"s{n}",
                    f"t{n}",
                    name=f"job-{n % 2}",
                    start_time=base + n,
                    end_time=base + n + n / 10,
                    error="x" if n == 5 else None,
                    tags=["even"] if n % 2 == 0 else [],
                    prompt_tokens=n,
                    completion_tokens=n,
                )
            ]
        )
    reader = TraceReader(store.database)

    def ids(**filters: object) -> list[str]:
        page = reader.list(TraceQuery.model_validate(filters))
        return [t["trace_id"] for t in page["traces"]]

    assert ids() == ["t5", "t4", "t3", "t2", "t1", "t0"]
    assert ids(name="job-1") == ["t5", "t3", "t1"]
    assert ids(status="error") == ["t5"]
    assert ids(tag="even") == ["t4", "t2", "t0"]
    assert ids(min_latency_ms=350) == ["t5", "t4"]
    assert ids(min_tokens=8) == ["t5", "t4"]
    since = datetime.fromtimestamp(base + 3.5, UTC)
    assert ids(start_after=since) == ["t5", "t4"]
    assert ids(start_before=since.replace(tzinfo=None) - timedelta(seconds=2)) == ["t1", "t0"]
    first = reader.list(TraceQuery(limit=4))
    assert first["next_offset"] == 4
    assert reader.list(TraceQuery(limit=4, offset=4))["next_offset"] is None


def test_feedback_needs_a_trace_and_content(store: TraceStore) -> None:
    store.write([_record("r", "t", name="q", start_time=1.0, end_time=2.0)])
    reader = TraceReader(store.database)
    stored = reader.add_feedback(
        "t", FeedbackIn(key="correct", score=0, comment="wrong city", correction={"city": "Lyon"})
    )
    assert stored["correction"] == {"city": "Lyon"}
    assert reader.get("t")["feedback"][0]["comment"] == "wrong city"
    with pytest.raises(NotFoundError, match="no trace 'nope'"):
        reader.add_feedback("nope", FeedbackIn(key="k", score=1))
    with pytest.raises(ValueError, match="needs a score"):
        FeedbackIn(key="k")


def test_the_local_sink_writes_sdk_spans_and_mlflow_shows_them(workspace: Workspace) -> None:
    tracer = tracing.Tracer(StoreSink(TraceStore(workspace.database)))

    @tracing.trace("answer", tracer=tracer)
    def answer(question: str) -> str:
        with tracer.span("llm", "llm") as span:
            span.set_usage(9, 3, model="tiny")
        return question[::-1]

    answer("abc")
    tracer.flush()
    tracer.close()
    (summary,) = TraceReader(workspace.database).list(TraceQuery())["traces"]
    exporter = MlflowExporter(
        workspace.database, lambda: workspace.mlflow, "traces-test", settle_s=0
    )
    assert exporter.export_once() == 1
    assert exporter.export_once() == 0
    exported = workspace.mlflow.get_trace(mlflow_trace_id(summary["trace_id"]))
    spans = {s.name: s for s in exported.data.spans}
    assert set(spans) == {"answer", "llm"}
    assert spans["llm"].parent_id == spans["answer"].span_id
    assert spans["answer"].outputs == {"output": "cba"}
    assert exported.info.token_usage["total_tokens"] == 12


def test_a_span_mlflow_cannot_store_is_skipped_and_later_traces_still_export(
    workspace: Workspace,
) -> None:
    """A time past 2262 (signed 64-bit nanoseconds) is refused at entry; one already stored
    (written before the bound) is skipped by the exporter, which goes on with the rest."""
    with pytest.raises(ValueError, match="less than or equal to 9223372036"):
        SpanRecord(id="x", trace_id="x", start_time=253402300000)
    store = TraceStore(workspace.database)
    now = time.time()
    poison = _record("p", "poison", start_time=now, end_time=now + 1).model_copy(
        update={"start_time": 253402300000.0, "end_time": 253402300001.0}
    )
    store.write([poison, _record("g", "good", start_time=now, end_time=now + 1)])
    exporter = MlflowExporter(
        workspace.database, lambda: workspace.mlflow, "traces-test", settle_s=0
    )
    assert exporter.export_once() == 2
    assert exporter.skipped == 1
    assert len(workspace.mlflow.get_trace(mlflow_trace_id("good")).data.spans) == 1
    store.write([_record("later", "later", start_time=now, end_time=now + 1)])
    assert exporter.export_once() == 1
    assert workspace.mlflow.get_trace(mlflow_trace_id("later")) is not None
