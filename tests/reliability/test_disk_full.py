"""A batch job on a disk that fills up: it stops cleanly, and ``--resume`` finishes it once.

The output folder is a small tmpfs mounted for the test (root only); a ballast file leaves
room for a few parts. Where mounting is not allowed the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lanza.batch.manifest import Manifest
from tests.reliability.conftest import FEATURES

pytestmark = pytest.mark.slow
ROWS = 30_000


def test_disk_full_stops_the_job_and_resume_finishes_it_exactly_once(
    model_home: Path, small_disk: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    rows = cancer[FEATURES].sample(ROWS, replace=True, random_state=0).reset_index(drop=True)
    rows.insert(0, "id", [f"id{i}" for i in range(ROWS)])
    rows.to_csv(tmp_path / "in.csv", index=False)
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (512 * 1024 - 96 * 1024))  # room for a few parts only
    out = small_disk / "out"
    command = [
        *(sys.executable, "-m", "lanza", "batch", "cancer/1", str(tmp_path / "in.csv")),
        *(str(out), "--keep-columns", "id", "--chunk-rows", "1000", "--json"),
    ]
    env = {**os.environ, "LANZA_HOME": str(model_home)}
    env["LANZA_DATABASE_URL"] = f"sqlite:///{tmp_path}/lanza.db"

    full = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert full.returncode != 0
    assert "disk is full" in full.stderr + full.stdout
    assert "Traceback" not in full.stderr
    manifest = Manifest.load(out)
    committed = 0 if manifest is None else len(manifest.parts)
    assert 0 < committed < ROWS // 1000  # it stopped part-way, with parts committed

    ballast.unlink()
    resumed = subprocess.run(
        [*command, "--resume"], env=env, capture_output=True, text=True, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["rows"] == ROWS
    manifest = Manifest.load(out)
    assert manifest is not None
    table = pa.concat_tables([pq.read_table(out / p.file) for p in manifest.parts if p.file])
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == ROWS
    leftovers = {p.name for p in out.iterdir()} - {p.file for p in manifest.parts}
    assert all(not name.startswith(".") for name in leftovers), leftovers
