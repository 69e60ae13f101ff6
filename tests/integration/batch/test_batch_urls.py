"""``run_batch`` into an fsspec URL: same rows as a folder, resume exactly once, clear refusals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec  # type: ignore[import-untyped]
import httpx
import pyarrow.dataset as ds
import pytest

from lanza.batch.job import JobHooks, run_batch
from lanza.batch.manifest import Manifest
from lanza.batch.remote import RemoteFolder, output_folder
from lanza.batch.spec import BatchOptions
from lanza.errors import ConflictError, InvalidInputError, JobCancelledError
from lanza.server import create_app
from lanza.workspace import Workspace
from tests.integration.batch.conftest import make_rows
from tests.servers import running, wait_for

MEMORY = fsspec.filesystem("memory")


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh ``memory://`` output, removed afterwards."""
    root = f"/batch-{uuid.uuid4().hex}"
    yield f"memory:/{root}/"
    if MEMORY.exists(root):
        MEMORY.rm(root, recursive=True)


def _options(input: Path, output: str, **changes: object) -> BatchOptions:
    values: dict[str, object] = {
        "model": "clf@champion",
        "input": str(input),
        "output": output,
        "keep_columns": ("id",),
        "chunk_rows": 300,
    }
    return BatchOptions(**(values | changes))  # type: ignore[arg-type]


def _ids(url: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(url)
    table = ds.dataset(root, filesystem=fs, format="parquet").to_table()
    return [str(i) for i in table.column("id").to_pylist()]


def test_a_memory_url_gets_the_rows_a_folder_gets(
    batch_workspace: Workspace, tmp_path: Path, url: str
) -> None:
    make_rows(1000).to_csv(tmp_path / "in.csv", index=False)
    local = run_batch(batch_workspace, _options(tmp_path / "in.csv", str(tmp_path / "out")))
    remote = run_batch(batch_workspace, _options(tmp_path / "in.csv", url, probabilities=False))
    assert (remote.rows, remote.written, remote.parts) == (local.rows, local.written, local.parts)
    assert remote.output == url
    expected = ds.dataset(tmp_path / "out").to_table()
    fs, root = fsspec.core.url_to_fs(url)
    got = ds.dataset(root, filesystem=fs, format="parquet").to_table()
    assert got.equals(expected)
    folder = output_folder(url)
    assert isinstance(folder, RemoteFolder)
    manifest = Manifest.load(folder)
    assert manifest is not None
    assert manifest.complete
    assert [p.file for p in manifest.parts] == sorted(f for f in folder.names() if "part-" in f)


def test_bad_rows_go_to_an_errors_object(
    batch_workspace: Workspace, tmp_path: Path, url: str
) -> None:
    frame = make_rows(400).astype({"f2": object})
    frame.loc[[350], "f2"] = "twelve"
    frame.to_csv(tmp_path / "in.csv", index=False)
    summary = run_batch(batch_workspace, _options(tmp_path / "in.csv", url, format="jsonl"))
    assert (summary.rows, summary.written, summary.errors) == (400, 399, 1)
    folder = output_folder(url)
    assert isinstance(folder, RemoteFolder)
    assert b'"row":350' in (folder.read("_errors/part-00001.jsonl") or b"")


def test_cancelled_then_resumed_on_a_url_writes_every_row_once(
    batch_workspace: Workspace, tmp_path: Path, url: str
) -> None:
    make_rows(1500).to_csv(tmp_path / "in.csv", index=False)
    done: list[int] = []
    hooks = JobHooks(
        on_progress=lambda p: done.append(p.rows_done), cancelled=lambda: len(done) >= 2
    )
    with pytest.raises(JobCancelledError, match="cancelled after 600 rows"):
        run_batch(batch_workspace, _options(tmp_path / "in.csv", url), hooks)
    folder = output_folder(url)
    assert isinstance(folder, RemoteFolder)
    # A kill between a part's upload and the manifest's write leaves unlisted objects.
    stray = ds.dataset(f"{folder.root}/part-00000.parquet", filesystem=folder.fs).to_table()
    folder.upload("part-00002.parquet", _local_copy(folder, "part-00000.parquet", tmp_path))
    folder.upload("part-00007.parquet", _local_copy(folder, "part-00000.parquet", tmp_path))
    folder.write("_errors/part-00009.jsonl", b'{"row": 1}\n')
    assert stray.num_rows == 300
    with pytest.raises(ConflictError, match="already has files; pass --overwrite"):
        run_batch(batch_workspace, _options(tmp_path / "in.csv", url))
    summary = run_batch(batch_workspace, _options(tmp_path / "in.csv", url, resume=True))
    assert (summary.rows, summary.resumed_from, summary.parts) == (1500, 600, 5)
    assert _ids(url) == [f"id{i}" for i in range(1500)]
    assert "_errors/part-00009.jsonl" not in folder.names()


def test_overwrite_on_a_url_starts_again(
    batch_workspace: Workspace, tmp_path: Path, url: str
) -> None:
    make_rows(900).to_csv(tmp_path / "in.csv", index=False)
    run_batch(batch_workspace, _options(tmp_path / "in.csv", url))
    make_rows(400).to_csv(tmp_path / "small.csv", index=False)
    summary = run_batch(batch_workspace, _options(tmp_path / "small.csv", url, overwrite=True))
    assert summary.parts == 2
    assert _ids(url) == [f"id{i}" for i in range(400)]


def test_a_file_url_is_a_local_folder(batch_workspace: Workspace, tmp_path: Path) -> None:
    make_rows(500).to_csv(tmp_path / "in.csv", index=False)
    summary = run_batch(batch_workspace, _options(tmp_path / "in.csv", f"file://{tmp_path}/out/"))
    assert summary.written == 500
    ids = ds.dataset(tmp_path / "out").to_table().column("id").to_pylist()
    assert ids == [f"id{i}" for i in range(500)]
    assert Manifest.load(tmp_path / "out") is not None


def test_an_unknown_protocol_is_refused_with_a_sentence(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="unknown protocol 'nosuch'"):
        run_batch(batch_workspace, _options(tmp_path / "in.csv", "nosuch://bucket/out/"))
    assert not (Path.cwd() / "nosuch:").exists()


def test_the_server_runs_a_job_into_a_url_and_refuses_it_twice(
    batch_workspace: Workspace, tmp_path: Path, url: str
) -> None:
    make_rows(500).to_csv(tmp_path / "in.csv", index=False)
    body = {"model": "clf@champion", "input": str(tmp_path / "in.csv"), "output": url}
    jobs = "/api/v1/batch-jobs"
    with running(create_app(workspace=batch_workspace)) as base:
        created = httpx.post(base + jobs, json={**body, "keep_columns": ["id"]}, timeout=10)
        assert created.status_code == 201
        job = f"{base}{jobs}/{created.json()['id']}"
        wait_for(lambda: httpx.get(job, timeout=10).json()["state"] == "succeeded", timeout=60)
        again = httpx.post(base + jobs, json=body, timeout=10)
        assert again.status_code == 409
        assert "already has files" in again.text
        missing = httpx.post(base + jobs, json={**body, "output": "nosuch://b/out/"}, timeout=10)
        assert missing.status_code == 400
    assert _ids(url) == [f"id{i}" for i in range(500)]


def _local_copy(folder: RemoteFolder, name: str, tmp_path: Path) -> Path:
    local = tmp_path / f"copy-{name}"
    local.write_bytes(folder.read(name) or b"")
    return local
