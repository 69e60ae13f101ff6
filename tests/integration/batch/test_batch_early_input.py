"""The input's first chunks are parsed while the model loads, and the output is the same."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lanza.batch import job
from lanza.batch.job import EarlyInput, run_batch
from lanza.batch.manifest import Manifest
from lanza.batch.spec import BatchOptions, BatchSummary
from lanza.errors import DataError
from lanza.workspace import Workspace
from tests.integration.batch.conftest import make_rows

ROWS, CHUNK = 3000, 200


class Recorded(EarlyInput):
    """An early read that remembers how many chunks it held when the model was ready."""

    made: ClassVar[list[Recorded]] = []

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.held = 0
        Recorded.made.append(self)

    def fill(self, stop: Callable[[], bool]) -> None:
        super().fill(stop)
        self.held = len(self.ready)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    Recorded.made = []
    monkeypatch.setattr(job, "EarlyInput", Recorded)
    return Recorded.made


@pytest.fixture
def slow_model(batch_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that is ready only once 5 chunks were parsed early (as a first import is),
    or as many as the budget allows."""
    loader = batch_workspace.loader
    load = loader.load_version

    def slow(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            made = Recorded.made[-1] if Recorded.made else None  # the running job's
            if made and (len(made.ready) >= min(5, made.limit) or made.failed):
                break
            time.sleep(0.005)
        return load(*args, **kwargs)

    monkeypatch.setattr(loader, "load_version", slow)


def _rows(output: Path) -> pa.Table:
    manifest = Manifest.load(output)
    assert manifest is not None
    assert manifest.complete
    return pa.concat_tables([pq.read_table(output / p.file) for p in manifest.parts if p.file])


def _run(workspace: Workspace, data: Path, output: Path, **changes: Any) -> BatchSummary:
    options = BatchOptions(
        "clf@champion", str(data), str(output), keep_columns=("id",), chunk_rows=CHUNK
    )
    return run_batch(workspace, replace(options, **changes))


@pytest.mark.usefixtures("slow_model")
def test_chunks_parsed_while_the_model_loads_give_the_same_output(
    batch_workspace: Workspace,
    tmp_path: Path,
    recorded: list[Recorded],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_rows(ROWS).to_csv(tmp_path / "in.csv", index=False)
    early = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "early")
    assert recorded[0].held >= 5
    assert not recorded[0].ready  # each let go as it was scored
    Recorded.made.clear()
    monkeypatch.setattr(job, "PREFETCH_BYTES", 0)  # no early chunks
    plain = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "plain")
    assert recorded[0].held == 0
    assert (early.rows, early.written, early.parts) == (plain.rows, plain.written, plain.parts)
    assert _rows(tmp_path / "early").equals(_rows(tmp_path / "plain"))


@pytest.mark.usefixtures("slow_model")
def test_early_chunks_that_do_not_fit_the_job_are_read_again(
    batch_workspace: Workspace,
    tmp_path: Path,
    recorded: list[Recorded],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_rows(ROWS).to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.setattr(Recorded, "fits", lambda self, *args: False)  # e.g. a GPU's chunks
    summary = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "out")
    assert recorded[0].held >= 5
    assert summary.rows == ROWS
    ids = _rows(tmp_path / "out").column("id").to_pylist()
    assert ids == [f"id{i}" for i in range(ROWS)]


@pytest.mark.usefixtures("slow_model")
def test_a_malformed_line_read_early_is_the_same_error_row(
    batch_workspace: Workspace,
    tmp_path: Path,
    recorded: list[Recorded],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = (make_rows(ROWS).to_csv(index=False)).splitlines()
    lines[CHUNK * 2 + 5] += ",one,field,too,many"
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    summary = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "out")
    assert recorded[0].held >= 5  # its chunk, the third, was parsed early
    assert (summary.rows, summary.written, summary.errors) == (ROWS, ROWS - 1, 1)
    Recorded.made.clear()
    monkeypatch.setattr(job, "PREFETCH_BYTES", 0)  # no early chunks
    again = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "again")
    assert recorded[0].held == 0
    assert _rows(tmp_path / "out").equals(_rows(tmp_path / "again"))
    assert again.errors == 1
    errors = [
        {f.name: f.read_text() for f in (tmp_path / name / "_errors").iterdir()}
        for name in ("out", "again")
    ]
    assert errors[0] == errors[1]
    assert f'"row":{CHUNK * 2 + 4},' in "".join(errors[0].values())


@pytest.mark.usefixtures("slow_model")
def test_an_unreadable_chunk_met_early_stops_the_job_where_it_would_have(
    batch_workspace: Workspace, tmp_path: Path, recorded: list[Recorded]
) -> None:
    lines = make_rows(ROWS).to_csv(index=False).encode().splitlines()
    lines[CHUNK * 2 + 5] = lines[CHUNK * 2 + 5].replace(b"id", b"\xff\xfe")  # not UTF-8
    (tmp_path / "in.csv").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError, match="cannot be read"):
        _run(batch_workspace, tmp_path / "in.csv", tmp_path / "out")
    assert recorded[0].failed
    manifest = Manifest.load(tmp_path / "out")
    assert manifest is not None
    assert [p.rows for p in manifest.parts] == [CHUNK, CHUNK]  # the chunks before it


@pytest.mark.usefixtures("slow_model")
def test_a_resumed_job_reads_early_from_where_it_stopped(
    batch_workspace: Workspace, tmp_path: Path, recorded: list[Recorded]
) -> None:
    make_rows(ROWS).to_csv(tmp_path / "in.csv", index=False)
    whole = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "whole")
    _run(batch_workspace, tmp_path / "in.csv", tmp_path / "out")
    manifest = Manifest.load(tmp_path / "out")
    assert manifest is not None
    manifest.parts = manifest.parts[:4]  # as if the job had stopped after 4 parts
    manifest.complete = False
    manifest.save(tmp_path / "out")
    Recorded.made.clear()
    resumed = _run(batch_workspace, tmp_path / "in.csv", tmp_path / "out", resume=True)
    assert recorded[0].skip == 4
    assert recorded[0].held >= 5
    assert resumed.rows == whole.rows == ROWS
    assert _rows(tmp_path / "out").equals(_rows(tmp_path / "whole"))
