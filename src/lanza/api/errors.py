"""The one place where errors become HTTP responses, in the shape each face's clients expect.

Native routes answer ``{"error": {"code", "message", "status"}}``. A face whose clients
expect another shape declares it with ``face_errors`` where it installs its routes (the
MLflow scoring face, Open Inference v2, the OpenAI face), and every error on its paths,
from a route, the body limit or the router itself, answers in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lanza.errors import LanzaError, RateLimitedError

log = logging.getLogger("lanza.api")

Shape = Callable[[int, str, str], dict[str, Any]]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (routes are split by method, so the one
    Starlette matched first knows only its own)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


def native_shape(status: int, code: str, message: str) -> dict[str, Any]:
    """lanza's own shape."""
    return {"error": {"code": code, "message": message, "status": status}}


@dataclass(frozen=True)
class FaceErrors:
    """A face's error shape, for the paths under its ``prefixes``."""

    prefixes: tuple[str, ...]
    shape: Shape
    # An upstream's own error body (a proxied provider's) is answered as it was written.
    upstream_passes: bool = False


def face_errors(
    app: FastAPI, prefixes: tuple[str, ...], shape: Shape, upstream_passes: bool = False
) -> None:
    """Declare that errors on paths under ``prefixes`` answer in ``shape``.

    Each face calls this where it installs its routes, so the shape of an error is decided
    beside the routes it belongs to; paths no face claims answer in lanza's own shape.
    """
    faces: list[FaceErrors] = getattr(app.state, "face_errors", [])
    faces.append(FaceErrors(prefixes, shape, upstream_passes))
    # The longest prefix wins, whatever order the faces were installed in.
    faces.sort(key=lambda face: -max(len(p) for p in face.prefixes))
    app.state.face_errors = faces


def face_for(request: Request) -> FaceErrors | None:
    """The face that owns the request's path, if one declared it."""
    path = request.url.path
    faces: list[FaceErrors] = getattr(request.app.state, "face_errors", [])
    for face in faces:
        if path.startswith(face.prefixes):
            return face
    return None


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error in the face's shape."""
    face = face_for(request)
    body = (face.shape if face else native_shape)(status, code, message)
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
        face = face_for(request)
        if exc.upstream is not None and face is not None and face.upstream_passes:
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
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(request, exc.status_code, _code(exc.status_code), message, headers)

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
