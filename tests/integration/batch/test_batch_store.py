"""The jobs table on sqlite and Postgres: queue, claim once, progress, cancel, recovery."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from lanza.batch.spec import BatchOptions, BatchSummary, Progress
from lanza.batch.store import JobStore
from lanza.batch.tables import BatchJob
from lanza.clock import utcnow
from lanza.errors import ConflictError, NotFoundError
from lanza.store import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/jobs.db"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    database.migrate()
    yield JobStore(database)
    database.dispose()


def _options() -> BatchOptions:
    return BatchOptions(model="m@champion", input="in.csv", output="out", keep_columns=("id",))


def test_a_job_is_claimed_once_and_reports_progress(store: JobStore) -> None:
    job = store.create(_options())
    assert (job.state, job.actions) == ("queued", ["cancel"])
    claimed = store.claim_next("host:1")
    assert claimed is not None
    assert claimed == (job.id, _options())
    assert store.claim_next("host:2") is None
    assert store.progress(job.id, Progress(500, 1000, 2, 10.0)) is False
    view = store.get(job.id)
    assert (view.state, view.rows_done, view.rows_total, view.rate, view.eta_s) == (
        "running",
        500,
        1000,
        50.0,
        10.0,
    )
    store.finish(job.id, "succeeded", None, BatchSummary("m/1", "out", 1000, 998, 2, 1, 20.0))
    done = store.get(job.id)
    assert (done.state, done.rows_total, done.errors, done.actions) == ("succeeded", 1000, 2, [])
    assert done.finished_at is not None
    with pytest.raises(ConflictError, match="already succeeded"):
        store.cancel(job.id)


def test_cancel_queued_now_running_between_chunks(store: JobStore) -> None:
    queued = store.create(_options())
    assert store.cancel(queued.id).state == "cancelled"
    running = store.create(_options())
    store.claim_next("host:1")
    assert store.cancel(running.id).state == "running"
    assert store.progress(running.id, Progress(1, None, 0, 1.0)) is True
    assert [j.id for j in store.list_jobs(state="cancelled")] == [queued.id]
    with pytest.raises(NotFoundError, match="does not exist"):
        store.get("nope")


def test_jobs_of_a_dead_server_are_requeued_with_resume(store: JobStore) -> None:
    mine = store.create(_options())
    store.claim_next("thishost-gone:1")
    other = store.create(_options())
    store.claim_next("elsewhere:2")
    with store.database.session() as session:
        row = session.get(BatchJob, other.id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(hours=1)
    with store.database.session() as session:
        row = session.get(BatchJob, mine.id)
        assert row is not None
        row.owner = f"{socket.gethostname()}:999999"
    requeued = store.recover({f"{socket.gethostname()}:1"})
    assert sorted(requeued) == sorted([mine.id, other.id])
    again = store.get(mine.id)
    assert again.state == "queued"
    assert again.options["resume"] is True


def test_resume_action_after_too_many_attempts(store: JobStore) -> None:
    job = store.create(_options())
    with store.database.session() as session:
        row = session.get(BatchJob, job.id)
        assert row is not None
        row.state, row.attempts, row.owner = "running", 3, f"{socket.gethostname()}:999999"
    assert store.recover(set()) == []
    view = store.get(job.id)
    assert (view.state, view.actions) == ("interrupted", ["resume", "cancel"])
    assert store.resume(job.id).state == "queued"
    with pytest.raises(ConflictError, match="only a stopped job resumes"):
        store.resume(job.id)
