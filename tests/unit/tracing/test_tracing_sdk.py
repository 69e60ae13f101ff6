"""The SDK in the traced program: parents, payloads, errors, sampling, redaction, failures."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lanza import tracing
from lanza.llm.tracing.records import SpanRecord
from lanza.llm.tracing.sinks import HttpSink, StoreSink, sink_from


class MemorySink:
    """Keeps every batch in memory (the store and HTTP sinks are tested against the real thing)."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[SpanRecord] = []
        self.batches = 0
        self.fail = fail
        self.closed = False

    def write(self, records: list[SpanRecord]) -> None:
        if self.fail:
            raise ConnectionError("the sink is down")
        self.batches += 1
        self.records.extend(records)

    def close(self) -> None:
        self.closed = True

    def by_name(self) -> dict[str, SpanRecord]:
        return {r.name: r for r in self.records}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def tracer(sink: MemorySink) -> Iterator[tracing.Tracer]:
    made = tracing.Tracer(sink)
    yield made
    made.close()


def test_nested_spans_share_the_trace_and_point_at_their_parent(
    tracer: tracing.Tracer, sink: MemorySink
) -> None:
    with tracer.span("root", inputs={"q": "hi"}, tags=["prod"]) as root:
        assert tracing.current_span() is root
        with tracer.span("retrieve", "retriever") as child:
            child.set_outputs({"docs": ["a"]})
            with tracer.span("llm", "llm") as grandchild:
                grandchild.set_usage(12, 3, model="tiny", cost_usd=0.002)
        root.add_metadata({"user": "u1"})
    assert tracing.current_span() is None
    assert tracer.flush()
    spans = sink.by_name()
    assert {s.trace_id for s in spans.values()} == {root.id}
    assert spans["root"].parent_id is None
    assert spans["retrieve"].parent_id == root.id
    assert spans["llm"].parent_id == child.id
    assert spans["llm"].run_type == "llm"
    assert (spans["llm"].prompt_tokens, spans["llm"].completion_tokens) == (12, 3)
    assert (spans["llm"].model, spans["llm"].cost_usd) == ("tiny", 0.002)
    assert spans["root"].inputs == {"q": "hi"}
    assert spans["root"].tags == ["prod"]
    assert spans["root"].metadata == {"user": "u1"}
    assert spans["retrieve"].outputs == {"docs": ["a"]}
    assert spans["root"].end_time >= spans["llm"].end_time >= spans["llm"].start_time


def test_decorator_records_arguments_result_and_errors(
    tracer: tracing.Tracer, sink: MemorySink
) -> None:
    @tracing.trace(run_type="tool", tracer=tracer)
    def add(a: int, b: int = 2) -> int:
        return a + b

    @tracing.trace("explode", tracer=tracer)
    def explode(reason: str) -> None:
        raise RuntimeError(reason)

    assert add(1) == 3
    with pytest.raises(RuntimeError, match="boom"):
        explode("boom")
    tracer.flush()
    spans = sink.by_name()
    assert spans["test_decorator_records_arguments_result_and_errors.<locals>.add"].inputs == {
        "a": 1
    }
    assert spans["explode"].error == "RuntimeError: boom"
    assert spans["explode"].inputs == {"reason": "boom"}
    added = next(r for r in sink.records if r.run_type == "tool")
    assert added.outputs == {"output": 3}


def test_methods_leave_self_out_and_dicts_are_outputs(
    tracer: tracing.Tracer, sink: MemorySink
) -> None:
    class Chain:
        @tracing.trace("chain.run", tracer=tracer)
        def run(self, question: str) -> dict[str, Any]:
            return {"answer": question.upper()}

    assert Chain().run("why") == {"answer": "WHY"}
    tracer.flush()
    (span,) = sink.records
    assert span.inputs == {"question": "why"}
    assert span.outputs == {"answer": "WHY"}


def test_asyncio_tasks_get_their_own_parent(tracer: tracing.Tracer, sink: MemorySink) -> None:
    @tracing.trace("step", tracer=tracer)
    async def step(n: int) -> int:
        await asyncio.sleep(0.01)
        return n

    async def request(n: int) -> int:
        with tracer.span(f"request-{n}"):
            return sum(await asyncio.gather(step(n), step(n + 10)))

    async def main() -> list[int]:
        return await asyncio.gather(request(1), request(2))

    assert asyncio.run(main()) == [12, 14]
    tracer.flush()
    roots = {r.name: r for r in sink.records if r.parent_id is None}
    assert set(roots) == {"request-1", "request-2"}
    for root in roots.values():
        steps = [r for r in sink.records if r.parent_id == root.id]
        assert len(steps) == 2
        assert all(s.trace_id == root.trace_id for s in steps)


