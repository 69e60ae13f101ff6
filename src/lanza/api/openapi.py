"""The OpenAPI document, made true to what the server answers.

FastAPI documents each route's success and, for routes with a body, its own 422 shape.
lanza answers errors in each face's shape (``lanza.api.errors``) from middleware and
dependencies FastAPI cannot see: a key check (401, 403, 429), the body limit (413), the
database (503), the deadline (504). Every operation therefore documents the errors any
request can meet, with the schema of the body it gets, and routes that answer other
media types (Prometheus text, CSV, HTML) say so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

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
            if path in MEDIA:
                for code, answer in responses.items():
                    if code.startswith("2"):
                        answer["content"] = {MEDIA[path]: {"schema": {"type": "string"}}}
    app.openapi_schema = doc
    return doc


def install(app: FastAPI) -> None:
    """Serve ``document(app)`` as the app's OpenAPI document."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
