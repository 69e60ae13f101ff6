"""The LLMOps pages in lanza's web shell (one script each, the LLM stylesheet for all) and
their routes: ``/traces``, ``/traces/{id}``, ``/evaluations``, ``/evaluators``, ``/spend``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from lanza.web import page


def llm_page(name: str) -> str:
    """The page whose script is ``/static/llm/{name}.js``, marked ``name`` in the navigation."""
    return page(name, script=f"/static/llm/{name}.js", styles=("/static/llm/llm.css",), here=name)


def pages_router() -> APIRouter:
    """The page routes; each page's script reads the JSON API with the reader's key."""
    router = APIRouter(include_in_schema=False)
    traces_page = llm_page("traces")
    evaluations_page = llm_page("evaluations")
    spend_page = llm_page("spend")
    evaluators_page = llm_page("evaluators")

    @router.get("/traces")
    async def traces() -> HTMLResponse:
        return HTMLResponse(traces_page)

    @router.get("/traces/{trace_id}")
    async def trace(trace_id: str) -> HTMLResponse:
        return HTMLResponse(traces_page)

    @router.get("/evaluations")
    async def evaluations() -> HTMLResponse:
        return HTMLResponse(evaluations_page)

    @router.get("/evaluators")
    async def evaluators() -> HTMLResponse:
        return HTMLResponse(evaluators_page)

    @router.get("/spend")
    async def spend() -> HTMLResponse:
        return HTMLResponse(spend_page)

    return router
