"""``lanza batch`` as a user runs it: kill -9 mid-run and resume, errors, ``lanza jobs``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lanza.batch.job import run_batch
from lanza.batch.manifest import MANIFEST, Manifest
from lanza.batch.spec import BatchOptions
from lanza.batch.store import JobStore
from lanza.batch.tracking import EXPERIMENT
from lanza.cli.app import app
from lanza.errors import InvalidInputError, NotFoundError
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.batch.conftest import make_rows

LANZA = [sys.executable, "-m", "lanza"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "LANZA_HOME": str(home)}


def _committed(output: Path) -> pa.Table:
    """The rows of the parts the manifest lists (what a reader of the output may trust)."""
    manifest = Manifest.load(output)
    assert manifest is not None
    files = [output / p.file for p in manifest.parts if p.file]
    return pa.concat_tables([pq.read_table(f) for f in files])


def _runs_of(home: Path, output: Path, count: int) -> list[str]:
    """The statuses of the MLflow runs of jobs that wrote ``output``, once ``count`` are
    logged: the command hands its run to a drain that ends after it."""
    workspace = Workspace(Settings(home=home))
    try:
        deadline = time.monotonic() + 90
        while True:
            experiment = workspace.mlflow.get_experiment_by_name(EXPERIMENT)
            runs = (
                []
                if experiment is None
                else workspace.mlflow.search_runs(
                    [experiment.experiment_id], f"params.output = '{output}'"
                )
            )
            done = [r.info.status for r in runs if r.info.status != "RUNNING"]
            if len(done) >= count or time.monotonic() > deadline:
                return sorted(done)
            time.sleep(0.2)
    finally:
        workspace.close()


def _parts(output: Path) -> int:
    try:
        manifest = Manifest.load(output)
    except Exception:  # caught mid-rename on a slow disk: try again
        return 0
    return 0 if manifest is None else len(manifest.parts)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_kill_9_mid_run_then_resume_writes_every_row_exactly_once(
    batch_home: Path, tmp_path: Path, suffix: str
) -> None:
    data = tmp_path / f"in.{suffix}"
    if suffix == "csv":
        make_rows(120_000).to_csv(data, index=False)
    else:
        make_rows(120_000).to_json(data, orient="records", lines=True)
    args = ["batch", "clf@champion", str(data)]
    flags = ["--keep-columns", "id", "--chunk-rows", "400", "--json"]
    env = _env(batch_home)
    options = BatchOptions(
        "clf@champion",
        str(data),
        str(tmp_path / "whole"),
        keep_columns=("id",),
        chunk_rows=400,
    )
    workspace = Workspace(Settings(home=batch_home))
    assert run_batch(workspace, options).rows == 120_000
    workspace.close()

    victim = subprocess.Popen(
        [*LANZA, *args, str(tmp_path / "out"), *flags], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while _parts(tmp_path / "out") < 20 and time.monotonic() < deadline:
        assert victim.poll() is None, "the job ended before it could be killed"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = _parts(tmp_path / "out")
    assert 20 <= killed_at < 300

    resumed = subprocess.run(
        [*LANZA, *args, str(tmp_path / "out"), *flags, "--resume"],
        env=env,
        capture_output=True,
        check=True,
    )
    summary = json.loads(resumed.stdout)
    assert summary["rows"] == 120_000
    assert summary["resumed_from"] >= killed_at * 400
    whole, out = _committed(tmp_path / "whole"), _committed(tmp_path / "out")
    ids = out.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 120_000
    assert out.equals(whole)
    manifest = Manifest.load(tmp_path / "out")
    assert manifest is not None
    listed = {p.file for p in manifest.parts} | {MANIFEST}
    assert {p.name for p in (tmp_path / "out").iterdir()} == listed
    assert _runs_of(batch_home, tmp_path / "out", 2) == ["FINISHED", "KILLED"]


HEAVY = ("mlflow", "sqlalchemy", "alembic", "fastapi")
WITHOUT_EXIT = f"""
import json, sys
from lanza.cli.app import main
try:
    main()
except SystemExit:
    pass
loaded = {{m.split(".")[0] for m in sys.modules}}
print(json.dumps(sorted(loaded & set({HEAVY!r}))), file=sys.stderr)
"""


def test_the_command_scores_without_importing_mlflow_and_its_run_follows(
    batch_home: Path, tmp_path: Path
) -> None:
    make_rows(500).to_csv(tmp_path / "in.csv", index=False)
    shutil.rmtree(batch_home / "models", ignore_errors=True)  # the first load on this machine
    args = ["batch", "clf@champion", str(tmp_path / "in.csv"), str(tmp_path / "out"), "--json"]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXIT, *args],
        env=_env(batch_home),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["written"] == 500
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
    assert _runs_of(batch_home, tmp_path / "out", 1) == ["FINISHED"]


def test_cli_errors_are_one_sentence(batch_home: Path, tmp_path: Path) -> None:
    make_rows(50).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("keep me")
    env = _env(batch_home)
    base = [*LANZA, "batch", "clf@champion", str(tmp_path / "in.csv"), str(tmp_path / "out")]
    taken = subprocess.run(base, check=False, env=env, capture_output=True, text=True)
    assert taken.returncode == 1
    assert "already has files; pass --overwrite" in taken.stderr
    assert "Traceback" not in taken.stderr


def test_ray_engine_without_ray_says_how_to_install_it(
    batch_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_rows(50).to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra looks like
    args = ["--home", str(batch_home), "batch", "clf@champion", str(tmp_path / "in.csv")]
    result = CliRunner().invoke(app, [*args, str(tmp_path / "out"), "--engine", "ray"])
    assert isinstance(result.exception, InvalidInputError)
    assert "The ray engine needs Ray: pip install ray" in str(result.exception)


def test_jobs_commands_read_the_servers_database(batch_home: Path, tmp_path: Path) -> None:
    database = tmp_path / "lanza.db"
    workspace = Workspace(Settings(home=batch_home, database_url=f"sqlite:///{database}"))
    job = JobStore(workspace.database).create(BatchOptions("clf@champion", "in.csv", "out"))
    workspace.close()
    runner = CliRunner()
    base = ["--home", str(batch_home), "--database-url", f"sqlite:///{database}", "jobs"]
    listed = runner.invoke(app, [*base, "list", "--json"])
    assert [j["id"] for j in json.loads(listed.stdout)] == [job.id]
    cancelled = runner.invoke(app, [*base, "cancel", job.id])
    assert "is cancelled" in cancelled.stdout
    shown = runner.invoke(app, [*base, "show", job.id, "--json"])
    assert json.loads(shown.stdout)["state"] == "cancelled"
    missing = runner.invoke(app, [*base, "show", "nope"])
    assert isinstance(missing.exception, NotFoundError)
    assert str(missing.exception) == "Batch job 'nope' does not exist."
