"""``lanza scheduler``: the scheduler alone, without the HTTP server.

It fires scheduled batch jobs and pipeline runs, and runs the batch jobs it queued
(and any other queued job) in the same process. Several schedulers, or schedulers
beside ``lanza serve``, may share a database: each due time fires once.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Annotated

import typer

from lanza.cli.context import state
from lanza.cli.output import console


def scheduler_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Fire what is due, run those jobs, and exit.")
    ] = False,
) -> None:
    """Fire scheduled batch jobs and pipeline runs when they are due.

    Example: lanza scheduler
    """
    from lanza.automation.pipelines import PipelineRunner
    from lanza.automation.scheduler import Scheduler
    from lanza.batch.store import JobStore
    from lanza.batch.worker import BatchWorker

    workspace = state(ctx).workspace()
    settings = workspace.settings.automation
    scheduler = Scheduler(
        workspace,
        grace=timedelta(seconds=settings.grace_s),
        pipelines=PipelineRunner(workspace),
    )
    worker = BatchWorker(workspace, JobStore(workspace.database))

    async def main() -> None:
        while True:
            fired = await asyncio.to_thread(scheduler.tick)
            for firing in fired:
                console.print(
                    f"{firing.kind} {firing.name} due {firing.due_at:%Y-%m-%d %H:%M}: "
                    f"{firing.state}",
                    highlight=False,
                )
            while claimed := await asyncio.to_thread(worker.store.claim_next, worker.owner):
                await asyncio.to_thread(worker.run_job, *claimed)
            if once:
                return
            await asyncio.sleep(settings.tick_s)

    if not once:
        console.print(f"Scheduler running; looking for due runs every {settings.tick_s:g} s.")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
