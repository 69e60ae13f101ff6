"""Writers and the manifest: atomic parts, every format, a full disk, resume checks."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lanza.batch.manifest import Manifest, PartRecord, open_output
from lanza.batch.spec import DEFAULT_CHUNK_ROWS, BatchError, BatchOptions, RowError
from lanza.batch.writers import PartWriter
from lanza.errors import ConflictError

TABLE = pa.table({"id": ["a", "b"], "prediction": [1, 0], "proba_0": [0.2, 0.9]})


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "vertex"])
def test_each_format_writes_a_whole_part(tmp_path: Path, fmt: str) -> None:
    name = PartWriter(tmp_path, fmt).write_part(3, TABLE)
    assert name.startswith("part-00003.")
    assert [p.name for p in tmp_path.iterdir()] == [name]
    path = tmp_path / name
    if fmt == "parquet":
        assert pq.read_table(path).to_pylist()[1] == {"id": "b", "prediction": 0, "proba_0": 0.9}
    elif fmt == "csv":
        assert path.read_text().splitlines()[1] == '"a",1,0.2'
    elif fmt == "jsonl":
        assert json.loads(path.read_text().splitlines()[0]) == TABLE.to_pylist()[0]
    else:
        first = json.loads(path.read_text().splitlines()[0])
        assert first == {
            "instance": {"id": "a"},
            "prediction": {"label": 1, "classes": ["0"], "scores": [0.2]},
        }


def test_errors_file_has_row_and_reason(tmp_path: Path) -> None:
    name = PartWriter(tmp_path, "parquet").write_errors(0, [RowError(7, "bad", "in.csv")])
    line = json.loads((tmp_path / name).read_text())
    assert line == {"row": 7, "source": "in.csv", "reason": "bad"}


class FullDiskWriter(PartWriter):
    """Behaves like a disk that fills up while writing a part."""

    def _write(self, table: pa.Table, path: Path) -> None:
        path.write_bytes(b"half a part")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_is_one_sentence_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match=r"The disk is full writing .*rerun with --resume"):
        FullDiskWriter(tmp_path, "parquet").write_part(0, TABLE)
    assert list(tmp_path.iterdir()) == []


def _options(tmp_path: Path, **changes: object) -> BatchOptions:
    values: dict[str, object] = {"model": "m/1", "input": "in.csv", "output": str(tmp_path)}
    return BatchOptions(**(values | changes))  # type: ignore[arg-type]


def test_output_that_exists_needs_overwrite_or_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = open_output(out, _options(out), "m/1", ["in.csv"])
    manifest.commit(out, PartRecord(0, "part-00000.parquet", 0, 10, 9, 1))
    (out / "part-00000.parquet").write_bytes(b"x")
    with pytest.raises(ConflictError, match="pass --overwrite"):
        open_output(out, _options(out), "m/1", ["in.csv"])
    resumed = open_output(out, _options(out, resume=True), "m/1", ["in.csv"])
    assert (resumed.next_index, resumed.rows, resumed.errors) == (1, 10, 1)
    with pytest.raises(ConflictError, match=f"chunk_rows={DEFAULT_CHUNK_ROWS}, not 10"):
        open_output(out, _options(out, resume=True, chunk_rows=10), "m/1", ["in.csv"])
    with pytest.raises(ConflictError, match="input files changed"):
        open_output(out, _options(out, resume=True), "m/1", ["other.csv"])
    fresh = open_output(out, _options(out, overwrite=True), "m/1", ["in.csv"])
    assert fresh.next_index == 0
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json"]


def test_parts_commit_in_order_only(tmp_path: Path) -> None:
    manifest = Manifest("m/1", {}, ["in.csv"])
    with pytest.raises(BatchError, match="out of order"):
        manifest.commit(tmp_path, PartRecord(1, None, 0, 1, 0, 1))
    manifest.commit(tmp_path, PartRecord(0, None, 0, 1, 0, 1))
    loaded = Manifest.load(tmp_path)
    assert loaded is not None
    assert loaded.parts == manifest.parts
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
