"""``run_batch`` end to end on a registered model: formats, bad rows, resume, MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from lanza.batch.job import JobHooks, run_batch
from lanza.batch.manifest import Manifest
from lanza.batch.spec import BatchOptions, Progress
from lanza.batch.tracking import EXPERIMENT
from lanza.errors import ConflictError, DataError, JobCancelledError
from lanza.workspace import Workspace
from tests.integration.batch.conftest import make_rows


def _options(input: Path, output: Path, **changes: object) -> BatchOptions:
    values: dict[str, object] = {
        "model": "clf@champion",
        "input": str(input),
        "output": str(output),
        "keep_columns": ("id",),
        "chunk_rows": 300,
    }
    return BatchOptions(**(values | changes))  # type: ignore[arg-type]


def test_csv_to_parquet_with_ids_probabilities_and_mlflow_run(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    make_rows(1000).to_csv(tmp_path / "in.csv", index=False)
    seen: list[Progress] = []
    summary = run_batch(
        batch_workspace,
        _options(tmp_path / "in.csv", tmp_path / "out", probabilities=True),
        JobHooks(on_progress=seen.append),
    )
    assert (summary.rows, summary.written, summary.errors, summary.parts) == (1000, 1000, 0, 4)
    assert summary.model == "clf/1"
    table = ds.dataset(tmp_path / "out").to_table().to_pandas()
    assert table.columns.tolist() == ["id", "prediction", "warnings", "proba_0", "proba_1"]
    assert table["id"].tolist() == [f"id{i}" for i in range(1000)]
    assert [p.rows_done for p in seen] == [300, 600, 900, 1000]
    manifest = Manifest.load(tmp_path / "out")
    assert manifest is not None
    assert manifest.complete
    runs = batch_workspace.mlflow.search_runs(
        [batch_workspace.mlflow.get_experiment_by_name(EXPERIMENT).experiment_id]
    )
    assert runs[0].data.metrics["rows"] == 1000.0
    assert set(runs[0].data.metrics) == {
        "rows",
        "rows_written",
        "errors",
        "rows_per_s",
        "duration_s",
        "parts",
    }
    assert runs[0].data.params["model"] == "clf@champion"
    assert runs[0].info.status == "FINISHED"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "vertex"])
def test_parquet_input_to_other_formats(
    batch_workspace: Workspace, tmp_path: Path, fmt: str
) -> None:
    make_rows(500).to_parquet(tmp_path / "in.parquet")
    summary = run_batch(
        batch_workspace, _options(tmp_path / "in.parquet", tmp_path / "out", format=fmt)
    )
    assert summary.written == 500
    parts = sorted((tmp_path / "out").glob("part-*"))
    assert len(parts) == 2
    if fmt == "csv":
        assert pd.read_csv(parts[0]).columns.tolist() == ["id", "prediction", "warnings"]
    else:
        first = json.loads(parts[0].read_text().splitlines()[0])
        if fmt == "jsonl":
            assert set(first) == {"id", "prediction", "warnings"}
        else:
            assert set(first) == {"instance", "prediction"}
            assert set(first["instance"]) == {"f0", "f1", "f2", "f3", "id"}


def test_bad_rows_go_to_the_errors_file_and_the_job_goes_on(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    frame = make_rows(700).astype({"f2": object})
    frame.loc[[10, 650], "f2"] = "twelve"
    frame.to_csv(tmp_path / "in.csv", index=False)
    summary = run_batch(batch_workspace, _options(tmp_path / "in.csv", tmp_path / "out"))
    assert (summary.rows, summary.written, summary.errors) == (700, 698, 2)
    lines = [
        json.loads(line)
        for path in sorted((tmp_path / "out" / "_errors").iterdir())
        for line in path.read_text().splitlines()
    ]
    assert [line["row"] for line in lines] == [10, 650]
    assert "Column 'f2' must be a number" in lines[0]["reason"]
    ids = ds.dataset(tmp_path / "out").to_table().column("id").to_pylist()
    assert "id10" not in ids
    assert len(ids) == 698


def test_missing_column_and_existing_output_stop_with_a_sentence(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    make_rows(10).drop(columns=["f3"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="Column 'f3' is missing from"):
        run_batch(batch_workspace, _options(tmp_path / "bad.csv", tmp_path / "out1"))
    make_rows(10).to_csv(tmp_path / "in.csv", index=False)
    run_batch(batch_workspace, _options(tmp_path / "in.csv", tmp_path / "out"))
    with pytest.raises(ConflictError, match="already has files"):
        run_batch(batch_workspace, _options(tmp_path / "in.csv", tmp_path / "out"))


def test_cancel_between_chunks_then_resume_gives_every_row_once(
    batch_workspace: Workspace, tmp_path: Path
) -> None:
    make_rows(1500).to_csv(tmp_path / "in.csv", index=False)
    options = _options(tmp_path / "in.csv", tmp_path / "out")
    done: list[int] = []
    hooks = JobHooks(
        on_progress=lambda p: done.append(p.rows_done), cancelled=lambda: len(done) >= 2
    )
    with pytest.raises(JobCancelledError, match="cancelled after 600 rows"):
        run_batch(batch_workspace, options, hooks)
    summary = run_batch(
        batch_workspace, _options(tmp_path / "in.csv", tmp_path / "out", resume=True)
    )
    assert (summary.rows, summary.resumed_from, summary.parts) == (1500, 600, 5)
    ids = ds.dataset(tmp_path / "out").to_table().column("id").to_pylist()
    assert ids == [f"id{i}" for i in range(1500)]


@pytest.mark.parametrize(
    ("suffix", "earlier", "resumes"),
    [("csv", None, False), ("jsonl", 2, False), ("csv", 2, True)],
)
def test_a_text_job_begun_by_an_earlier_chunking_is_not_resumed_into_wrong_rows(
    batch_workspace: Workspace, tmp_path: Path, suffix: str, earlier: int | None, resumes: bool
) -> None:
    """Chunks were parsed rows before CSV (2) and then JSON Lines (3) were cut into lines."""
    data = tmp_path / f"in.{suffix}"
    if suffix == "csv":
        make_rows(1500).to_csv(data, index=False)
    else:
        make_rows(1500).to_json(data, orient="records", lines=True)
    done: list[int] = []
    hooks = JobHooks(on_progress=lambda p: done.append(1), cancelled=lambda: len(done) >= 2)
    with pytest.raises(JobCancelledError):
        run_batch(batch_workspace, _options(data, tmp_path / "out"), hooks)
    path = tmp_path / "out" / "_manifest.json"
    written = json.loads(path.read_text())
    assert written["chunking"] == 3
    if earlier is None:
        del written["chunking"]  # as the first lanza wrote it
    else:
        written["chunking"] = earlier
    path.write_text(json.dumps(written))
    resumed = _options(data, tmp_path / "out", resume=True)
    if resumes:
        assert run_batch(batch_workspace, resumed).rows == 1500
        return
    with pytest.raises(ConflictError, match="started by an earlier lanza"):
        run_batch(batch_workspace, resumed)
