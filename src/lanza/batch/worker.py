"""The server's batch worker: claims queued jobs one at a time and runs them in a thread.

Cancellation is cooperative: the job checks between chunks whether a cancel was asked
for (in the database) or the server is stopping. A job stopped by the server is
``interrupted`` and queued again with ``resume`` when the server next starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from lanza.batch.job import JobHooks, run_batch
from lanza.batch.spec import BatchOptions, Progress
from lanza.batch.store import JobStore, this_owner
from lanza.batch.tracking import OUTBOX, drain
from lanza.errors import JobCancelledError, LanzaError
from lanza.workspace import Workspace

log = logging.getLogger("lanza.batch")


@dataclass
class _Running:
    """The job this worker runs now, and whether someone asked it to stop."""

    job_id: str
    cancel_requested: bool = False


@dataclass
class BatchWorker:
    """Runs queued jobs, one at a time, for the lifetime of the server."""

    workspace: Workspace
    store: JobStore
    poll_s: float = 2.0
    owner: str = field(default_factory=this_owner)
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        """Requeue jobs a dead server left running, log the MLflow runs ``lanza batch``
        commands left in the outbox (a killed job's), then start polling."""
        requeued = await asyncio.to_thread(self.store.recover, {self.owner})
        if requeued:
            log.warning("resuming %d interrupted batch job(s): %s", len(requeued), requeued)
        await asyncio.to_thread(self._drain_outbox)
        self._task = asyncio.create_task(self._loop(), name="lanza-batch-worker")

    def _drain_outbox(self) -> None:
        try:
            drain(self.workspace.settings.home / OUTBOX)
        except Exception:
            log.warning("could not log the MLflow runs of earlier batch commands", exc_info=True)

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def stop(self, grace_s: float = 30.0) -> None:
        """Stop after the current chunk; the running job becomes interrupted."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, grace_s)

    async def _loop(self) -> None:
        while not self._stopping:
            claimed = await asyncio.to_thread(self.store.claim_next, self.owner)
            if claimed is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()
                continue
            await asyncio.to_thread(self.run_job, *claimed)

    def run_job(self, job_id: str, options: BatchOptions) -> None:
        """Run one claimed job to its end and record how it ended."""
        running = _Running(job_id)

        def progress(update: Progress) -> None:
            running.cancel_requested = self.store.progress(job_id, update)

        hooks = JobHooks(
            on_progress=progress,
            cancelled=lambda: self._stopping or running.cancel_requested,
            job_id=job_id,
            on_run=lambda run_id: self.store.set_run(job_id, run_id),
        )
        try:
            summary = run_batch(self.workspace, options, hooks)
        except JobCancelledError as exc:
            state = "cancelled" if running.cancel_requested else "interrupted"
            self.store.finish(job_id, state, exc.message, None)
        except LanzaError as exc:
            self.store.finish(job_id, "failed", exc.message, None)
        except Exception as exc:
            log.exception("batch job %s failed", job_id)
            self.store.finish(job_id, "failed", f"unexpected {type(exc).__name__}: {exc}", None)
        else:
            self.store.finish(job_id, "succeeded", None, summary)
