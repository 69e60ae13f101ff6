"""The one place where errors become HTTP responses, in the shape each face's clients expect.

Native routes answer ``{"error": {"code", "message"}}``; the MLflow scoring face answers
``{"error_code", "message"}``; the Open Inference Protocol answers ``{"error"}``; the
OpenAI face answers ``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lanza.errors import LanzaError, RateLimitedError

log = logging.getLogger("lanza.api")

Shape = Callable[[int, str, str], dict[str, Any]]

MLFLOW_CODES = {
    400: "BAD_REQUEST",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    422: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def native_shape(status: int, code: str, message: str) -> dict[str, Any]:
    """lanza's own shape."""
    return {"error": {"code": code, "message": message, "status": status}}


def mlflow_shape(status: int, code: str, message: str) -> dict[str, Any]:
    """What ``mlflow models serve`` answers."""
    return {"error_code": MLFLOW_CODES.get(status, "INTERNAL_ERROR"), "message": message}


def v2_shape(status: int, code: str, message: str) -> dict[str, Any]:
    """The Open Inference Protocol's error body."""
    return {"error": message}


def openai_shape(status: int, code: str, message: str) -> dict[str, Any]:
    """The OpenAI API's error body."""
    kind = OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


FACES: list[tuple[str, Shape]] = [
    ("/v2", v2_shape),
    ("/v1/", openai_shape),
    ("/invocations", mlflow_shape),
    ("/ping", mlflow_shape),
    ("/deployments/", mlflow_shape),
]


def shape_for(path: str) -> Shape:
    """The error shape of the face that owns ``path``."""
    for prefix, shape in FACES:
        if path.startswith(prefix):
            return shape
    return native_shape


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error in the face's shape."""
    body = shape_for(request.url.path)(status, code, message)
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map lanza's errors, FastAPI's validation errors and anything unexpected to JSON."""

    @app.exception_handler(LanzaError)
    async def _lanza(request: Request, exc: LanzaError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(getattr(exc, "retry_after", 1))}
        if exc.status_code >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        if exc.upstream is not None and shape_for(request.url.path) is openai_shape:
            # An OpenAI-compatible upstream's own error passes through as it was written.
            body = {"error": exc.upstream}
            return JSONResponse(body, status_code=exc.status_code, headers=headers)
        return error_response(request, exc.status_code, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, "validation_error", describe(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail) if exc.detail else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = f"There is no route {request.method} {request.url.path}."
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
        return error_response(
            request, exc.status_code, _code(exc.status_code), message, dict(exc.headers or {})
        )

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        # Connection refused, cut or timed out, or a locked file: the request can be retried.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            request,
            503,
            "database_unavailable",
            "lanza's database cannot be reached right now; nothing was stored. Try again.",
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request,
            500,
            "internal_error",
            f"The server failed unexpectedly ({exc.__class__.__name__}).",
        )


def describe(errors: Any) -> str:
    """FastAPI's validation errors as one sentence naming the field."""
    if not errors:
        return "The request is not valid."
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = str(first.get("msg", "is not valid"))
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    return f"Field '{where}': {message}." if where else f"The request body {message.lower()}."


def _code(status: int) -> str:
    return {
        400: "invalid_input",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")
