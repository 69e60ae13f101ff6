"""lanza's own API under ``/api/v1``: deployments, predictions, models and aliases.

==========  ==============================================  ========
method      path                                            role
==========  ==============================================  ========
GET         /deployments                                    read
POST        /deployments                                    admin
GET         /deployments/{name}                             read
PUT         /deployments/{name}                             admin
DELETE      /deployments/{name}                             admin
POST        /deployments/{name}/predict                     predict
GET         /models                                         read
GET         /models/{name}                                  read
PUT         /models/{name}/aliases/{alias}                  admin
==========  ==============================================  ========
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field

from lanza.api.auth import require
from lanza.api.lean import lean
from lanza.errors import NotFoundError
from lanza.serving.codecs import decode_mlflow_json, parse_json, require_json
from lanza.serving.dataplane import InferenceRequest
from lanza.serving.faces.deps import request_id, serving
from lanza.serving.live import LiveDeployment
from lanza.serving.spec import DeploymentSpec, DeploymentUpdate
from lanza.serving.store import StoredDeployment
from lanza.workspace import Workspace

if TYPE_CHECKING:
    from lanza.serving.component import ServingComponent

JSON = "application/json"


def _json(body: Any, status: int = 200) -> Response:
    import orjson

    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type=JSON)


def _describe(
    stored: StoredDeployment, live: LiveDeployment | None, component: ServingComponent
) -> dict[str, Any]:
    state: dict[str, Any] = (
        component.manager.describe(live)
        if live is not None
        else {"name": stored.spec.name, "status": "pending", "serving": [], "error": None}
    )
    # Whether it answers, as every face reports it (on demand and not resident: it does).
    ready = False
    if live is not None:
        with contextlib.suppress(NotFoundError):  # deleted meanwhile
            ready = component.dataplane.ready(stored.spec.name).ready
    return {
        **state,
        "ready": ready,
        "spec": stored.spec.model_dump(),
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }


class PredictBody(BaseModel):
    """A prediction request (one of the row forms), for the OpenAPI document."""

    instances: list[Any] | None = Field(None, description="Rows: objects or arrays.")
    dataframe_split: dict[str, Any] | None = Field(None, description="{columns, data}.")
    dataframe_records: list[dict[str, Any]] | None = None
    inputs: Any | None = None
    probabilities: bool = Field(False, description="Add class probabilities.")


def deployments_router() -> APIRouter:
    """Deployments CRUD and the native predict route."""
    router = APIRouter(prefix="/deployments", tags=["deployments"])

    @router.get("", dependencies=[Depends(require("read"))], summary="List deployments")
    async def list_deployments(request: Request) -> Response:
        component = serving(request)
        stored = await asyncio.to_thread(component.store.list)
        live = {d.spec.name: d for d in component.manager.all()}
        return _json([_describe(s, live.get(s.spec.name), component) for s in stored])

    @router.post(
        "",
        status_code=201,
        dependencies=[Depends(require("admin"))],
        summary="Create a deployment (409 if it exists)",
    )
    async def create(spec: DeploymentSpec, request: Request) -> Response:
        component = serving(request)
        live = await component.manager.create(spec)
        stored = await asyncio.to_thread(component.store.get, spec.name)
        return _json(_describe(stored, live, component), 201)

    @router.get("/{name}", dependencies=[Depends(require("read"))], summary="Read a deployment")
    async def read(name: str, request: Request) -> Response:
        component = serving(request)
        stored = await asyncio.to_thread(component.store.get, name)
        live = {d.spec.name: d for d in component.manager.all()}.get(name)
        return _json(_describe(stored, live, component))

    @router.put(
        "/{name}",
        dependencies=[Depends(require("admin"))],
        summary="Update a deployment (swaps with no downtime)",
    )
    async def update(name: str, change: DeploymentUpdate, request: Request) -> Response:
        component = serving(request)
        live = await component.manager.update(name, change)
        stored = await asyncio.to_thread(component.store.get, name)
        return _json(_describe(stored, live, component))

    @router.delete(
        "/{name}",
        status_code=204,
        dependencies=[Depends(require("admin"))],
        summary="Delete a deployment and unload it",
    )
    async def delete(name: str, request: Request) -> Response:
        await serving(request).manager.delete(name)
        monitoring = getattr(request.app.state, "monitoring", None)
        if monitoring is not None:  # its alert rules go with it
            await asyncio.to_thread(monitoring.monitor.alerts.forget, name)
        return Response(status_code=204)

    @router.post(
        "/{name}/predict",
        dependencies=[Depends(require("predict"))],
        summary="Predict",
        openapi_extra={
            "requestBody": {
                "content": {JSON: {"schema": PredictBody.model_json_schema()}},
                "required": True,
            }
        },
    )
    async def predict_route(name: str, request: Request) -> Response:
        return await predict(request, name)

    return router


async def predict(request: Request, name: str) -> Response:
    """``POST /api/v1/deployments/{name}/predict`` (also answered on the lean path)."""
    require_json(request.headers.get("content-type"))
    body = parse_json(await request.body())
    component = serving(request)
    payload = decode_mlflow_json(
        {k: v for k, v in body.items() if k != "probabilities"} if isinstance(body, dict) else body
    )
    probabilities = isinstance(body, dict) and body.get("probabilities") is True
    live = await component.manager.find(name)  # a deployment another worker just made too
    result = await component.dataplane.infer(
        InferenceRequest(
            name,
            payload,
            "native",
            probabilities,
            request_id(request),
            _sticky(live, request),
        )
    )
    answer: dict[str, Any] = {
        "predictions": result.predictions,
        "model": result.model,
        "request_id": result.request_id,
        "warnings": result.warnings,
    }
    if probabilities:
        answer["probabilities"] = result.probabilities()
    return _json(answer)


def _sticky(live: LiveDeployment, request: Request) -> str | None:
    header = live.spec.sticky_header
    return request.headers.get(header) if header else None


class AliasBody(BaseModel):
    """Point an alias at a version."""

    version: str
    reason: str | None = None


def models_router() -> APIRouter:
    """Registered models and their aliases."""
    router = APIRouter(prefix="/models", tags=["models"])

    def workspace(request: Request) -> Workspace:
        ws: Workspace = request.app.state.workspace
        return ws

    @router.get("", dependencies=[Depends(require("read"))], summary="List registered models")
    async def list_models(request: Request) -> Response:
        models = await asyncio.to_thread(workspace(request).registry.list_models)
        return _json([m.__dict__ for m in models])

    @router.get(
        "/{name}",
        dependencies=[Depends(require("read"))],
        summary="A model, its versions and alias history",
    )
    async def read(name: str, request: Request) -> Response:
        registry = workspace(request).registry
        model = await asyncio.to_thread(registry.get_model, name)
        versions = await asyncio.to_thread(registry.list_versions, name)
        history = await asyncio.to_thread(registry.alias_history, name)
        return _json(
            {
                **model.__dict__,
                "versions": [{**v.__dict__, "archived": v.archived} for v in versions],
                "history": [m.__dict__ for m in history],
            }
        )

    @router.put(
        "/{name}/aliases/{alias}",
        dependencies=[Depends(require("admin"))],
        summary="Move an alias to a version (recorded in the history)",
    )
    async def set_alias(name: str, alias: str, body: AliasBody, request: Request) -> Response:
        registry = workspace(request).registry
        move = await asyncio.to_thread(registry.promote, name, body.version, alias, body.reason)
        return _json(move.__dict__)

    return router


def install(app: FastAPI) -> None:
    """lanza's own API: deployments and models under ``/api/v1``, predict on the lean path."""
    app.include_router(deployments_router(), prefix="/api/v1")
    app.include_router(models_router(), prefix="/api/v1")
    lean(app, "/api/v1/deployments/{name}/predict", "predict", predict)
