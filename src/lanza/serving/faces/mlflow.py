"""The MLflow scoring protocol, so clients of ``mlflow models serve`` work unchanged.

``POST /deployments/{name}/invocations`` (and ``/ping``, ``/health``, ``/version`` under the
same prefix, so a client given ``…/deployments/{name}`` as its base URL works) for any
deployment; ``POST /invocations``,
``GET /ping`` and ``GET /health`` when the server holds exactly one deployment (or
``LANZA_SERVE_DEPLOYMENT`` names it). Answers ``{"predictions": [...]}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response

from lanza.api.auth import require
from lanza.api.errors import face_errors
from lanza.api.lean import lean
from lanza.errors import InvalidInputError, UnavailableError
from lanza.records import WARNINGS_HEADER
from lanza.serving.codecs import decode_mlflow_request
from lanza.serving.dataplane import InferenceRequest
from lanza.serving.faces.deps import request_id, serving

# MLflow's error codes, as ``mlflow models serve`` answers them.
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
# The paths whose clients are MLflow's: ``/deployments/{name}/...`` is the per-deployment
# base URL a client of ``mlflow models serve`` is given.
PREFIXES = ("/invocations", "/ping", "/deployments/")


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """What ``mlflow models serve`` answers."""
    return {"error_code": MLFLOW_CODES.get(status, "INTERNAL_ERROR"), "message": message}


async def invoke_default(request: Request) -> Response:
    """``POST /invocations``: the server's one deployment (also on the lean path)."""
    return await invoke(request, serving(request).default_deployment())


async def invoke(request: Request, name: str) -> Response:
    """``POST /deployments/{name}/invocations`` (also answered on the lean path)."""
    component = serving(request)
    live = await component.manager.find(name)
    if not live.variants:  # on demand and not resident: its schema comes with its load
        live = await component.manager.resident(name)
    schema = live.variants[0].loaded.runtime.schema
    decoded = decode_mlflow_request(
        await request.body(), request.headers.get("content-type"), schema
    )
    params = decoded.params
    if params is not None and not isinstance(params, dict):
        if schema.params is not None:
            raise InvalidInputError("'params' must be an object of parameter names and values.")
        params = None  # ignored, as by a model without a params schema in MLflow
    result = await component.dataplane.infer(
        InferenceRequest(
            name, decoded.payload, "mlflow", False, request_id(request), params=params or None
        )
    )
    headers = {"x-request-id": result.request_id, "x-model": result.model}
    flags = result.warnings_json()
    if flags is not None:
        headers[WARNINGS_HEADER] = flags
    # The body stays what ``mlflow models serve`` answers; flags go in a header.
    return Response(
        orjson.dumps({"predictions": result.prediction.to_mlflow()}),
        media_type="application/json",
        headers=headers,
    )


def router() -> APIRouter:
    """MLflow scoring routes."""
    api = APIRouter(tags=["mlflow scoring"])

    @api.post(
        "/deployments/{name}/invocations",
        dependencies=[Depends(require("predict"))],
        summary="MLflow scoring protocol for one deployment",
    )
    async def invocations_for(name: str, request: Request) -> Response:
        return await invoke(request, name)

    @api.post(
        "/invocations",
        dependencies=[Depends(require("predict"))],
        summary="MLflow scoring protocol (single deployment)",
    )
    async def invocations(request: Request) -> Response:
        return await invoke_default(request)

    @api.get("/deployments/{name}/ping", summary="MLflow health check of one deployment")
    @api.get("/deployments/{name}/health", include_in_schema=False)
    async def ping_for(name: str, request: Request) -> Response:
        serving(request).dataplane.ready(name).check()
        return Response("\n", media_type="application/json")

    @api.get("/deployments/{name}/version", include_in_schema=False)
    async def version_for(name: str, request: Request) -> Response:
        from lanza import __version__

        serving(request).dataplane.ready(name)  # 404 for a deployment it does not hold
        return Response(__version__, media_type="text/plain")

    @api.get("/ping", summary="MLflow health check")
    @api.get("/health", summary="MLflow health check", include_in_schema=False)
    async def ping(request: Request) -> Response:
        component = serving(request)
        component.dataplane.ready(component.default_deployment()).check()
        return Response("\n", media_type="application/json")

    @api.get("/version", summary="Server version", include_in_schema=False)
    async def version() -> Response:
        from lanza import __version__

        return Response(__version__, media_type="text/plain")

    return api


__all__ = ["UnavailableError", "router"]


def install(app: FastAPI) -> None:
    """The MLflow scoring protocol's routes and error shape; invocations on the lean path."""
    app.include_router(router())
    face_errors(app, PREFIXES, error_body)
    lean(app, "/invocations", "predict", invoke_default)
    lean(app, "/deployments/{name}/invocations", "predict", invoke)