def test_threads_inherit_the_parent_through_a_copied_context(
    tracer: tracing.Tracer, sink: MemorySink
) -> None:
    with tracer.span("parent") as parent:
        context = contextvars.copy_context()
        inherited = threading.Thread(target=context.run, args=(_child, tracer, "inherited"))
        alone = threading.Thread(target=_child, args=(tracer, "alone"))
        for thread in (inherited, alone):
            thread.start()
            thread.join()
    tracer.flush()
    spans = sink.by_name()
    assert spans["inherited"].parent_id == parent.id
    assert spans["alone"].parent_id is None
    assert spans["alone"].trace_id != parent.trace_id


def _child(tracer: tracing.Tracer, name: str) -> None:
    with tracer.span(name, "tool"):
        pass


def test_sampling_keeps_or_drops_whole_traces(sink: MemorySink) -> None:
    tracer = tracing.Tracer(sink, sample_rate=0.5)
    for _ in range(200):
        with tracer.span("root"), tracer.span("child"):
            pass
    tracer.flush()
    tracer.close()
    roots = {r.id for r in sink.records if r.parent_id is None}
    children = [r for r in sink.records if r.parent_id is not None]
    assert 40 < len(roots) < 160
    assert len(children) == len(roots)
    assert all(c.parent_id in roots for c in children)


def test_a_zero_sample_rate_and_no_sink_record_nothing(sink: MemorySink) -> None:
    silent = tracing.Tracer(sink, sample_rate=0.0)
    with silent.span("root") as root, silent.span("child") as child:
        child.set_outputs({"secret": 1})
    silent.flush()
    assert sink.records == []
    assert not root.recording
    assert child is root
    idle = tracing.Tracer()
    with idle.span("root") as span:
        assert tracing.current_span() is None
        span.set_inputs({"x": 1})
    assert idle.flush()
    assert span.inputs is None
    with pytest.raises(ValueError, match="sample_rate"):
        tracing.Tracer(sink, sample_rate=1.5)


def test_redaction_runs_before_the_sink_and_a_failing_hook_drops_payloads(
    sink: MemorySink,
) -> None:
    def mask(payload: dict[str, Any]) -> dict[str, Any]:
        return {k: "***" if k == "email" else v for k, v in payload.items()}

    tracer = tracing.Tracer(sink, redact=mask)
    with tracer.span("signup", inputs={"email": "a@b.c", "plan": "pro"}):
        pass
    tracer.flush()
    assert sink.records[0].inputs == {"email": "***", "plan": "pro"}

    def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("oops")

    failing = tracing.Tracer(sink, redact=broken)
    with failing.span("leak", inputs={"email": "a@b.c"}):
        pass
    failing.flush()
    assert sink.by_name()["leak"].inputs == {"redaction_failed": True}
    assert failing.stats.redaction_failures == 1
    tracer.close()
    failing.close()


def test_a_failing_sink_never_reaches_the_application(caplog: pytest.LogCaptureFixture) -> None:
    broken = MemorySink(fail=True)
    tracer = tracing.Tracer(broken)

    @tracing.trace("work", tracer=tracer)
    def work() -> str:
        return "done"

    assert [work() for _ in range(5)] == ["done"] * 5
    assert tracer.flush()
    assert tracer.stats.failed_batches >= 1
    assert tracer.stats.dropped == 5
    assert tracer.stats.written == 0
    assert "writing" in caplog.text
    tracer.close()
    assert broken.closed


def test_a_full_queue_drops_and_counts_instead_of_growing(sink: MemorySink) -> None:
    tracer = tracing.Tracer(sink)
    assert tracer._worker is not None
    tracer._worker.max_queue = 0
    with tracer.span("dropped"):
        pass
    assert tracer.stats.dropped == 1
    tracer.close()


def test_configure_sets_the_process_tracer_and_reads_sink_names(
    sink: MemorySink,
) -> None:
    configured = tracing.configure(sink=sink)
    try:
        assert tracing.get_tracer() is configured
        with tracing.span("via-module") as span:
            span.add_tags(["x"])
        configured.flush()
        assert sink.by_name()["via-module"].tags == ["x"]
    finally:
        tracing.configure(sink=None)
    assert sink.closed
    http, local = sink_from("http://127.0.0.1:9"), sink_from("local")
    assert isinstance(http, HttpSink)
    assert isinstance(local, StoreSink)
    http.close()
    with pytest.raises(ValueError, match="sink must be"):
        sink_from("kafka://nowhere")
