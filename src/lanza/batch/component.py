"""The batch component: the job queue's routes (``lanza.batch.routes``) and the worker
that runs the jobs in the background."""

from __future__ import annotations

from fastapi import FastAPI

from lanza.api.component import Component
from lanza.batch.routes import JobQueue, router
from lanza.batch.store import JobStore
from lanza.batch.worker import BatchWorker
from lanza.workspace import Workspace


class BatchComponent(Component):
    """Queues batch jobs in the database and runs them in the background."""

    name = "batch"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.store = JobStore(workspace.database)
        self.worker = BatchWorker(workspace, self.store)
        self.queue = JobQueue(workspace, self.store, self.worker)

    def install(self, app: FastAPI) -> None:
        app.state.batch = self.queue  # the upload page queues big files as batch jobs
        app.include_router(router(self.queue), prefix="/api/v1")

    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop(self.workspace.settings.server.shutdown_grace_s)
