"""The scheduler: fires scheduled batch jobs and pipeline runs when they are due.

``tick`` reads the clock it was given (tests pass one they control), finds every
timer at or past its due time, claims it with a compare-and-set in the database (so
one of several server workers fires a run), and applies the catch-up policy to the
times missed while nothing was running: ``all`` runs each, ``latest`` runs the most
recent, ``none`` runs a time only if it is within the grace period of now. Each
batch run is an ordinary batch job (its own history and MLflow run) queued for the
batch worker; each pipeline run is handed to the pipeline runner.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from lanza.automation.cron import next_time
from lanza.automation.paths import render_path
from lanza.automation.resources import ResourceStore
from lanza.automation.spec import CatchUp, ScheduleSpec
from lanza.automation.tables import RunRow
from lanza.batch.spec import BatchOptions
from lanza.batch.store import JobStore
from lanza.clock import utcnow
from lanza.errors import ConflictError
from lanza.workspace import Workspace

log = logging.getLogger("lanza.automation")
Clock = Callable[[], datetime]
MAX_MISSED = 1000


@dataclass(frozen=True)
class Firing:
    """One due time of one schedule and what became of it."""

    kind: str
    name: str
    due_at: datetime
    state: str
    job_id: str | None = None


class Scheduler:
    """Turns due timers into runs; call ``tick`` from a loop or a test."""

    def __init__(
        self,
        workspace: Workspace,
        clock: Clock = utcnow,
        grace: timedelta = timedelta(minutes=5),
        pipelines: Any = None,
    ) -> None:
        self.workspace = workspace
        self.clock = clock
        self.grace = grace
        self.resources = ResourceStore(workspace.database)
        self.jobs = JobStore(workspace.database)
        self.pipelines = pipelines

    def tick(self) -> list[Firing]:
        """One round: every due schedule fires, then pipelines move on."""
        now = self.clock()
        fired: list[Firing] = []
        for name, spec in self.resources.all("schedule").items():
            try:
                schedule = ScheduleSpec.model_validate(spec)
                for due, state in self._due(
                    f"schedule:{name}", schedule.cron, schedule.every, schedule.catch_up, now
                ):
                    fired.append(self._fire_schedule(schedule, due, state))
            except Exception:  # one broken schedule never stops the others
                log.exception("schedule %s could not be fired", name)
        for name, spec in self.resources.all("pipeline").items():
            triggers = spec.get("triggers") or {}
            if triggers.get("cron") is None and triggers.get("every") is None:
                continue
            policy = triggers.get("catch_up", "latest")
            for due, state in self._due(
                f"pipeline:{name}", triggers.get("cron"), triggers.get("every"), policy, now
            ):
                fired.append(self._fire_pipeline(name, due, state))
        if self.pipelines is not None:
            self.pipelines.watch(now)
        return fired

    def _due(
        self, key: str, cron: str | None, every: str | None, policy: CatchUp, now: datetime
    ) -> list[tuple[datetime, str]]:
        """Due times of a timer, each marked ``fire`` or ``skipped``, once claimed."""
        first = self.resources.timer(key)
        if first is None:
            self.resources.set_timer(key, next_time(cron, every, now))
            return []
        if first > now:
            return []
        times = [first]
        while len(times) < MAX_MISSED:
            following = next_time(cron, every, times[-1])
            if following > now:
                break
            times.append(following)
        if not self.resources.claim(key, first, next_time(cron, every, times[-1]), now):
            return []  # another worker fired these
        keep = {
            "all": set(times),
            "latest": {times[-1]},
            "none": {t for t in times[-1:] if now - t <= self.grace},
        }[policy]
        return [(t, "fire" if t in keep else "skipped") for t in times]

    def _fire_schedule(self, schedule: ScheduleSpec, due: datetime, state: str) -> Firing:
        job_id = None
        detail: dict[str, Any] = {}
        if state == "fire":
            options = BatchOptions(
                model=schedule.model,
                input=render_path(schedule.input, due),
                output=render_path(schedule.output, due),
                format=schedule.format,
                keep_columns=tuple(schedule.keep_columns),
                probabilities=schedule.probabilities,
                chunk_rows=schedule.chunk_rows,
                overwrite=True,
            )
            job_id = self.jobs.create(options).id
            detail = {"input": options.input, "output": options.output}
            state = "queued"
        self._record("schedule", schedule.name, due, state, job_id, detail)
        log.info("schedule %s due %s: %s", schedule.name, due.isoformat(), state)
        return Firing("schedule", schedule.name, due, state, job_id)

    def _fire_pipeline(self, name: str, due: datetime, state: str) -> Firing:
        detail: dict[str, Any] = {}
        if state == "fire" and self.pipelines is not None:
            try:
                run_id = self.pipelines.start(name, "schedule", due)
                return Firing("pipeline", name, due, "started", run_id)
            except ConflictError as exc:  # the previous run is still on trial
                detail = {"reason": exc.message}
        self._record("pipeline", name, due, "skipped", None, detail)
        return Firing("pipeline", name, due, "skipped")

    def _record(
        self,
        kind: str,
        name: str,
        due: datetime,
        state: str,
        job_id: str | None,
        detail: dict[str, Any],
    ) -> None:
        now = utcnow()
        row = RunRow(
            id=uuid.uuid4().hex,
            kind=kind,
            name=name,
            trigger="schedule",
            due_at=due,
            state=state,
            detail=detail,
            job_id=job_id,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.workspace.database.session() as session:
                session.add(row)
        except IntegrityError:
            log.warning("%s %s due %s was already recorded", kind, name, due.isoformat())
