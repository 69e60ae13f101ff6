"""Hostile bodies against every payload decoder, over one real server: 4xx with a message, no 5xx.

Hypothesis draws malformed, deeply nested, wrongly typed, non-finite and unicode bodies
for the MLflow forms, Open Inference v2 tensors, Vertex, OpenAI, LangSmith (JSON and
multipart) and OTLP (JSON and protobuf); every answer must be below 500, and every
refusal must name what is wrong. Body limits are walked over the route table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.reliability.conftest import FEATURES, deploy
from tests.reliability.test_route_keys import MUTATING
from tests.servers import running

pytestmark = pytest.mark.slow
LIMIT = 256 * 1024
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    # The same examples on every run, so CI is red only for a change.
    derandomize=True,
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.text(max_size=12), inner, max_size=6),
    ),
    max_leaves=40,
)
feature_rows = st.dictionaries(
    st.one_of(st.sampled_from(FEATURES), st.text(max_size=10)), scalars, max_size=6
)


def _encode(body: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity literals included."""
    return json.dumps(body, allow_nan=True).encode()


@pytest.fixture(scope="module")
def served(
    model_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, FastAPI]]:
    database = tmp_path_factory.mktemp("hostile") / "lanza.db"
    ws = Workspace(
        Settings(
            home=model_home,
            database_url=f"sqlite:///{database}",
            server=ServerSettings(poll_interval_s=0.3, max_body_bytes=LIMIT),
        )
    )
    app = create_app(workspace=ws)
    try:
        with running(app) as base:
            deploy(base)
            yield base, app
    finally:
        ws.close()


@pytest.fixture(scope="module")
def url(served: tuple[str, FastAPI]) -> str:
    return served[0]


def _check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text[:500]
    if answer.status_code >= 400:
        message = _message(answer)
        assert message, answer.text[:500]
        assert len(message) < 2000, answer.text[:500]


def _message(answer: httpx.Response) -> str:
    body = answer.json()
    error = body.get("error")
    if isinstance(error, dict):  # lanza's shape, and OpenAI's
        return str(error.get("message") or "")
    return str(error or body.get("detail") or body.get("message") or "")


def _post(url: str, path: str, content: bytes, content_type: str = "application/json") -> None:
    answer = httpx.post(url + path, content=content, headers={"content-type": content_type})
    assert answer.status_code < 500, (path, content[:300], answer.text[:300])
    _check(answer)


@FUZZ
@given(
    body=st.one_of(
        values,
        st.fixed_dictionaries({"dataframe_records": st.lists(feature_rows, max_size=4)}),
        st.fixed_dictionaries(
            {"dataframe_split": st.fixed_dictionaries({"columns": values, "data": values})}
        ),
        st.fixed_dictionaries({"instances": st.one_of(values, st.lists(feature_rows))}),
        st.fixed_dictionaries({"inputs": values}),
    )
)
def test_mlflow_forms_and_the_native_route(url: str, body: Any) -> None:
    _post(url, "/invocations", _encode(body))
    _post(url, "/api/v1/deployments/c/predict", _encode(body))


@FUZZ
@given(csv=st.text(max_size=300))
def test_mlflow_csv(url: str, csv: str) -> None:
    _post(url, "/invocations", csv.encode("utf-8", "surrogatepass"), "text/csv")


tensors = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(FEATURES), st.text(max_size=10)),
        "shape": st.one_of(st.lists(st.integers(-3, 2**40), max_size=4), values),
        "datatype": st.one_of(st.sampled_from(["FP32", "FP64", "INT64", "BYTES", "BOOL"]), values),
        "data": values,
    }
)


@FUZZ
@given(body=st.one_of(values, st.fixed_dictionaries({"inputs": st.lists(tensors, max_size=5)})))
def test_v2_tensors(url: str, body: Any) -> None:
    _post(url, "/v2/models/c/infer", _encode(body))


@FUZZ
@given(raw=st.binary(max_size=200), header=st.one_of(st.none(), st.text(max_size=8)))
def test_v2_binary_tensors(url: str, raw: bytes, header: str | None) -> None:
    headers = {"content-type": "application/octet-stream"}
    if header is not None and header.isascii() and header.isprintable():
        headers["inference-header-content-length"] = header
    _check(httpx.post(url + "/v2/models/c/infer", content=raw, headers=headers))


