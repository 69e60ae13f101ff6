"""The automation component: the scheduler loop inside ``lanza serve``, its routes
(``lanza.automation.routes``) and the dashboard page ``/automation`` that shows them.

Every worker runs the loop; the timers' claim in the database makes each due time fire
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from fastapi import FastAPI

from lanza.api.component import Component
from lanza.automation import dashboard
from lanza.automation.pipelines import PipelineRunner
from lanza.automation.routes import router
from lanza.automation.scheduler import Scheduler
from lanza.workspace import Workspace

log = logging.getLogger("lanza.automation")


class AutomationComponent(Component):
    """Ticks the scheduler in a worker thread and answers the automation routes."""

    name = "automation"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.settings = workspace.settings.automation
        self.pipelines = PipelineRunner(workspace)
        self.scheduler = Scheduler(
            workspace, grace=timedelta(seconds=self.settings.grace_s), pipelines=self.pipelines
        )
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def install(self, app: FastAPI) -> None:
        app.state.automation = self
        app.include_router(router(self.pipelines, self.workspace.database), prefix="/api/v1")
        dashboard.install(app)

    async def start(self) -> None:
        if self.settings.enabled:
            self._task = asyncio.create_task(self._loop(), name="lanza-scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 30)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.scheduler.tick)
            except Exception:
                log.exception("a scheduler round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.tick_s)
