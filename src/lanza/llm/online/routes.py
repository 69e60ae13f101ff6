"""Online evaluators over HTTP.

=======  =====================================  =========================================
method   path                                   does
=======  =====================================  =========================================
GET      /api/v1/evaluators                     every evaluator with its live counters
POST     /api/v1/evaluators                     create one
GET      /api/v1/evaluators/{name}              one, with counters and window means
PUT      /api/v1/evaluators/{name}              replace one
DELETE   /api/v1/evaluators/{name}              delete one (its scores stay)
GET      /api/v1/evaluators/{name}/scores       mean per scorer and time bucket
GET      /api/v1/evaluators/{name}/arms         mean per prompt version, 95 % intervals
=======  =====================================  =========================================
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.api.openapi import json_body
from lanza.llm.online.spec import EvaluatorSpec
from lanza.llm.online.store import EvaluatorStore, parse_evaluator
from lanza.llm.online.worker import OnlineEvaluator

Payload = Annotated[dict[str, Any], Body()]


def evaluators_router(store: EvaluatorStore, loop: OnlineEvaluator) -> APIRouter:
    """Routes under ``/api/v1/evaluators``."""
    router = APIRouter(prefix="/api/v1/evaluators", tags=["llm"])
    read = [Depends(require("read"))]
    admin = [Depends(require("admin"))]

    def view(name: str) -> dict[str, Any]:
        return store.get(name).model_dump() | {"status": loop.status(name)}

    @router.get("", dependencies=read, summary="Online evaluators")
    async def list_all() -> list[dict[str, Any]]:
        specs = await run_in_threadpool(store.list)
        return [s.model_dump() | {"status": loop.status(s.name)} for s in specs]

    # The body as documented (FastAPI sees a free object: the evaluator is parsed by hand,
    # for errors that name the field). Rules between fields are said in words.
    body, replace_body = json_body(EvaluatorSpec), json_body(EvaluatorSpec, ("name",))

    @router.post(
        "",
        dependencies=admin,
        status_code=201,
        summary="Create an online evaluator",
        openapi_extra={"requestBody": body},
    )
    async def create(payload: Payload) -> dict[str, Any]:
        spec = await run_in_threadpool(store.create, parse_evaluator(payload))
        return spec.model_dump()

    @router.get("/{name}", dependencies=read, summary="One online evaluator")
    async def show(name: str) -> dict[str, Any]:
        return await run_in_threadpool(view, name)

    @router.put(
        "/{name}",
        dependencies=admin,
        summary="Replace an online evaluator",
        openapi_extra={"requestBody": replace_body},
    )
    async def replace(name: str, payload: Payload) -> dict[str, Any]:
        spec = parse_evaluator(payload | {"name": name})
        await run_in_threadpool(store.get, name)
        return (await run_in_threadpool(store.create, spec, True)).model_dump()

    @router.delete("/{name}", dependencies=admin, status_code=204, summary="Delete one")
    async def delete(name: str) -> Response:
        await run_in_threadpool(store.delete, name)
        return Response(status_code=204)

    @router.get("/{name}/scores", dependencies=read, summary="Scores over time")
    async def scores(
        name: str,
        hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
        bucket_s: Annotated[float, Query(ge=1)] = 300.0,
    ) -> dict[str, Any]:
        await run_in_threadpool(store.get, name)
        points = await run_in_threadpool(store.series, name, time.time() - hours * 3600, bucket_s)
        return {"evaluator": name, "bucket_s": bucket_s, "points": points}

    @router.get("/{name}/arms", dependencies=read, summary="Prompt versions compared")
    async def arms(name: str, scorer: str | None = None) -> dict[str, Any]:
        spec = await run_in_threadpool(store.get, name)
        return await run_in_threadpool(store.arms, name, scorer or spec.scorers[0])

    return router
