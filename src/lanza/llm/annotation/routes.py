"""Annotation queues over HTTP, and the review page.

=======  ================================================  ==============================
method   path                                              does
=======  ================================================  ==============================
GET      /api/v1/annotation-queues                         every queue
POST     /api/v1/annotation-queues                         create one
DELETE   /api/v1/annotation-queues/{name}                  delete one (its reviews stay)
GET      /api/v1/annotation-queues/{name}/next?reviewer=R  the next trace for R
POST     /api/v1/annotation-queues/{name}/reviews/{trace}  score, correct or skip it
GET      /api/v1/annotation-queues/{name}/agreement        Cohen's kappa per scorer
GET      /annotate/{name}                                  the page, one trace at a time
=======  ================================================  ==============================
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.api.openapi import json_body
from lanza.errors import InvalidInputError
from lanza.llm.annotation.queues import AnnotationQueues, QueueSpec, ReviewIn
from lanza.llm.dashboard.pages import llm_page


def _parse(model: type[QueueSpec] | type[ReviewIn], payload: dict[str, Any]) -> Any:
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInputError(f"{f'Field {where!r}: ' if where else ''}{message}.") from exc


def parse_queue(payload: dict[str, Any]) -> QueueSpec:
    """A queue from user input, with a one-sentence error naming the field."""
    spec: QueueSpec = _parse(QueueSpec, payload)
    return spec


def annotation_router(queues: AnnotationQueues) -> APIRouter:
    """The API under ``/api/v1/annotation-queues`` and the page under ``/annotate``."""
    router = APIRouter(tags=["llm"])
    api = "/api/v1/annotation-queues"
    read = [Depends(require("read"))]
    shell = llm_page("annotate")

    @router.get(api, dependencies=read, summary="Annotation queues")
    async def list_queues() -> list[dict[str, Any]]:
        return [q.model_dump() for q in await run_in_threadpool(queues.all)]

    @router.post(
        api,
        dependencies=[Depends(require("admin"))],
        status_code=201,
        summary="Create a queue",
        openapi_extra={"requestBody": json_body(QueueSpec)},
    )
    async def create(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        spec = await run_in_threadpool(queues.create, parse_queue(payload))
        return spec.model_dump()

    @router.delete(
        api + "/{name}",
        dependencies=[Depends(require("admin"))],
        status_code=204,
        summary="Delete a queue",
    )
    async def delete(name: str) -> Response:
        await run_in_threadpool(queues.delete, name)
        return Response(status_code=204)

    @router.get(api + "/{name}/next", dependencies=read, summary="Next trace to review")
    async def next_item(
        name: str, reviewer: Annotated[str, Query(min_length=1, max_length=128)]
    ) -> dict[str, Any]:
        return await run_in_threadpool(queues.next, name, reviewer)

    @router.post(
        api + "/{name}/reviews/{trace_id}",
        dependencies=[Depends(require("predict", audit=True))],
        status_code=201,
        summary="Review a trace",
        openapi_extra={"requestBody": json_body(ReviewIn)},
    )
    async def review(
        name: str, trace_id: str, payload: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        verdict = _parse(ReviewIn, payload)
        return await run_in_threadpool(queues.review, name, trace_id, verdict)

    @router.get(api + "/{name}/agreement", dependencies=read, summary="Reviewers vs evaluators")
    async def agreement(name: str) -> dict[str, Any]:
        return await run_in_threadpool(queues.agreement, name)

    @router.get("/annotate/{name}", include_in_schema=False)
    async def annotate(name: str) -> HTMLResponse:
        return HTMLResponse(shell)

    return router
