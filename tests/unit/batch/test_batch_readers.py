"""Readers: inputs resolved to files, chunks of exact sizes, bad CSV values kept per row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from lanza.batch.readers import ChunkReader, rebatch, resolve_input
from lanza.errors import DataError


def _frame(rows: int, offset: int = 0) -> pd.DataFrame:
    ids = range(offset, offset + rows)
    return pd.DataFrame({"id": ids, "a": [i * 0.5 for i in ids], "b": [1.0] * rows})


def _reader(path: Path | str, chunk_rows: int = 4, kept: list[str] | None = None) -> ChunkReader:
    inputs = resolve_input(str(path))
    return ChunkReader(inputs, ["a", "b"], kept or ["id"], chunk_rows, numeric={"a", "b"})


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
    chunks = list(_reader(data).chunks())
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
    chunks = list(_reader(tmp_path / "in.csv").chunks(skip=2))
    assert [(c.index, c.start) for c in chunks] == [(2, 8)]


def test_bad_number_rereads_csv_as_text_without_losing_rows(tmp_path: Path) -> None:
    frame = _frame(10).astype({"a": object})
    frame.loc[7, "a"] = "oops"
    frame.to_csv(tmp_path / "in.csv", index=False)
    chunks = list(_reader(tmp_path / "in.csv", chunk_rows=3).chunks())
    assert sum(c.rows for c in chunks) == 10
    ids = [int(v) for c in chunks for v in c.kept.column("id").to_pylist()]
    assert ids == list(range(10))
    assert chunks[-2].features.column("a").to_pylist()[1] == "oops"


def test_malformed_line_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    _frame(4).to_csv(path, index=False)
    with path.open("a") as handle:
        handle.write("1,2\nx5,oops,1\n")
    chunks = list(_reader(path, chunk_rows=10).chunks())
    errors = [e for c in chunks for e in c.errors]
    assert len(errors) == 1
    assert "2 fields where the header has 3" in errors[0].reason
    assert sum(c.rows for c in chunks) == 5


def test_missing_column_names_it(tmp_path: Path) -> None:
    _frame(3).drop(columns=["b"]).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataError, match="Column 'b' is missing"):
        list(_reader(tmp_path / "in.csv").chunks())


def test_missing_input_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        resolve_input(str(tmp_path / "nope.csv"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot be read"):
        list(_reader(tmp_path / "broken.parquet").chunks())
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="holds no CSV"):
        resolve_input(str(tmp_path / "notes"))