@FUZZ
@given(body=st.one_of(values, st.fixed_dictionaries({"instances": values, "parameters": values})))
def test_vertex(url: str, body: Any) -> None:
    _post(url, "/vertex/predict", _encode(body))


@FUZZ
@given(
    body=st.one_of(
        values,
        st.fixed_dictionaries(
            {"model": st.text(max_size=20), "messages": values, "temperature": numbers}
        ),
    )
)
def test_openai(url: str, body: Any) -> None:
    _post(url, "/v1/chat/completions", _encode(body))
    _post(url, "/v1/embeddings", _encode(body))


runs = st.fixed_dictionaries(
    {"id": st.one_of(st.uuids().map(str), values), "trace_id": values, "start_time": values},
    optional={"inputs": values, "extra": values, "dotted_order": values},
)


@FUZZ
@given(body=st.one_of(values, st.fixed_dictionaries({"post": st.lists(runs, max_size=3)})))
def test_langsmith_json(url: str, body: Any) -> None:
    _post(url, "/langsmith/runs/batch", _encode(body))
    _post(url, "/langsmith/runs", _encode(body))


@FUZZ
@given(
    parts=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(["post.r1", "patch.r1", "post.r2.inputs"]),
                st.text(min_size=1, max_size=20),
            ),
            st.one_of(values.map(_encode), st.binary(max_size=60)),
        ),
        max_size=4,
    ),
    boundary=st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=20),
)
def test_langsmith_multipart(url: str, parts: list[tuple[str, bytes]], boundary: str) -> None:
    body = (
        b"".join(
            b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (boundary.encode(), name.encode("utf-8", "surrogatepass"), data)
            for name, data in parts
        )
        + b"--%s--\r\n" % boundary.encode()
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    _post(url, "/langsmith/runs/multipart", body, content_type)


spans = st.fixed_dictionaries(
    {
        "traceId": st.one_of(st.text(st.sampled_from("0123456789abcdef"), max_size=32), values),
        "spanId": st.one_of(st.text(st.sampled_from("0123456789abcdef"), max_size=16), values),
        "startTimeUnixNano": st.one_of(numbers, st.text(max_size=25)),
        "attributes": values,
    }
)


@FUZZ
@given(
    body=st.one_of(
        values,
        st.fixed_dictionaries(
            {
                "resourceSpans": st.lists(
                    st.fixed_dictionaries(
                        {
                            "scopeSpans": st.lists(
                                st.fixed_dictionaries({"spans": st.lists(spans, max_size=3)}),
                                max_size=2,
                            )
                        }
                    ),
                    max_size=2,
                )
            }
        ),
    )
)
def test_otlp_json(url: str, body: Any) -> None:
    _post(url, "/otlp/v1/traces", _encode(body))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_otlp_protobuf(url: str, raw: bytes) -> None:
    _post(url, "/otlp/v1/traces", raw, "application/x-protobuf")


@pytest.mark.parametrize(
    "path",
    ["/invocations", "/v2/models/c/infer", "/vertex/predict", "/otlp/v1/traces", "/langsmith/runs"],
)
def test_deep_nesting_and_broken_json_are_refused(url: str, path: str) -> None:
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a": [1, 2', b"\xff\xfe", b'{"x": NaN}'):
        _post(url, path, body)


def test_every_route_refuses_a_body_over_the_limit(served: tuple[str, FastAPI]) -> None:
    """Declared (Content-Length) and streamed (chunked) bodies alike, route by route."""
    url, app = served
    oversized = b"[" + b"1," * LIMIT + b"1]"
    routes = {
        (method, str(context.path))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.original_route.methods & MUTATING
    }
    with httpx.Client(base_url=url, timeout=30) as http:
        for method, path in sorted(routes):
            concrete = path.replace("{", "").replace("}", "")
            declared = http.request(method, concrete, content=oversized)
            assert declared.status_code == 413, (method, path, declared.status_code)
            assert "limit" in _message(declared)
            streamed = http.request(method, concrete, content=iter([oversized]))
            assert 400 <= streamed.status_code < 500, (method, path, streamed.status_code)
