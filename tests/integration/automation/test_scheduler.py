"""Scheduled batch jobs under a clock the test controls: right times, catch-up, one firing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from lanza.automation.apply import Applier
from lanza.automation.loader import load_text
from lanza.automation.routes import schedule_history
from lanza.automation.scheduler import Firing, Scheduler
from lanza.batch.store import JobStore
from lanza.batch.worker import BatchWorker
from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.integration.automation.conftest import churn_frame


class Clock:
    """A clock that moves only when told."""

    def __init__(self, start: str) -> None:
        self.now = datetime.fromisoformat(start).replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: str) -> None:
        self.now = datetime.fromisoformat(moment).replace(tzinfo=UTC)


def schedule(workspace: Workspace, clock: Clock, timing: str, catch_up: str = "latest") -> None:
    text = f"""
schedules:
  - name: nightly
    model: churn@champion
    input: data/{{date}}/*.csv
    output: out/{{date:%Y%m%d}}
    {timing}
    catch_up: {catch_up}
"""
    Applier(workspace, Path.cwd(), clock).apply(load_text(text))


def fired(firings: list[Firing]) -> list[tuple[str, str]]:
    return [(f.due_at.strftime("%m-%d %H:%M"), f.state) for f in firings]


def test_cron_schedule_fires_at_the_right_times(workspace: Workspace) -> None:
    clock = Clock("2026-11-27T00:00:00")
    schedule(workspace, clock, 'cron: "0 2 * * *"')
    scheduler = Scheduler(workspace, clock)
    clock.set("2026-11-27T01:59:59")
    assert scheduler.tick() == []
    clock.set("2026-11-27T02:00:10")
    (first,) = scheduler.tick()
    assert fired([first]) == [("11-27 02:00", "queued")]
    clock.set("2026-11-27T02:30:00")
    assert scheduler.tick() == []
    clock.set("2026-11-28T01:00:00")
    assert scheduler.tick() == []
    clock.set("2026-11-28T02:00:00")
    assert fired(scheduler.tick()) == [("11-28 02:00", "queued")]

    jobs = JobStore(workspace.database)
    job = jobs.get(first.job_id or "")
    assert (job.state, job.input, job.output) == ("queued", "data/2026-11-27/*.csv", "out/20261127")
    history = schedule_history(workspace.database, "nightly")
    assert [(r["due_at"][:16], r["state"]) for r in history] == [
        ("2026-11-28T02:00", "queued"),
        ("2026-11-27T02:00", "queued"),
    ]


def test_interval_schedule(workspace: Workspace) -> None:
    clock = Clock("2026-11-27T00:10:00")
    schedule(workspace, clock, "every: 30m")
    scheduler = Scheduler(workspace, clock)
    clock.set("2026-11-27T00:39:00")
    assert scheduler.tick() == []
    clock.set("2026-11-27T00:40:00")
    assert fired(scheduler.tick()) == [("11-27 00:40", "queued")]
    clock.set("2026-11-27T01:10:01")
    assert fired(scheduler.tick()) == [("11-27 01:10", "queued")]


@pytest.mark.parametrize(
    ("policy", "now", "expected"),
    [
        ("all", "2026-11-30T03:00", ["queued", "queued", "queued"]),
        ("latest", "2026-11-30T03:00", ["skipped", "skipped", "queued"]),
        ("none", "2026-11-30T03:00", ["skipped", "skipped", "skipped"]),
        ("none", "2026-11-30T02:03", ["skipped", "skipped", "queued"]),
    ],
)
def test_missed_runs_follow_the_catch_up_policy(
    workspace: Workspace, policy: str, now: str, expected: list[str]
) -> None:
    clock = Clock("2026-11-27T12:00:00")
    schedule(workspace, clock, 'cron: "0 2 * * *"', policy)
    scheduler = Scheduler(workspace, clock, grace=timedelta(minutes=5))
    clock.set(now)  # the server was down for three nights
    result = scheduler.tick()
    assert fired(result) == list(
        zip(["11-28 02:00", "11-29 02:00", "11-30 02:00"], expected, strict=True)
    )
    assert len(JobStore(workspace.database).list_jobs()) == expected.count("queued")
    assert scheduler.tick() == []
    clock.set("2026-12-01T02:00")
    assert fired(scheduler.tick()) == [("12-01 02:00", "queued")]


def test_several_workers_fire_each_time_once(any_workspace: Workspace) -> None:
    clock = Clock("2026-11-27T00:00:00")
    schedule(any_workspace, clock, "every: 1h", "all")
    workers = [Workspace(Settings(**any_workspace.settings.model_dump())) for _ in range(4)]
    schedulers = [Scheduler(ws, clock) for ws in workers]
    barrier = threading.Barrier(len(schedulers))
    results: list[list[Firing]] = []

    def run(scheduler: Scheduler) -> None:
        barrier.wait()
        results.append(scheduler.tick())

    try:
        for moment in ("2026-11-27T01:00:00", "2026-11-27T04:30:00"):
            clock.set(moment)
            threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        for ws in workers:
            ws.close()
    due = sorted(f.due_at.strftime("%H:%M") for r in results for f in r)
    assert due == ["01:00", "02:00", "03:00", "04:00"]
    assert len(JobStore(any_workspace.database).list_jobs()) == 4


@pytest.mark.slow
def test_a_scheduled_run_is_a_batch_job_with_its_mlflow_run(
    workspace: Workspace, tmp_path: Path
) -> None:
    train(
        workspace,
        TrainRequest(
            churn_frame(), "churned", "churn", candidates=["logistic_regression"], folds=2
        ),
    )
    day = tmp_path / "data" / "2026-11-27"
    day.mkdir(parents=True)
    churn_frame(30, seed=3).drop(columns="churned").to_csv(day / "part.csv", index=False)
    clock = Clock("2026-11-27T00:00:00")
    schedule(workspace, clock, 'cron: "0 2 * * *"')
    clock.set("2026-11-27T02:00:00")
    (firing,) = Scheduler(workspace, clock).tick()
    store = JobStore(workspace.database)
    worker = BatchWorker(workspace, store)
    claimed = store.claim_next(worker.owner)
    assert claimed is not None
    assert claimed[0] == firing.job_id
    worker.run_job(*claimed)
    job = store.get(firing.job_id or "")
    assert job.state == "succeeded", job.message
    assert job.rows_done == 30
    assert job.run_id is not None
    assert workspace.mlflow.get_run(job.run_id).info.status == "FINISHED"
    written = pd.read_parquet(tmp_path / "out" / "20261127")
    assert len(written) == 30
