"""The Open Inference Protocol v2 REST face (KServe, Triton and MLServer clients).

Models are deployments; a version path segment must match the version that serves.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from lanza import __version__
from lanza.api.auth import identified, require
from lanza.api.routers.deps import request_id, serving
from lanza.errors import InvalidInputError, NotFoundError
from lanza.serving import v2
from lanza.serving.codecs import check_count
from lanza.serving.dataplane import InferenceRequest
from lanza.serving.live import LiveDeployment

V2_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _live(request: Request, name: str, version: str | None) -> LiveDeployment:
    live = serving(request).manager.get(name)
    if version is not None and live.status == "ready":
        served = {v.loaded.version.version for v in live.variants}
        if version not in served:
            raise NotFoundError(
                f"Model '{name}' does not serve version {version} "
                f"(it serves {', '.join(sorted(served))})."
            )
    return live


def _metadata(live: LiveDeployment) -> dict[str, Any]:
    variant = live.variants[0] if live.variants else None
    inputs = (
        []
        if variant is None
        else [
            {"name": c.name, "datatype": V2_TYPES.get(c.type, "BYTES"), "shape": [-1]}
            for c in variant.loaded.runtime.schema.columns
        ]
    )
    return {
        "name": live.spec.name,
        "versions": [v.loaded.version.version for v in live.variants],
        "platform": "lanza-"
        + (variant.loaded.runtime.__class__.__name__.lower() if variant else "loading"),
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
    }


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
        ok, _ = serving(request).manager.readiness()
        return _json({"ready": ok}, 200 if ok else 503)

    @api.get("/models/{name}", dependencies=[Depends(require("read"))])
    @api.get("/models/{name}/versions/{version}", dependencies=[Depends(require("read"))])
    async def model_metadata(name: str, request: Request, version: str | None = None) -> Response:
        return _json(_metadata(_live(request, name, version)))

    @api.get("/models/{name}/ready")
    @api.get("/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, request: Request, version: str | None = None) -> Response:
        # Open to probes; a caller without a valid key gets the same 503 for a name that
        # does not exist as for one that is not ready, so it cannot list deployments.
        try:
            ok = _live(request, name, version).status == "ready"
        except NotFoundError:
            if not await identified(request):
                return _json({"name": name, "ready": False}, 503)
            raise
        return _json({"name": name, "ready": ok}, 200 if ok else 503)

    @api.post("/models/{name}/infer", dependencies=[Depends(require("predict"))])
    @api.post("/models/{name}/versions/{version}/infer", dependencies=[Depends(require("predict"))])
    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        return await _infer(request, name, version)

    return api


async def _infer(request: Request, name: str, version: str | None) -> Response:
    component = serving(request)
    body = v2.decode_body(
        await request.body(), request.headers.get("inference-header-content-length")
    )
    live = _live(request, name, version)
    deployment = component.manager.serving(name)
    schema = deployment.variants[0].loaded.runtime.schema
    payload = v2.to_payload(body, schema)
    check_count(payload, request.app.state.settings.server.max_rows_per_request)
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object.")
    wanted = {o.get("name") for o in body.get("outputs") or [] if isinstance(o, dict)}
    probabilities = "predict_proba" in wanted or params.get("probabilities") is True
    result = await component.dataplane.infer(
        InferenceRequest(
            live.spec.name, payload, "v2", probabilities, str(body.get("id") or request_id(request))
        )
    )
    model_version = result.model.rsplit("/", 1)[-1]
    outputs = v2.encode_outputs(result.prediction, probabilities)
    if wanted:
        outputs = [o for o in outputs if o["name"] in wanted] or outputs
    return _json(
        {
            "model_name": name,
            "model_version": model_version,
            "id": result.request_id,
            "outputs": outputs,
        }
    )
