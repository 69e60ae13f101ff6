"""The Vertex AI custom-container contract.

When ``AIP_HTTP_PORT`` is set, Vertex AI sends health checks to ``AIP_HEALTH_ROUTE``
(200 only when the model is ready) and ``{"instances", "parameters"}`` to
``AIP_PREDICT_ROUTE``, and expects ``{"predictions"}``. The deployment served is the
single one on the server, or ``LANZA_SERVE_DEPLOYMENT``.
"""

from __future__ import annotations

import os

import orjson
from fastapi import Depends, FastAPI, Request, Response

from lanza.api.auth import require
from lanza.serving.codecs import decode_vertex, parse_json, require_json
from lanza.serving.dataplane import InferenceRequest
from lanza.serving.faces.deps import request_id, serving

DEFAULT_HEALTH = "/vertex/health"
DEFAULT_PREDICT = "/vertex/predict"


def install(app: FastAPI) -> None:
    """Add the health and predict routes Vertex AI names (or lanza's defaults)."""
    health_route = os.environ.get("AIP_HEALTH_ROUTE", DEFAULT_HEALTH)
    predict_route = os.environ.get("AIP_PREDICT_ROUTE", DEFAULT_PREDICT)

    async def health(request: Request) -> Response:
        component = serving(request)
        name = component.default_deployment()
        component.dataplane.ready(name).check()  # 503 with the reason until it answers
        return Response(
            orjson.dumps({"status": "ready", "deployment": name}), media_type="application/json"
        )

    async def predict(request: Request) -> Response:
        require_json(request.headers.get("content-type"))
        component = serving(request)
        payload = decode_vertex(parse_json(await request.body()))
        result = await component.dataplane.infer(
            InferenceRequest(
                component.default_deployment(), payload, "vertex", False, request_id(request)
            )
        )
        return Response(
            orjson.dumps({"predictions": result.predictions, "deployedModelId": result.model}),
            media_type="application/json",
        )

    app.add_api_route(
        health_route, health, methods=["GET"], tags=["vertex ai"], summary="Vertex AI health check"
    )
    app.add_api_route(
        predict_route,
        predict,
        methods=["POST"],
        tags=["vertex ai"],
        summary="Vertex AI prediction",
        dependencies=[Depends(require("predict"))],
    )
