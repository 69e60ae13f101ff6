"""The Open Inference Protocol v2 REST face (KServe, Triton and MLServer clients).

Models are deployments; a version path segment must match the version that serves.
Requests may be gzip- or deflate-compressed and use the binary tensor extension; the
answer is compressed when ``Accept-Encoding`` asks, and binary when outputs ask for it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response

from lanza import __version__
from lanza.api.auth import identified, require
from lanza.api.errors import face_errors
from lanza.api.lean import lean
from lanza.errors import NotFoundError
from lanza.records import WARNINGS_HEADER
from lanza.serving import openinference as oip
from lanza.serving import v2
from lanza.serving.codecs import accepted_encoding, compress, decompress, parse_json
from lanza.serving.faces.deps import request_id, serving


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The Open Inference Protocol's error body."""
    return {"error": message}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def router() -> APIRouter:
    """v2 routes: server and model metadata, health, readiness and inference."""
    api = APIRouter(tags=["open inference protocol v2"])

    @api.get("", summary="Server metadata")
    async def server_metadata() -> Response:
        return _json({"name": "lanza", "version": __version__, "extensions": ["binary_tensor"]})

    @api.get("/health/live", summary="Server live")
    async def live() -> Response:
        return _json({"live": True})

    @api.get("/health/ready", summary="Server ready")
    async def ready(request: Request) -> Response:
        ok = serving(request).dataplane.server_ready().ready
        return _json({"ready": ok}, 200 if ok else 503)

    @api.get("/models/{name}", dependencies=[Depends(require("read"))])
    @api.get("/models/{name}/versions/{version}", dependencies=[Depends(require("read"))])
    async def model_metadata(name: str, request: Request, version: str | None = None) -> Response:
        return _json(oip.metadata(serving(request).dataplane.metadata(name, version)))

    @api.get("/models/{name}/config", dependencies=[Depends(require("read"))])
    @api.get("/models/{name}/versions/{version}/config", dependencies=[Depends(require("read"))])
    async def model_config(name: str, request: Request, version: str | None = None) -> Response:
        return _json(oip.config(serving(request).dataplane.metadata(name, version)))

    # A POST, so it takes a 'predict' key like every POST (reading needs no more over gRPC).
    @api.post("/repository/index", dependencies=[Depends(require("predict"))])
    async def repository_index(request: Request) -> Response:
        body = await request.body()
        ready = bool(body.strip()) and parse_json(body).get("ready") is True
        models = serving(request).dataplane.server_ready().models
        return _json(oip.repository(models, ready_only=ready))

    @api.get("/models/{name}/ready")
    @api.get("/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, request: Request, version: str | None = None) -> Response:
        # Open to probes; a caller without a valid key gets the same 503 for a name that
        # does not exist as for one that is not ready, so it cannot list deployments.
        try:
            ok = serving(request).dataplane.ready(name, version).ready
        except NotFoundError:
            if not await identified(request):
                return _json({"name": name, "ready": False}, 503)
            raise
        return _json({"name": name, "ready": ok}, 200 if ok else 503)

    @api.post("/models/{name}/infer", dependencies=[Depends(require("predict"))])
    @api.post("/models/{name}/versions/{version}/infer", dependencies=[Depends(require("predict"))])
    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        return await infer_route(request, name, version)

    return api


async def infer_route(request: Request, name: str, version: str | None = None) -> Response:
    """``POST /v2/models/{name}[/versions/{version}]/infer`` (also on the lean path)."""
    settings = request.app.state.settings.server
    raw = decompress(
        await request.body(), request.headers.get("content-encoding"), settings.max_body_bytes
    )
    body = v2.decode_body(raw, request.headers.get("inference-header-content-length"))
    call = oip.InferRequest.from_json(body, request_id(request))
    answer = await oip.infer(serving(request), name, version, call)
    document: dict[str, Any] = {
        "model_name": name,
        "model_version": answer.version,
        "id": answer.response.request_id,
        "outputs": answer.outputs,
    }
    flags = answer.response.warnings_json()
    if flags is not None:
        document["parameters"] = {"lanza_warnings": flags}
    content, headers = v2.encode_body(document, body)
    if flags is not None:
        headers[WARNINGS_HEADER] = flags
    encoding = accepted_encoding(request.headers.get("accept-encoding"))
    if encoding is not None:
        content = compress(content, encoding)
        headers["content-encoding"] = encoding
    kind = "application/json" if "inference-header-content-length" not in headers else None
    return Response(content, media_type=kind or "application/octet-stream", headers=headers)


def install(app: FastAPI) -> None:
    """Open Inference v2 over REST under ``/v2``, its error shape, infer on the lean path."""
    face_errors(app, ("/v2",), error_body)
    app.include_router(router(), prefix="/v2")
    lean(app, "/v2/models/{name}/infer", "predict", infer_route)
    lean(app, "/v2/models/{name}/versions/{version}/infer", "predict", infer_route)
