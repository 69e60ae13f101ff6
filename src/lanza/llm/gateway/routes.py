"""Thin routers: the OpenAI face under ``/v1`` and LLM deployments under ``/api/v1/llm``.

=======  ==============================  ==========================================
method   path                            does
=======  ==============================  ==========================================
GET      /v1/models[/{name}]             the deployments, as OpenAI models
POST     /v1/chat/completions            chat (``stream`` for SSE)
POST     /v1/completions                 text completion (``stream`` for SSE)
POST     /v1/embeddings                  vectors
GET      /api/v1/llm/deployments         list deployments
POST     /api/v1/llm/deployments         create one
GET/PUT  /api/v1/llm/deployments/{name}  read or replace one
DELETE   /api/v1/llm/deployments/{name}  delete one
=======  ==============================  ==========================================

A call carrying ``langsmith-trace`` (with ``baggage``) or W3C ``traceparent`` is traced
as a child of the caller's span, in the caller's trace.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from lanza.api.auth import bearer, require
from lanza.api.openapi import json_body
from lanza.llm.gateway.policy import set_user
from lanza.llm.gateway.schemas import ChatRequest, CompletionRequest, EmbeddingRequest
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import parse_spec
from lanza.llm.tracing.propagation import remote_parent
from lanza.security.keys import KeyInfo

if TYPE_CHECKING:
    from lanza.llm.gateway.component import LLMComponent


Caller = Annotated[KeyInfo | None, Depends(require("predict"))]
Payload = Annotated[dict[str, Any], Body()]


def _llm(request: Request) -> LLMComponent:
    component: LLMComponent = request.app.state.llm
    return component


def caller_of(request: Request, key: KeyInfo | None) -> str:
    """Who the rate limit counts: the API key's id, else a digest of the bearer, else one bucket."""
    if key is not None:
        return f"key:{key.id}"
    secret = bearer(request)
    if secret:
        return "bearer:" + hashlib.sha256(secret.encode()).hexdigest()[:16]
    return "anonymous"


def openai_router() -> APIRouter:
    """Routes under ``/v1``."""
    router = APIRouter(tags=["openai"])
    read = Depends(require("read"))

    @router.get("/models", dependencies=[read], summary="LLM deployments as models")
    async def models(request: Request) -> dict[str, Any]:
        return _llm(request).face.models()

    @router.get("/models/{name}", dependencies=[read], summary="One LLM deployment")
    async def model(request: Request, name: str) -> dict[str, Any]:
        return _llm(request).face.model(name)

    @router.post("/chat/completions", summary="Chat completion (OpenAI)")
    async def chat(request: Request, body: ChatRequest, key: Caller) -> Response:
        set_user(request.headers.get("x-lanza-user"))  # hook: sticky prompt experiments
        remote = remote_parent(request.headers)
        return await _llm(request).face.chat(body, caller_of(request, key), remote)

    @router.post("/completions", summary="Text completion (OpenAI)")
    async def completions(request: Request, body: CompletionRequest, key: Caller) -> Response:
        remote = remote_parent(request.headers)
        return await _llm(request).face.completions(body, caller_of(request, key), remote)

    @router.post("/embeddings", summary="Embeddings (OpenAI)")
    async def embeddings(request: Request, body: EmbeddingRequest, key: Caller) -> Response:
        remote = remote_parent(request.headers)
        return await _llm(request).face.embeddings(body, caller_of(request, key), remote)

    return router


def deployments_router() -> APIRouter:
    """Routes under ``/api/v1/llm``."""
    router = APIRouter(prefix="/llm/deployments", tags=["llm"])
    read = [Depends(require("read"))]
    admin = [Depends(require("admin"))]

    @router.get("", dependencies=read, summary="List LLM deployments")
    async def list_all(request: Request) -> list[dict[str, Any]]:
        return [s.model_dump() for s in _llm(request).store.list()]

    @router.post(
        "",
        dependencies=admin,
        status_code=201,
        summary="Create an LLM deployment",
        openapi_extra={"requestBody": json_body(LLMDeploymentSpec)},
    )
    async def create(request: Request, payload: Payload) -> dict[str, Any]:
        return _llm(request).store.create(parse_spec(payload)).model_dump()

    @router.get("/{name}", dependencies=read, summary="One LLM deployment")
    async def show(request: Request, name: str) -> dict[str, Any]:
        return _llm(request).store.get(name).model_dump()

    @router.put(
        "/{name}",
        dependencies=admin,
        summary="Replace an LLM deployment",
        openapi_extra={"requestBody": json_body(LLMDeploymentSpec, ("name",))},
    )
    async def replace(request: Request, name: str, payload: Payload) -> dict[str, Any]:
        spec = parse_spec(payload | {"name": name})
        replaced = _llm(request).store.replace(spec)
        _llm(request).gateway.specs.forget(name)
        return replaced.model_dump()

    @router.delete("/{name}", dependencies=admin, status_code=204, summary="Delete one")
    async def delete(request: Request, name: str) -> Response:
        llm = _llm(request)
        llm.store.delete(name)
        llm.gateway.specs.forget(name)
        await llm.gateway.pool.drop(name)
        return Response(status_code=204)

    return router
