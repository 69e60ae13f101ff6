"""The ray engine on a local Ray cluster that the test starts and stops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.workspace import Workspace
from tests.integration.batch.conftest import make_rows

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.usefixtures("local_ray")
def test_ray_engine_writes_what_the_local_engine_writes(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    frame = make_rows(2_000).astype({"f1": object})
    frame.loc[1234, "f1"] = "bad"
    frame.to_csv(tmp_path / "in.csv", index=False)
    outputs = {}
    for engine in ("local", "ray"):
        options = BatchOptions(
            "clf@champion",
            str(tmp_path / "in.csv"),
            str(tmp_path / engine),
            engine=engine,  # type: ignore[arg-type]
            keep_columns=("id",),
            probabilities=True,
            chunk_rows=250,
            workers=2,
        )
        summary = run_batch(batch_workspace, options)
        assert (summary.rows, summary.errors, summary.parts) == (2_000, 1, 8)
        outputs[engine] = ds.dataset(tmp_path / engine).to_table()
    assert outputs["ray"].equals(outputs["local"])
    assert ray.is_initialized()  # the engine leaves a cluster it did not start running
