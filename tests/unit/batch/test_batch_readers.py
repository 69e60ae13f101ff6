"""Readers: inputs resolved to files, chunks of exact sizes, bad CSV values kept per row."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from lanza.batch.readers import (
    ChunkReader,
    _newline_ended,
    rebatch,
    resolve_input,
    split_lines,
)
from lanza.batch.spec import Chunk
from lanza.errors import DataError


def _frame(rows: int, offset: int = 0) -> pd.DataFrame:
    ids = range(offset, offset + rows)
    return pd.DataFrame({"id": ids, "a": [i * 0.5 for i in ids], "b": [1.0] * rows})


def _reader(path: Path | str, chunk_rows: int = 4, kept: list[str] | None = None) -> ChunkReader:
    inputs = resolve_input(str(path))
    return ChunkReader(inputs, ["a", "b"], kept or ["id"], chunk_rows, numeric={"a", "b"})


def _chunks(reader: ChunkReader, skip: int = 0) -> list[Chunk]:
    """Every chunk, CSV blocks parsed as the scorer parses them."""
    return [c.load() for c in reader.chunks(skip)]


def test_rebatch_cuts_exact_sizes_across_batches() -> None:
    batches = [pa.record_batch({"x": list(range(n))}) for n in (3, 0, 5, 1, 7)]
    sizes = [t.num_rows for t in rebatch(iter(batches), 4)]
    assert sizes == [4, 4, 4, 4]


def test_folder_glob_and_formats_give_the_same_chunks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _frame(5).to_csv(data / "p0.csv", index=False)
    _frame(6, 5).to_parquet(data / "p1.parquet")
    _frame(3, 11).to_json(data / "p2.jsonl", orient="records", lines=True)
    (data / "_SUCCESS").write_text("")
    chunks = _chunks(_reader(data))
    assert [(c.index, c.start, c.rows) for c in chunks] == [
        (0, 0, 4),
        (1, 4, 1),
        (2, 5, 4),
        (3, 9, 2),
        (4, 11, 3),
    ]
    ids = [int(v) for c in chunks for v in c.kept.column("id").to_pylist()]
    assert ids == list(range(14))
    assert len(resolve_input(str(data / "*.parquet")).files) == 1


def test_skip_reads_past_committed_chunks(tmp_path: Path) -> None:
    _frame(10).to_csv(tmp_path / "in.csv", index=False)
    chunks = _chunks(_reader(tmp_path / "in.csv"), skip=2)
    assert [(c.index, c.start) for c in chunks] == [(2, 8)]


def test_bad_number_rereads_csv_as_text_without_losing_rows(tmp_path: Path) -> None:
    frame = _frame(10).astype({"a": object})
    frame.loc[7, "a"] = "oops"
    frame.to_csv(tmp_path / "in.csv", index=False)
    chunks = _chunks(_reader(tmp_path / "in.csv", chunk_rows=3))
    assert sum(c.rows for c in chunks) == 10
    ids = [int(v) for c in chunks for v in c.kept.column("id").to_pylist()]
    assert ids == list(range(10))
    assert chunks[-2].features.column("a").to_pylist()[1] == "oops"


def test_malformed_line_is_an_error_row_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    _frame(4).to_csv(path, index=False)
    with path.open("a") as handle:
        handle.write("1,2\n\n5,2.5,1\n")
    chunks = _chunks(_reader(path, chunk_rows=3))
    assert [(c.start, c.rows, c.features.num_rows) for c in chunks] == [(0, 3, 3), (3, 3, 2)]
    errors = [e for c in chunks for e in c.errors]
    assert [e.row for e in errors] == [4]
    assert "2 fields where the header has 3" in errors[0].reason
    assert chunks[1].row_numbers().tolist() == [3, 5]
    assert chunks[1].kept.column("id").to_pylist() == [3, 5]  # kept in its type


def test_lines_are_cut_exactly_across_reads_and_line_endings() -> None:
    """Empty lines (with or without a carriage return) are not rows; reads cut lines anywhere."""
    text = b"1,2\r\n\r\n3,4\n\n\n5,6\r\n7,8\n9,10"
    for size in (1, 2, 3, 5, 64):
        handle = io.BytesIO(text)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("lanza.batch.readers.READ_BYTES", size)
            blocks = list(split_lines(handle, 2))
        assert [lines for _, lines, _ in blocks] == [2, 2, 1], size
        assert b"".join(raw for raw, _, _ in blocks) == text
        assert blocks[-1][2] == len(text)
    assert [n for _, n, _ in split_lines(io.BytesIO(b"1,2\n\r\n\n"), 5)] == [1]
    assert list(split_lines(io.BytesIO(b"\n\n"), 5)) == []


def test_missing_column_names_it(tmp_path: Path) -> None:
    _frame(3).drop(columns=["b"]).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataError, match="Column 'b' is missing"):
        _chunks(_reader(tmp_path / "in.csv"))


def test_missing_input_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        resolve_input(str(tmp_path / "nope.csv"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot be read"):
        _chunks(_reader(tmp_path / "broken.parquet"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="holds no CSV"):
        resolve_input(str(tmp_path / "notes"))


def test_json_lines_keep_one_type_per_column_and_bad_lines_cost_only_their_row(
    tmp_path: Path,
) -> None:
    lines = [
        '{"id": 0, "a": 1, "b": 2}',
        '{"id": 1, "a": 2, "b": 2, "extra": [1]}',
        '{"id": 2, "a": 3, "b": 2}',
        '{"id": 3, "a": 0.5, "b": 2}',  # a float after integers: read, not refused
        '{"id": 4, "a": oops',
        '{"id": 5, "a": "twelve", "b": 2}',
        "[1, 2]",
        "   ",
        '{"id": 8, "b": 3}',  # a missing value is null
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")
    chunks = _chunks(_reader(path, chunk_rows=3))
    assert [(c.start, c.rows) for c in chunks] == [(0, 3), (3, 3), (6, 3)]
    assert [c.features.schema.types for c in chunks] == [[pa.float64(), pa.float64()]] * 3
    rows = [
        (int(i), a)
        for c in chunks
        for i, a in zip(c.kept["id"].to_pylist(), c.features["a"].to_pylist(), strict=True)
    ]
    assert rows == [(0, 1.0), (1, 2.0), (2, 3.0), (3, 0.5), (8, None)]
    assert [n for c in chunks for n in c.row_numbers().tolist()] == [0, 1, 2, 3, 8]
    reasons = {e.row: e.reason for c in chunks for e in c.errors}
    assert sorted(reasons) == [4, 5, 6, 7]
    assert reasons[4].startswith("the line is not valid JSON")
    assert reasons[5] == "column 'a' holds \"twelve\", where the file has numbers"
    assert reasons[6] == "the line is not a JSON object: b'[1, 2]'"
    assert reasons[7] == "the line does not hold exactly one JSON object"


def test_json_lines_whose_first_line_is_broken_take_types_from_the_next(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 0, "a": \n  \n{"id": 1, "a": 1, "b": 2}\n{"id": 2, "a": 4, "b": 1}\n')
    (chunk,) = _chunks(_reader(path, chunk_rows=5))
    assert chunk.kept["id"].to_pylist() == [1, 2]
    assert [e.row for e in chunk.errors] == [0, 1]


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "jsonl"])
def test_lines_ending_in_a_bare_carriage_return_are_cut_into_blocks(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"in.{suffix}"
    frame = _frame(10)
    if suffix == "jsonl":
        text = frame.to_json(orient="records", lines=True)
    else:
        text = frame.to_csv(index=False)
    data = text.replace("\n", "\r").encode()
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("lanza.batch.readers.READ_BYTES", 16)
        chunks = _chunks(_reader(path))
    assert [(c.start, c.rows) for c in chunks] == [(0, 4), (4, 4), (8, 2)]
    assert [int(i) for c in chunks for i in c.kept["id"].to_pylist()] == list(range(10))


def test_a_stream_that_cannot_seek_is_read_whole_without_sniffing() -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.data.readinto(buffer)

    text = b"id,a,b\n" + b"".join(b"%d,1,2\n" % i for i in range(5000))
    handle = _newline_ended(io.BufferedReader(OneWay(text)))
    assert handle.read() == text
