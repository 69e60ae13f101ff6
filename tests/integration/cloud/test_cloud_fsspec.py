"""Batch inputs by fsspec URL: the path ``gs://`` takes, on local fsspec file systems."""

from __future__ import annotations

from pathlib import Path

import fsspec  # type: ignore[import-untyped]
import pandas as pd
import pytest

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.cloud.conftest import make_rows


@pytest.fixture
def workspace_on_registry(cloud_env: dict[str, str]) -> Workspace:
    return Workspace(Settings())


def _scored(folder: Path) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet")))


def test_memory_filesystem_input_is_scored_like_a_bucket(
    workspace_on_registry: Workspace, tmp_path: Path
) -> None:
    rows = make_rows(250, seed=6)
    memory = fsspec.filesystem("memory")
    for index, part in enumerate((rows.iloc[:100], rows.iloc[100:])):
        with memory.open(f"/bucket/day/part-{index}.csv", "w") as handle:
            part.to_csv(handle, index=False)
    out = tmp_path / "out"
    try:
        summary = run_batch(
            workspace_on_registry,
            BatchOptions("clf@champion", "memory://bucket/day/", str(out), chunk_rows=64),
        )
    finally:
        memory.rm("/bucket", recursive=True)
        workspace_on_registry.close()
    assert (summary.rows, summary.written, summary.errors) == (250, 250, 0)
    assert len(_scored(out)) == 250


def test_file_url_glob_matches_the_local_path(
    workspace_on_registry: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = make_rows(120, seed=7)
    rows.iloc[:60].to_parquet(folder / "a.parquet")
    rows.iloc[60:].to_parquet(folder / "b.parquet")
    by_url = run_batch(
        workspace_on_registry,
        BatchOptions("clf/1", f"file://{folder}/*.parquet", str(tmp_path / "url")),
    )
    by_path = run_batch(
        workspace_on_registry, BatchOptions("clf/1", str(folder), str(tmp_path / "path"))
    )
    workspace_on_registry.close()
    assert by_url.rows == by_path.rows == 120
    pd.testing.assert_frame_equal(_scored(tmp_path / "url"), _scored(tmp_path / "path"))
