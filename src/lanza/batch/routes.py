"""The batch jobs API: a queue in the database that the batch worker drains.

Routes: ``POST /api/v1/batch-jobs`` (queue), ``GET /api/v1/batch-jobs`` (list),
``GET /api/v1/batch-jobs/{id}`` (state, rows done/total, rate, ETA),
``DELETE /api/v1/batch-jobs/{id}`` (cancel), ``POST /api/v1/batch-jobs/{id}/resume``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from lanza.api.auth import require
from lanza.batch.manifest import output_has_files
from lanza.batch.remote import output_folder
from lanza.batch.spec import DEFAULT_CHUNK_ROWS, ENGINES, FORMATS, BatchOptions
from lanza.batch.store import JobStore
from lanza.batch.worker import BatchWorker
from lanza.errors import ConflictError, InvalidInputError
from lanza.runtime.devices import DEVICES
from lanza.workspace import Workspace


class JobRequest(BaseModel):
    """A batch job to queue: the same options as ``lanza batch``."""

    model: str = Field(description="Model reference: NAME@ALIAS or NAME/VERSION.")
    input: str = Field(description="File, folder, glob or fsspec URL, as the server sees it.")
    output: str = Field(description="Output folder on the server, or a URL (gs://...).")
    format: str = Field("parquet", description="parquet, csv, jsonl or vertex.")
    engine: str = Field("local", description="local or ray.")
    ray_address: str | None = None
    keep_columns: list[str] = Field(default_factory=list)
    probabilities: bool = False
    fail_fast: bool = False
    chunk_rows: int = Field(DEFAULT_CHUNK_ROWS, ge=1)
    resume: bool = False
    overwrite: bool = False
    device: str = Field("auto", description="cpu, cuda or auto (a GPU when one helps).")
    log_rate: float = Field(0.0, ge=0, le=1, description="Share of rows logged for drift.")
    log_as: str | None = Field(None, description="Deployment the logged rows count for.")

    def options(self) -> BatchOptions:
        """The job's options, checked."""
        if self.format not in FORMATS:
            raise InvalidInputError(f"Unknown format '{self.format}'; use {', '.join(FORMATS)}.")
        if self.engine not in ENGINES:
            raise InvalidInputError(f"Unknown engine '{self.engine}'; use local or ray.")
        if self.resume and self.overwrite:
            raise InvalidInputError("Pass resume or overwrite, not both.")
        if self.device not in DEVICES:
            raise InvalidInputError(f"Unknown device '{self.device}'; use cpu, cuda or auto.")
        return BatchOptions.from_dict(self.model_dump())


class JobQueue:
    """Queues jobs for the worker: checks what can be checked at once, then wakes it."""

    def __init__(self, workspace: Workspace, store: JobStore, worker: BatchWorker) -> None:
        self.workspace = workspace
        self.store = store
        self.worker = worker

    async def submit(self, options: BatchOptions) -> dict[str, Any]:
        """Check what can be checked now, then queue the job and wake the worker."""
        await asyncio.to_thread(self.workspace.registry.resolve, options.model)
        output = await asyncio.to_thread(output_folder, options.output)
        exists = await asyncio.to_thread(output_has_files, output)
        if not (options.resume or options.overwrite) and exists:
            raise ConflictError(f"The output {output} already has files; set overwrite or resume.")
        view = await asyncio.to_thread(self.store.create, options)
        self.worker.wake()
        return view.to_dict()


def router(queue: JobQueue) -> APIRouter:
    """The batch-jobs API over ``queue``."""
    api = APIRouter(prefix="/batch-jobs", tags=["batch jobs"])
    store = queue.store

    @api.post("", status_code=201, dependencies=[Depends(require("admin"))])
    async def create(request: JobRequest) -> dict[str, Any]:
        return await queue.submit(request.options())

    @api.get("", dependencies=[Depends(require("read"))])
    async def list_jobs(state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        jobs = await asyncio.to_thread(store.list_jobs, limit, state)
        return [j.to_dict() for j in jobs]

    @api.get("/{job_id}", dependencies=[Depends(require("read"))])
    async def show(job_id: str) -> dict[str, Any]:
        return (await asyncio.to_thread(store.get, job_id)).to_dict()

    @api.delete("/{job_id}", status_code=202, dependencies=[Depends(require("admin"))])
    async def cancel(job_id: str) -> dict[str, Any]:
        return (await asyncio.to_thread(store.cancel, job_id)).to_dict()

    @api.post("/{job_id}/resume", dependencies=[Depends(require("admin"))])
    async def resume(job_id: str) -> dict[str, Any]:
        view = await asyncio.to_thread(store.resume, job_id)
        queue.worker.wake()
        return view.to_dict()

    return api
