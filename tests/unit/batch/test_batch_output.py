"""Writers and the manifest: atomic parts, every format, a full disk, resume checks."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lanza.batch.manifest import MANIFEST, PART_LOG, Manifest, PartRecord, open_output
from lanza.batch.spec import DEFAULT_CHUNK_ROWS, BatchOptions, RowError
from lanza.batch.writers import PartWriter
from lanza.errors import BatchError, ConflictError

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
    manifest.save(tmp_path)
    with pytest.raises(BatchError, match="out of order"):
        manifest.commit(tmp_path, PartRecord(1, None, 0, 1, 0, 1))
    manifest.commit(tmp_path, PartRecord(0, None, 0, 1, 0, 1))
    loaded = Manifest.load(tmp_path)
    assert loaded is not None
    assert loaded.parts == manifest.parts
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_a_part_appends_one_line_and_the_whole_file_takes_the_log_in(tmp_path: Path) -> None:
    manifest = Manifest("m/1", {}, ["in.csv"])
    manifest.save(tmp_path)
    before = (tmp_path / MANIFEST).read_bytes()
    for index in range(3):
        manifest.commit(tmp_path, PartRecord(index, f"part-{index}", index * 2, 2, 2, 0))
    assert (tmp_path / MANIFEST).read_bytes() == before  # not rewritten per part
    assert len((tmp_path / PART_LOG).read_bytes().splitlines()) == 3
    loaded = Manifest.load(tmp_path)
    assert loaded is not None
    assert loaded.parts == manifest.parts
    manifest.complete = True
    manifest.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]
    done = Manifest.load(tmp_path)
    assert done is not None
    assert (done.complete, done.parts) == (True, manifest.parts)


def test_a_torn_last_line_and_parts_already_in_the_file_are_not_counted(tmp_path: Path) -> None:
    manifest = Manifest("m/1", {}, ["in.csv"])
    manifest.save(tmp_path)
    manifest.commit(tmp_path, PartRecord(0, "part-0", 0, 2, 2, 0))
    manifest.commit(tmp_path, PartRecord(1, "part-1", 2, 2, 2, 0))
    log = (tmp_path / PART_LOG).read_bytes()
    # A stop between the whole file's rename and the log's removal: both list part 0.
    Manifest("m/1", {}, ["in.csv"], parts=manifest.parts[:1]).save(tmp_path)
    (tmp_path / PART_LOG).write_bytes(log + b'{"index": 2, "fi')
    loaded = Manifest.load(tmp_path)
    assert loaded is not None
    assert [p.index for p in loaded.parts] == [0, 1]


def test_resuming_takes_the_log_into_the_file(tmp_path: Path) -> None:
    options = BatchOptions(model="m/1", input="in.csv", output=str(tmp_path))
    manifest = open_output(tmp_path, options, "m/1", ["in.csv"])
    manifest.commit(tmp_path, PartRecord(0, None, 0, 1, 0, 1))
    (tmp_path / PART_LOG).write_bytes((tmp_path / PART_LOG).read_bytes() + b"{torn")
    resumed = open_output(
        tmp_path,
        BatchOptions(model="m/1", input="in.csv", output=str(tmp_path), resume=True),
        "m/1",
        ["in.csv"],
    )
    assert [p.index for p in resumed.parts] == [0]
    assert not (tmp_path / PART_LOG).exists()
    resumed.commit(tmp_path, PartRecord(1, None, 1, 1, 0, 1))
    again = Manifest.load(tmp_path)
    assert again is not None
    assert [p.index for p in again.parts] == [0, 1]
