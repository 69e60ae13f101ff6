"""LangSmith's filter language and the trace headers a gateway call continues."""

from __future__ import annotations

import pytest

from lanza.errors import InvalidInputError
from lanza.llm.tracing.langsmith_filter import matches, parse
from lanza.llm.tracing.propagation import remote_parent

RUN = {
    "id": "11111111-1111-1111-1111-111111111111",
    "name": "generate",
    "run_type": "llm",
    "start_time": "2026-01-01T00:00:00+00:00",
    "end_time": "2026-01-01T00:00:03+00:00",
    "tags": ["beta"],
    "extra": {"metadata": {"user": "ana", "tier": "gold"}},
    "inputs": {"question": "Tides in Brest?"},
    "outputs": None,
    "error": None,
    "parent_run_id": None,
    "total_tokens": 22,
}
FEEDBACK = [{"key": "correctness", "score": 1.0, "value": None}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('eq(name, "generate")', True),
        ("eq(name, 'other')", False),
        ('neq(run_type, "chain")', True),
        ("and(gt(latency, 2), lt(latency, 4))", True),
        ("gte(total_tokens, 23)", False),
        ('or(has(tags, "alpha"), has(tags, "beta"))', True),
        ('not(has(tags, "beta"))', False),
        ('in(run_type, ["llm", "chain"])', True),
        ('search("brest")', True),
        ("eq(is_root, true)", True),
        ("eq(error, false)", True),
        ('gt(start_time, "2025-12-31T00:00:00Z")', True),
        ('and(eq(metadata_key, "user"), eq(metadata_value, "ana"))', True),
        ('and(eq(metadata_key, "user"), eq(metadata_value, "gold"))', False),
        ('and(eq(feedback_key, "correctness"), gte(feedback_score, 1))', True),
        ('and(eq(feedback_key, "helpfulness"), gte(feedback_score, 1))', False),
    ],
)
def test_filters_match_as_langsmith_reads_them(text: str, expected: bool) -> None:
    assert matches(parse(text), RUN, FEEDBACK) is expected


@pytest.mark.parametrize("text", ["eq(name", "eq(name, 'x') extra", "name", "eq(name, 'x'))"])
def test_unreadable_filters_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse(text)


def test_langsmith_headers_name_the_trace_parent_and_project() -> None:
    trace, parent = "0193d4b2-7c11-7000-8000-000000000001", "0193d4b2-7c11-7000-8000-000000000002"
    dotted = f"20260101T000000000000Z{trace}.20260101T000001000000Z{parent}"
    baggage = "langsmith-project=my%20app,langsmith-tags=a%2Cb,langsmith-metadata=%7B%22k%22%3A1%7D"
    found = remote_parent({"langsmith-trace": dotted, "baggage": baggage})
    assert found is not None
    assert (found.trace_id, found.parent_id, found.project) == (trace, parent, "my app")
    assert (found.tags, found.metadata) == (["a", "b"], {"k": 1})


def test_traceparent_names_the_trace_and_parent_span() -> None:
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    found = remote_parent({"traceparent": header})
    assert found is not None
    assert (found.trace_id, found.parent_id) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
    )
    assert remote_parent({"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"}) is None
    assert remote_parent({"langsmith-trace": "garbage"}) is None
