"""Batch jobs in lanza's database: queue, claim, progress, cancel, and restart recovery.

A server process claims one queued job at a time and heartbeats while it runs. A job
whose owner died (its process is gone, or its heartbeat is stale) is ``interrupted``;
on the next start it is queued again with ``resume`` (up to ``MAX_ATTEMPTS`` runs), so
the manifest carries it on from its last committed part.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from lanza.batch.spec import BatchOptions, BatchSummary, Progress
from lanza.batch.tables import FINAL, BatchJob
from lanza.clock import utcnow
from lanza.errors import ConflictError, NotFoundError
from lanza.store import Database

MAX_ATTEMPTS = 3
STALE_AFTER = timedelta(seconds=120)


@dataclass(frozen=True)
class JobView:
    """A job as the API and the CLI show it."""

    id: str
    state: str
    model: str
    input: str
    output: str
    options: dict[str, Any]
    rows_done: int
    rows_total: int | None
    errors: int
    rate: float
    eta_s: float | None
    message: str | None
    attempts: int
    run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    actions: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def this_owner() -> str:
    """``host:pid`` of this process, recorded on the jobs it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobStore:
    """Reads and writes ``batch_jobs``; every method is one short transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, options: BatchOptions) -> JobView:
        """Queue a job."""
        job = BatchJob(
            id=uuid.uuid4().hex[:16],
            model=options.model,
            options=options.to_dict(),
            state="queued",
            rows_done=0,
            errors=0,
            rate=0.0,
            cancel_requested=False,
            attempts=0,
            created_at=utcnow(),
        )
        with self.database.session() as session:
            session.add(job)
            session.flush()
            return _view(job)

    def get(self, job_id: str) -> JobView:
        """One job, or 404."""
        with self.database.session() as session:
            return _view(self._row(session, job_id))

    def list_jobs(self, limit: int = 100, state: str | None = None) -> list[JobView]:
        """The newest jobs first."""
        query = select(BatchJob).order_by(BatchJob.created_at.desc()).limit(limit)
        if state is not None:
            query = query.where(BatchJob.state == state)
        with self.database.session() as session:
            return [_view(j) for j in session.scalars(query)]

    def claim_next(self, owner: str) -> tuple[str, BatchOptions] | None:
        """Take the oldest queued job for ``owner``; ``None`` when none is queued."""
        query = select(BatchJob.id).where(BatchJob.state == "queued")
        with self.database.session() as session:
            for job_id in session.scalars(query.order_by(BatchJob.created_at).limit(5)):
                now = utcnow()
                claimed = session.execute(
                    update(BatchJob)
                    .where(BatchJob.id == job_id, BatchJob.state == "queued")
                    .values(
                        state="running",
                        owner=owner,
                        started_at=now,
                        heartbeat_at=now,
                        attempts=BatchJob.attempts + 1,
                        message=None,
                    )
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    job = self._row(session, job_id)
                    return job.id, BatchOptions.from_dict(job.options)
        return None

    def progress(self, job_id: str, progress: Progress) -> bool:
        """Record progress and a heartbeat; returns whether a cancel was asked for."""
        with self.database.session() as session:
            job = self._row(session, job_id)
            job.rows_done, job.rows_total = progress.rows_done, progress.rows_total
            job.errors, job.rate, job.eta_s = progress.errors, progress.rate, progress.eta_s
            job.heartbeat_at = utcnow()
            return bool(job.cancel_requested)

    def set_run(self, job_id: str, run_id: str | None) -> None:
        """Link the job to its MLflow run."""
        with self.database.session() as session:
            self._row(session, job_id).run_id = run_id

    def finish(
        self, job_id: str, state: str, message: str | None, summary: BatchSummary | None
    ) -> None:
        """Record how a job ended."""
        with self.database.session() as session:
            job = self._row(session, job_id)
            job.state, job.message = state, message
            job.finished_at = utcnow() if state in FINAL else None
            job.eta_s = None
            if summary is not None:
                job.rows_done, job.errors = summary.rows, summary.errors
                if state == "succeeded":
                    job.rows_total = summary.rows

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued job now, or ask a running one to stop after its current chunk."""
        with self.database.session() as session:
            job = self._row(session, job_id)
            if job.state in ("succeeded", "failed"):
                raise ConflictError(f"Job {job_id} has already {job.state}; nothing to cancel.")
            if job.state in ("queued", "interrupted"):
                job.state, job.finished_at = "cancelled", utcnow()
                job.message = "Cancelled before it ran." if job.attempts == 0 else "Cancelled."
            elif job.state == "running":
                job.cancel_requested = True
            return _view(job)

    def resume(self, job_id: str) -> JobView:
        """Queue a stopped job again; it continues after its last committed part."""
        with self.database.session() as session:
            job = self._row(session, job_id)
            if job.state not in ("interrupted", "failed", "cancelled"):
                raise ConflictError(f"Job {job_id} is {job.state}; only a stopped job resumes.")
            job.options = {**job.options, "resume": True, "overwrite": False}
            job.state, job.cancel_requested, job.finished_at = "queued", False, None
            job.attempts = 0
            return _view(job)

    def recover(self, alive: set[str]) -> list[str]:
        """Mark running jobs whose owner is gone as interrupted, and requeue the young ones.

        ``alive`` holds the owners known to run on this host; a job owned by another host
        counts as gone when its heartbeat is stale.
        """
        host = socket.gethostname() + ":"
        stale = utcnow() - STALE_AFTER
        requeued = []
        with self.database.session() as session:
            for job in session.scalars(select(BatchJob).where(BatchJob.state == "running")):
                beat = job.heartbeat_at
                here = (job.owner or "").startswith(host)
                gone = job.owner not in alive if here else beat is None or _aware(beat) < stale
                if not gone:
                    continue
                job.state, job.message = "interrupted", "The server stopped while it ran."
                if job.attempts < MAX_ATTEMPTS and not job.cancel_requested:
                    job.options = {**job.options, "resume": True, "overwrite": False}
                    job.state = "queued"
                    requeued.append(job.id)
        return requeued

    @staticmethod
    def _row(session: Any, job_id: str) -> BatchJob:
        job = session.get(BatchJob, job_id)
        if job is None:
            raise NotFoundError(f"Batch job '{job_id}' does not exist.")
        return job  # type: ignore[no-any-return]


def _aware(moment: datetime) -> datetime:
    # sqlite hands back naive datetimes; they were written in UTC.
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _view(job: BatchJob) -> JobView:
    actions = {
        "queued": ["cancel"],
        "running": ["cancel"],
        "interrupted": ["resume", "cancel"],
        "failed": ["resume"],
        "cancelled": ["resume"],
    }.get(job.state, [])
    return JobView(
        id=job.id,
        state=job.state,
        model=job.model,
        input=str(job.options.get("input")),
        output=str(job.options.get("output")),
        options=job.options,
        rows_done=job.rows_done,
        rows_total=job.rows_total,
        errors=job.errors,
        rate=job.rate,
        eta_s=job.eta_s,
        message=job.message,
        attempts=job.attempts,
        run_id=job.run_id,
        created_at=_aware(job.created_at),
        started_at=None if job.started_at is None else _aware(job.started_at),
        finished_at=None if job.finished_at is None else _aware(job.finished_at),
        actions=actions,
    )
