"""The automation API.

Routes: ``GET /api/v1/pipelines`` (pipelines and their latest run),
``GET /api/v1/pipelines/{name}``, ``GET|POST /api/v1/pipelines/{name}/runs`` (history;
start a run now), ``GET /api/v1/pipeline-runs/{id}``, ``GET /api/v1/schedules`` and
``GET /api/v1/schedules/{name}/runs``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from lanza.api.auth import require
from lanza.automation.pipelines import PipelineRunner
from lanza.automation.resources import ResourceStore
from lanza.automation.runs import view
from lanza.automation.tables import RunRow
from lanza.batch.store import JobStore
from lanza.errors import NotFoundError
from lanza.store import Database

Limit = Annotated[int, Query(ge=1, le=1000, description="Most recent runs to return.")]


def router(runner: PipelineRunner, database: Database) -> APIRouter:
    """The automation API, on the pipeline runner and the database the component uses."""
    api = APIRouter(tags=["automation"])
    resources = ResourceStore(database)

    @api.get("/pipelines", dependencies=[Depends(require("read"))])
    async def list_pipelines() -> list[dict[str, Any]]:
        return await asyncio.to_thread(pipeline_summaries, runner)

    @api.get("/pipelines/{name}", dependencies=[Depends(require("read"))])
    async def show_pipeline(name: str) -> dict[str, Any]:
        spec = await asyncio.to_thread(runner.spec, name)
        runs = await asyncio.to_thread(runner.runs, name, 20)
        return {"name": name, "spec": spec.model_dump(mode="json"), "runs": runs}

    @api.get("/pipelines/{name}/runs", dependencies=[Depends(require("read"))])
    async def pipeline_runs(name: str, limit: Limit = 50) -> list[dict[str, Any]]:
        await asyncio.to_thread(runner.spec, name)
        return await asyncio.to_thread(runner.runs, name, limit)

    @api.post("/pipelines/{name}/runs", status_code=202, dependencies=[Depends(require("admin"))])
    async def start_run(name: str) -> dict[str, Any]:
        await asyncio.to_thread(runner.spec, name)
        run_id = await asyncio.to_thread(runner.start, name, "manual")
        return await asyncio.to_thread(runner.get, run_id)

    @api.get("/pipeline-runs/{run_id}", dependencies=[Depends(require("read"))])
    async def show_run(run_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(runner.get, run_id)

    @api.get("/schedules", dependencies=[Depends(require("read"))])
    async def list_schedules() -> list[dict[str, Any]]:
        return await asyncio.to_thread(schedule_summaries, resources)

    @api.get("/schedules/{name}/runs", dependencies=[Depends(require("read"))])
    async def schedule_runs(name: str, limit: Limit = 50) -> list[dict[str, Any]]:
        return await asyncio.to_thread(schedule_history, database, name, limit)

    return api


def pipeline_summaries(runner: PipelineRunner) -> list[dict[str, Any]]:
    """Every applied pipeline with its latest run."""
    out = []
    for name, spec in runner.resources.all("pipeline").items():
        latest = runner.runs(name, 1)
        out.append({"name": name, "spec": spec, "latest_run": latest[0] if latest else None})
    return out


def schedule_summaries(resources: ResourceStore) -> list[dict[str, Any]]:
    """Every applied schedule with when it is next due."""
    out = []
    for name, spec in resources.all("schedule").items():
        due = resources.timer(f"schedule:{name}")
        out.append({"name": name, "spec": spec, "next_run_at": due.isoformat() if due else None})
    return out


def schedule_history(database: Database, name: str, limit: int = 50) -> list[dict[str, Any]]:
    """A schedule's runs, latest first, each with its batch job's state."""
    if ResourceStore(database).get("schedule", name) is None:
        raise NotFoundError(f"There is no schedule named '{name}'.")
    query = (
        select(RunRow)
        .where(RunRow.kind == "schedule", RunRow.name == name)
        .order_by(RunRow.due_at.desc())
        .limit(limit)
    )
    with database.session() as session:
        rows = [view(r) for r in session.scalars(query)]
    jobs = JobStore(database)
    for row in rows:
        if row["job_id"]:
            try:
                row["state"] = jobs.get(row["job_id"]).state
            except NotFoundError:
                row["state"] = "gone"
    return rows
