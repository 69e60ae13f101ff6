"""The OpenAPI document, made true to what the server answers.

FastAPI documents each route's success and, for routes with a body, its own 422 shape.
lanza answers errors in each face's shape (``lanza.api.errors``) from middleware and
dependencies FastAPI cannot see: a key check (401, 403, 429), the body limit (413), the
database (503), the deadline (504). Every operation therefore documents the errors any
request can meet, with the schema of the body it gets, and routes that answer other
media types (Prometheus text, CSV, HTML) say so.

Where one operation's answer names a thing other operations take (a created deployment's
name, an alert rule's id, a batch job's id), the document says so with OpenAPI ``links``,
so a client generator, or a stateful tester, can follow create → read → change → delete.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from lanza.records import WARNINGS_HEADER

ERRORS: dict[int, str] = {
    400: "The request is malformed (one sentence says what is wrong).",
    401: "An API key is needed, or the key is not valid.",
    403: "The key's role is too low for this route.",
    404: "No such route, deployment, model or record.",
    405: "The method is not allowed on this path (see the Allow header).",
    409: "The request conflicts with the current state.",
    413: "The body (or its decompressed form) is over the limit.",
    415: "The content type or encoding is not supported.",
    422: "The body or a parameter is not valid for this operation.",
    429: "Too many requests for this key (see Retry-After).",
    503: "Not available right now (loading, draining, or the database is away); retry.",
    504: "The model did not answer within the request deadline.",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "lanza's {error: {code, message, status}}, or the face's own error shape "
    "(MLflow, Open Inference v2, OpenAI).",
}
# Routes whose success is not JSON: (path, media type).
MEDIA: dict[str, str] = {"/metrics": "text/plain"}
# Prediction routes whose success may carry the rows' input flags in a header.
FLAGGED = ("/invocations", "/infer")
FLAGS_HEADER = {
    WARNINGS_HEADER: {
        "description": 'Flagged rows, as JSON {"flagged": n, "rows": {"index": [texts]}}; '
        "absent when no row is flagged.",
        "schema": {"type": "string"},
    }
}

DEPLOYMENT = "/api/v1/deployments/{name}"
LLM_DEPLOYMENT = "/api/v1/llm/deployments/{name}"
EVALUATOR = "/api/v1/evaluators/{name}"
QUEUE = "/api/v1/annotation-queues/{name}"
JOB = "/api/v1/batch-jobs/{job_id}"
FEEDBACK = "/langsmith/feedback/{feedback_id}"
BY_NAME = {"name": "$response.body#/name"}
# (source method, source path) -> [(target method, target path, parameters)]: the answer of
# the source names what the target's parameters take (runtime expressions, OpenAPI 3.1 §4.8.20).
LINKS: dict[tuple[str, str], list[tuple[str, str, dict[str, str]]]] = {
    ("post", "/api/v1/deployments"): [
        ("get", DEPLOYMENT, BY_NAME),
        ("put", DEPLOYMENT, BY_NAME),
        ("delete", DEPLOYMENT, BY_NAME),
        ("post", DEPLOYMENT + "/predict", BY_NAME),
        ("get", DEPLOYMENT + "/monitoring", BY_NAME),
        ("post", DEPLOYMENT + "/alerts", BY_NAME),
        ("get", DEPLOYMENT + "/alerts", BY_NAME),
        ("get", "/v2/models/{name}", BY_NAME),
        ("get", "/v2/models/{name}/ready", BY_NAME),
        ("get", "/deployments/{name}/ping", BY_NAME),
    ],
    ("put", DEPLOYMENT): [("get", DEPLOYMENT, BY_NAME), ("delete", DEPLOYMENT, BY_NAME)],
    ("post", DEPLOYMENT + "/alerts"): [
        (
            "delete",
            DEPLOYMENT + "/alerts/{rule_id}",
            {"name": "$response.body#/deployment", "rule_id": "$response.body#/id"},
        ),
        ("get", DEPLOYMENT + "/alerts", {"name": "$response.body#/deployment"}),
    ],
    ("post", "/api/v1/llm/deployments"): [
        ("get", LLM_DEPLOYMENT, BY_NAME),
        ("put", LLM_DEPLOYMENT, BY_NAME),
        ("delete", LLM_DEPLOYMENT, BY_NAME),
        ("get", "/v1/models/{name}", BY_NAME),
    ],
    ("put", "/api/v1/llm/budgets"): [("delete", "/api/v1/llm/budgets/{name}", BY_NAME)],
    ("post", "/api/v1/datasets"): [("get", "/api/v1/datasets/{name}", BY_NAME)],
    ("post", "/api/v1/evaluators"): [
        ("get", EVALUATOR, BY_NAME),
        ("put", EVALUATOR, BY_NAME),
        ("delete", EVALUATOR, BY_NAME),
        ("get", EVALUATOR + "/scores", BY_NAME),
        ("get", EVALUATOR + "/arms", BY_NAME),
    ],
    ("post", "/api/v1/annotation-queues"): [
        ("get", QUEUE + "/next", BY_NAME),
        ("get", QUEUE + "/agreement", BY_NAME),
        ("delete", QUEUE, BY_NAME),
    ],
    ("post", "/api/v1/batch-jobs"): [
        ("get", JOB, {"job_id": "$response.body#/id"}),
        ("delete", JOB, {"job_id": "$response.body#/id"}),
    ],
    ("post", "/langsmith/sessions"): [
        ("get", "/langsmith/sessions/{session_id}", {"session_id": "$response.body#/id"}),
    ],
    ("post", "/langsmith/feedback"): [
        ("get", FEEDBACK, {"feedback_id": "$response.body#/id"}),
        ("patch", FEEDBACK, {"feedback_id": "$response.body#/id"}),
        ("delete", FEEDBACK, {"feedback_id": "$response.body#/id"}),
    ],
}


def json_body(model: type[BaseModel], path_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """A route's ``requestBody`` documented from ``model``, for routes that parse their body
    by hand (for errors that name the field): the schema is self-contained (nested models
    inlined), and ``path_fields`` (the path names them) are not required in the body."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, definitions)
    if path_fields:
        required = [f for f in inlined.get("required", []) if f not in path_fields]
        inlined = {k: v for k, v in inlined.items() if k != "required"}
        if required:
            inlined["required"] = required
    return {"content": {"application/json": {"schema": inlined}}, "required": True}


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions) | rest
        return {k: _inline(v, definitions) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, definitions) for v in node]
    return node


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with every operation's errors and media types."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, text in ERRORS.items():
                responses[str(status)] = {"description": text, "content": error}
            responses["405"]["headers"] = {
                "Allow": {"description": "Methods this path takes.", "schema": {"type": "string"}}
            }
            if path.endswith(FLAGGED):
                responses["200"]["headers"] = FLAGS_HEADER
            if path in MEDIA:
                for code, answer in responses.items():
                    if code.startswith("2"):
                        answer["content"] = {MEDIA[path]: {"schema": {"type": "string"}}}
    _link(doc["paths"])
    app.openapi_schema = doc
    return doc


def _link(paths: dict[str, Any]) -> None:
    """Add ``LINKS`` to each source operation's success answer, by the targets' operationId.

    A link whose source or target is not served (a component turned off) is left out.
    """
    for (method, path), targets in LINKS.items():
        source = paths.get(path, {}).get(method)
        if source is None:
            continue
        success = next(code for code in sorted(source["responses"]) if code.startswith("2"))
        links = source["responses"][success].setdefault("links", {})
        for target_method, target_path, parameters in targets:
            target = paths.get(target_path, {}).get(target_method)
            if target is None:
                continue
            name = target["operationId"]
            links[name] = {
                "operationId": name,
                "parameters": parameters,
                "description": f"{target_method.upper()} {target_path} of what this answer names.",
            }


def install(app: FastAPI) -> None:
    """Serve ``document(app)`` as the app's OpenAPI document."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
