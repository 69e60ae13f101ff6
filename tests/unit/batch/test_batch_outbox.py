"""``lanza batch`` hands its MLflow run to a drain: each job one run, none lost, none twice."""

from __future__ import annotations

import asyncio
import fcntl
import time

import pytest
from mlflow.entities import Run

from lanza.batch import tracking
from lanza.batch.spec import BatchOptions, BatchSummary
from lanza.batch.store import JobStore
from lanza.batch.tracking import (
    EXPERIMENT,
    OUTBOX,
    RECORD_TAG,
    OutboxTracker,
    drain,
)
from lanza.batch.worker import BatchWorker
from lanza.experiments import experiment_id
from lanza.workspace import Workspace

OPTIONS = BatchOptions("fraud@champion", "in.csv", "out", keep_columns=("id",))


@pytest.fixture(autouse=True)
def _no_background_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test drains itself (the CLI tests cover the drain the job starts)."""
    monkeypatch.setattr(tracking, "spawn_drain", lambda folder: None)


def _tracker(workspace: Workspace) -> OutboxTracker:
    settings = workspace.settings
    assert settings.artifact_root is not None
    return OutboxTracker(settings.home / OUTBOX, settings.tracking, settings.artifact_root)


def _runs(workspace: Workspace) -> list[Run]:
    experiment = workspace.mlflow.get_experiment_by_name(EXPERIMENT)
    return [] if experiment is None else workspace.mlflow.search_runs([experiment.experiment_id])


def _summary(rows: int) -> BatchSummary:
    return BatchSummary("fraud/2", "out", rows, rows - 1, 1, 3, 2.0, 0)


def test_a_finished_job_becomes_one_finished_run(workspace: Workspace) -> None:
    tracker = _tracker(workspace)
    tracker.start(OPTIONS, "fraud/2")
    time.sleep(0.01)
    tracker.finish(_summary(1000), "FINISHED")
    assert drain(tracker.folder) == 1
    [run] = _runs(workspace)
    assert run.info.status == "FINISHED"
    assert run.data.params["model"] == "fraud@champion"
    assert run.data.params["keep_columns"] == "['id']"
    assert run.data.metrics == {
        "rows": 1000.0,
        "rows_written": 999.0,
        "errors": 1.0,
        "rows_per_s": 500.0,
        "duration_s": 2.0,
        "parts": 3.0,
    }
    assert run.data.tags["lanza.model"] == "fraud/2"
    assert run.info.start_time == tracker.record["start_ms"]
    assert run.info.end_time == tracker.record["end_ms"] > run.info.start_time
    assert list(tracker.folder.glob("*.json")) == []
    assert drain(tracker.folder) == 0


def test_a_running_job_is_left_alone_and_a_dead_one_is_logged_killed(
    workspace: Workspace,
) -> None:
    running, dead = _tracker(workspace), _tracker(workspace)
    running.start(OPTIONS, "fraud/2")
    dead.start(OPTIONS, "fraud/1")
    time.sleep(0.05)
    dead.touch()  # a chunk was committed
    assert dead._lock is not None
    dead._lock.close()  # what kill -9 does to its lock
    assert drain(running.folder) == 1
    [run] = _runs(workspace)
    assert (run.data.tags["lanza.model"], run.info.status) == ("fraud/1", "KILLED")
    assert run.data.metrics == {}
    assert run.info.end_time >= run.info.start_time + 40  # it ended at its last touch
    assert running.path.exists()
    running.finish(_summary(10), "FINISHED")
    drain(running.folder)
    assert sorted(r.info.status for r in _runs(workspace)) == ["FINISHED", "KILLED"]


def test_a_drain_that_died_after_creating_the_run_is_finished_without_a_second(
    workspace: Workspace,
) -> None:
    tracker = _tracker(workspace)
    tracker.start(OPTIONS, "fraud/2")
    tracker.finish(_summary(50), "FINISHED")
    experiment = experiment_id(workspace.mlflow, EXPERIMENT, str(workspace.settings.artifact_root))
    workspace.mlflow.create_run(experiment, tags={RECORD_TAG: tracker.record["id"]})
    assert drain(tracker.folder) == 1
    [run] = _runs(workspace)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rows"] == 50.0


def test_a_record_another_drain_holds_is_skipped(workspace: Workspace) -> None:
    tracker = _tracker(workspace)
    tracker.start(OPTIONS, "fraud/2")
    tracker.finish(_summary(5), "FINISHED")
    with tracker.path.with_suffix(".lock").open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert drain(tracker.folder) == 0
    assert drain(tracker.folder) == 1


def test_an_unreadable_record_is_kept_and_the_rest_are_logged(workspace: Workspace) -> None:
    tracker = _tracker(workspace)
    tracker.start(OPTIONS, "fraud/2")
    tracker.finish(_summary(5), "FINISHED")
    torn = tracker.folder / "00000000000000000000-torn.json"
    torn.write_text('{"id": ')
    assert drain(tracker.folder) == 1
    assert torn.exists()
    assert len(_runs(workspace)) == 1


def test_a_starting_server_logs_the_runs_commands_left(workspace: Workspace) -> None:
    tracker = _tracker(workspace)
    tracker.start(OPTIONS, "fraud/2")
    assert tracker._lock is not None
    tracker._lock.close()  # the command was killed
    worker = BatchWorker(workspace, JobStore(workspace.database))

    async def start_and_stop() -> None:
        await worker.start()
        await worker.stop()

    asyncio.run(start_and_stop())
    assert [r.info.status for r in _runs(workspace)] == ["KILLED"]
