"""The LangSmith ingest face under ``/langsmith``, for apps traced with the ``langsmith`` SDK.

Set ``LANGSMITH_ENDPOINT=http://HOST:PORT/langsmith`` and the unmodified SDK sends here.

=======  ===========================  ========  =======================================
method   path                         role      what
=======  ===========================  ========  =======================================
GET      /langsmith/info              read      capabilities (multipart, zstd)
POST     /langsmith/runs/multipart    predict   post./patch./feedback. parts, maybe zstd
POST     /langsmith/runs/batch        predict   {"post": [...], "patch": [...]}
POST     /langsmith/runs              predict   one run
PATCH    /langsmith/runs/{run_id}     predict   the end of a run: outputs, error, end time
POST     /langsmith/feedback          predict   a score or comment on a run
GET      /langsmith/runs/{run_id}     read      one run
POST     /langsmith/runs/query        read      runs by project, ids, trace, filters
GET      /langsmith/sessions          read      projects, by name or id
GET      /langsmith/sessions/{id}     read      one project
POST     /langsmith/sessions          predict   make a project (the SDK's id kept; upsert)
PATCH    /langsmith/sessions/{id}     predict   rename, describe or end a project
DELETE   /langsmith/sessions/{id}     admin     delete a project and every run in it (202)
GET      /langsmith/feedback          read      feedback by run and key
GET      /langsmith/feedback/{id}     read      one feedback
PATCH    /langsmith/feedback/{id}     predict   change its score, value, correction, comment
DELETE   /langsmith/feedback/{id}     predict   remove it
=======  ===========================  ========  =======================================

Posts and patches of one run are merged by run id in the store, in whatever requests
they arrive. A run names its project by ``session_name`` or by the ``session_id`` of a
project made or seen before (a run whose id names none is kept in the default project).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from lanza import __version__
from lanza.api.auth import require
from lanza.errors import InvalidInputError
from lanza.llm.tracing.bodies import load_json, multipart, read_body, zstd_available
from lanza.llm.tracing.langsmith_projects import ProjectEditor
from lanza.llm.tracing.langsmith_read import LangSmithReader
from lanza.llm.tracing.queries import TraceReader
from lanza.llm.tracing.runs import feedback_from_run_api, record_from_run
from lanza.llm.tracing.store import TraceStore

log = logging.getLogger("lanza.langsmith")
_Many = Annotated[list[str] | None, Query()]
_RUN_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")


def langsmith_router(store: TraceStore, reader: TraceReader) -> APIRouter:
    """The LangSmith-compatible routes over one store."""
    router = APIRouter(prefix="/langsmith", tags=["langsmith"])
    ingest = Depends(require("predict"))

    @router.get("/info", dependencies=[Depends(require("read"))], summary="Server capabilities")
    async def info() -> dict[str, Any]:
        return {
            "version": __version__,
            "batch_ingest_config": {
                "use_multipart_endpoint": True,
                "scale_up_qsize_trigger": 1000,
                "scale_up_nthreads_limit": 16,
                "scale_down_nempty_trigger": 4,
                "size_limit": 100,
                "size_limit_bytes": 20 * 1024 * 1024,
            },
            "instance_flags": {"zstd_compression_enabled": zstd_available()},
        }

    projects = LangSmithReader(reader.database)

    async def write(runs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        for _, run in runs:
            if isinstance(run, dict) and run.get("session_id") and not run.get("session_name"):
                name = await run_in_threadpool(projects.project_name, str(run["session_id"]))
                if name is None:  # kept (in the default project) rather than lost
                    log.warning("A run names no known project: %s", run["session_id"])
                run["session_name"] = name
        records = [record_from_run(op, run, reader.trace_of) for op, run in runs]
        await run_in_threadpool(store.write, records)
        return {"runs": len(records)}

    @router.post("/runs/multipart", dependencies=[ingest], status_code=202)
    async def runs_multipart(request: Request) -> dict[str, Any]:
        body = await read_body(request)
        runs, feedback = _from_parts(body, request.headers.get("content-type", ""))
        answer = await write(runs)
        for item in feedback:
            await _feedback(reader, item)
        return {**answer, "feedback": len(feedback)}

    @router.post("/runs/batch", dependencies=[ingest], status_code=202)
    async def runs_batch(request: Request) -> dict[str, Any]:
        body = await read_body(request)
        payload = load_json(body, "batch of runs")
        if not isinstance(payload, dict):
            raise InvalidInputError("A batch of runs is an object with 'post' and 'patch' lists.")
        runs = [("post", run) for run in payload.get("post") or []]
        runs += [("patch", run) for run in payload.get("patch") or []]
        return await write(runs)

    @router.post("/runs", dependencies=[ingest], status_code=202)
    async def create_run(request: Request) -> dict[str, Any]:
        body = await read_body(request)
        return await write([("post", load_json(body, "run"))])

    @router.patch("/runs/{run_id}", dependencies=[ingest], status_code=202)
    async def update_run(run_id: str, request: Request) -> dict[str, Any]:
        body = await read_body(request)
        run = load_json(body, "run update")
        if not isinstance(run, dict):
            raise InvalidInputError("A run update is a JSON object.")
        return await write([("patch", {**run, "id": run_id})])

    @router.post("/feedback", dependencies=[ingest], summary="Feedback on a run")
    async def create_feedback(request: Request) -> dict[str, Any]:
        payload = load_json(await request.body(), "feedback")
        return await _feedback(reader, payload)

    _read_routes(router, projects)
    _project_routes(router, ProjectEditor(projects, store))
    return router


def _read_routes(router: APIRouter, runs: LangSmithReader) -> None:
    """What the SDK's ``Client`` reads: runs, projects (sessions) and feedback."""
    read = [Depends(require("read"))]

    @router.post("/runs/query", dependencies=read, summary="Query runs")
    async def query_runs(request: Request) -> dict[str, Any]:
        body = load_json(await request.body(), "run query")
        if not isinstance(body, dict):
            raise InvalidInputError("A run query is a JSON object.")
        return await run_in_threadpool(runs.query, body)

    @router.get("/runs/{run_id}", dependencies=read, summary="One run")
    async def read_run(run_id: str) -> dict[str, Any]:
        return await run_in_threadpool(runs.run, run_id)

    @router.get("/sessions", dependencies=read, summary="Projects")
    async def list_sessions(
        name: str | None = None,
        name_contains: str | None = None,
        id: _Many = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        return await run_in_threadpool(runs.projects, name, name_contains, id or [], limit, offset)

    @router.post("/sessions", dependencies=[Depends(require("predict"))], summary="Make a project")
    async def create_session(request: Request, upsert: bool = False) -> dict[str, Any]:
        body = load_json(await request.body(), "project")
        return await run_in_threadpool(runs.create_project, body, upsert)

    @router.get("/sessions/{session_id}", dependencies=read, summary="One project")
    async def read_session(session_id: str) -> dict[str, Any]:
        return await run_in_threadpool(runs.project, session_id)

    @router.get("/feedback", dependencies=read, summary="Feedback")
    async def list_feedback(
        run: _Many = None,
        key: _Many = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        return await run_in_threadpool(runs.feedback, run or [], key or [], limit, offset)

    @router.get("/feedback/{feedback_id}", dependencies=read, summary="One feedback")
    async def read_feedback(feedback_id: str) -> dict[str, Any]:
        return await run_in_threadpool(runs.feedback_item, feedback_id)

    write = [Depends(require("predict"))]

    @router.patch("/feedback/{feedback_id}", dependencies=write, summary="Change a feedback")
    async def update_feedback(feedback_id: str, request: Request) -> dict[str, Any]:
        changes = load_json(await request.body(), "feedback update")
        return await run_in_threadpool(runs.update_feedback, feedback_id, changes)

    @router.delete("/feedback/{feedback_id}", dependencies=write, summary="Remove a feedback")
    async def delete_feedback(feedback_id: str) -> dict[str, Any]:
        await run_in_threadpool(runs.delete_feedback, feedback_id)
        return {}


def _project_routes(router: APIRouter, editor: ProjectEditor) -> None:
    """What the SDK's ``update_project`` and ``delete_project`` send."""

    @router.patch(
        "/sessions/{session_id}",
        dependencies=[Depends(require("predict"))],
        summary="Change a project",
    )
    async def update_session(session_id: str, request: Request) -> dict[str, Any]:
        body = load_json(await request.body(), "project change")
        return await run_in_threadpool(editor.update, session_id, body)

    @router.delete(
        "/sessions/{session_id}",
        dependencies=[Depends(require("admin"))],
        status_code=202,
        summary="Delete a project and every run in it",
    )
    async def delete_session(session_id: str) -> dict[str, Any]:
        return await run_in_threadpool(editor.delete, session_id)


async def _feedback(reader: TraceReader, payload: Any) -> dict[str, Any]:
    """Store LangSmith feedback; the run may not have arrived yet, so no trace is required."""
    trace_id, feedback = feedback_from_run_api(payload)
    if trace_id is None and feedback.run_id is not None:
        trace_id = await run_in_threadpool(reader.trace_of, feedback.run_id)
    trace_id = trace_id or feedback.run_id
    if trace_id is None:
        raise InvalidInputError("Feedback needs a 'run_id' or a 'trace_id'.")
    return await run_in_threadpool(reader.add_feedback, trace_id, feedback, False)


def _from_parts(
    body: bytes, content_type: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    """Runs (in order of their first part) and feedback from a multipart ingest body."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    feedback: list[Any] = []
    for part in multipart(body, content_type):
        kind, _, rest = part.name.partition(".")
        run_id, _, field = rest.partition(".")
        if kind == "feedback":
            feedback.append(load_json(part.data, f"feedback part '{part.name}'"))
        elif kind in ("post", "patch") and run_id:
            run = runs.setdefault((kind, run_id), {"id": run_id})
            value = load_json(part.data, f"part '{part.name}'")
            if not field and isinstance(value, dict):
                run.update({k: v for k, v in value.items() if k not in run or v is not None})
            elif field in _RUN_FIELDS:
                run[field] = value
        # attachments ("attachment.<run>.<name>") are not kept
    return [(kind, run) for (kind, _), run in runs.items()], feedback
