"""``/api/v1/batch-jobs`` on a real server: queue, watch, cancel, resume, survive a restart."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset as ds
import pytest

from lanza.batch.spec import BatchOptions
from lanza.batch.store import JobStore
from lanza.batch.tables import BatchJob
from lanza.server import create_app
from lanza.workspace import Workspace
from tests.integration.batch.conftest import make_rows
from tests.servers import running, wait_for

JOBS = "/api/v1/batch-jobs"


def _job(url: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}{JOBS}/{job_id}", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _ids(output: Path) -> list[str]:
    return [str(v) for v in ds.dataset(output).to_table().column("id").to_pylist()]


@pytest.mark.slow
def test_queue_watch_cancel_and_resume_over_http(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    make_rows(60_000).to_csv(tmp_path / "in.csv", index=False)
    body = {
        "model": "clf@champion",
        "input": str(tmp_path / "in.csv"),
        "output": str(tmp_path / "out"),
        "keep_columns": ["id"],
        "chunk_rows": 200,
    }
    with running(create_app(workspace=batch_workspace)) as url:
        assert httpx.post(url + JOBS, json={**body, "format": "xml"}).status_code == 400
        unknown = httpx.post(url + JOBS, json={**body, "model": "nope@champion"})
        assert unknown.status_code == 404
        created = httpx.post(url + JOBS, json=body, timeout=10)
        assert created.status_code == 201
        job_id = created.json()["id"]
        wait_for(lambda: _job(url, job_id)["rows_done"] > 0, timeout=60)
        cancel = httpx.delete(f"{url}{JOBS}/{job_id}", timeout=10)
        assert cancel.status_code == 202
        wait_for(lambda: _job(url, job_id)["state"] == "cancelled", timeout=60)
        stopped = _job(url, job_id)
        assert 0 < stopped["rows_done"] < 60_000
        assert stopped["actions"] == ["resume"]
        taken = httpx.post(url + JOBS, json=body, timeout=10)
        assert taken.status_code == 409
        resumed = httpx.post(f"{url}{JOBS}/{job_id}/resume", timeout=10)
        assert resumed.json()["state"] == "queued"
        wait_for(lambda: _job(url, job_id)["state"] == "succeeded", timeout=120)
        done = _job(url, job_id)
        assert (done["rows_done"], done["rows_total"], done["errors"]) == (60_000, 60_000, 0)
        assert done["run_id"]
        listed = httpx.get(url + JOBS, timeout=10).json()
        assert [j["id"] for j in listed] == [job_id]
    assert _ids(tmp_path / "out") == [f"id{i}" for i in range(60_000)]


@pytest.mark.slow
def test_a_job_left_running_by_a_dead_server_resumes_on_start(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    make_rows(3_000).to_csv(tmp_path / "in.csv", index=False)
    options = BatchOptions(
        "clf@champion", str(tmp_path / "in.csv"), str(tmp_path / "out"), keep_columns=("id",)
    )
    store = JobStore(batch_workspace.database)
    job = store.create(options)
    store.claim_next(f"{socket.gethostname()}:999999")  # a server process that is gone
    with batch_workspace.database.session() as session:
        row = session.get(BatchJob, job.id)
        assert row is not None
        assert row.state == "running"
    with running(create_app(workspace=batch_workspace)) as url:
        wait_for(lambda: _job(url, job.id)["state"] == "succeeded", timeout=60)
        assert _job(url, job.id)["attempts"] == 2
    assert _ids(tmp_path / "out") == [f"id{i}" for i in range(3_000)]
