"""Scoring: good rows predicted, bad rows found by halving, and --fail-fast."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

from lanza.batch.scoring import ChunkScorer, ScoreOptions, isolate
from lanza.batch.spec import Chunk, RowError
from lanza.errors import BatchError, ValidationError
from tests.unit.batch.models_for_batch import TinyRuntime


def _chunk(a: list[object], start: int = 100) -> Chunk:
    rows = len(a)
    features = pa.table(
        {"a": pa.array([None if v is None else str(v) for v in a]), "b": pa.array(["1.5"] * rows)}
    )
    kept = pa.table({"id": [f"r{start + i}" for i in range(rows)]})
    return Chunk(0, start, rows, "in.csv", features, kept)


def test_isolate_finds_each_bad_row() -> None:
    frame = pd.DataFrame({"x": range(20)}, index=range(50, 70))

    def check(part: pd.DataFrame) -> pd.DataFrame:
        if (part["x"] % 7 == 3).any():
            raise ValidationError("x is 3 mod 7")
        return part

    good, bad = isolate(frame, check)
    assert [e.row for e in bad] == [53, 60, 67]
    assert len(good) == 17
    assert set(good.index).isdisjoint({53, 60, 67})


def test_bad_text_and_failing_rows_go_to_errors_and_the_rest_is_scored() -> None:
    scorer = ChunkScorer(TinyRuntime(), ScoreOptions(probabilities=True))
    scored = scorer.score(_chunk([1.0, "abc", -2.0, None, 3.0]))
    assert scored.table.column("id").to_pylist() == ["r100", "r102", "r104"]
    assert scored.table.column("prediction").to_pylist() == [1, 0, 1]
    assert scored.table.column_names == ["id", "prediction", "warnings", "proba_0", "proba_1"]
    assert scored.table.column("warnings").to_pylist() == [None, None, None]
    total = [
        p0 + p1
        for p0, p1 in zip(
            scored.table.column("proba_0").to_pylist(),
            scored.table.column("proba_1").to_pylist(),
            strict=True,
        )
    ]
    assert all(math.isclose(t, 1.0) for t in total)
    assert [(e.row, e.source) for e in scored.errors] == [(101, "in.csv"), (103, "in.csv")]
    assert "Column 'a' must be a number" in scored.errors[0].reason
    assert "failed to predict" in scored.errors[1].reason


def test_reader_errors_are_kept_with_the_chunk() -> None:
    chunk = _chunk([1.0])
    chunk.errors.append(RowError(-1, "a line has 2 fields", "in.csv"))
    scored = ChunkScorer(TinyRuntime(), ScoreOptions()).score(chunk)
    assert [e.reason for e in scored.errors] == ["a line has 2 fields"]
    assert scored.table.num_rows == 1


def test_fail_fast_stops_at_the_first_bad_row() -> None:
    scorer = ChunkScorer(TinyRuntime(), ScoreOptions(fail_fast=True))
    with pytest.raises(BatchError, match="Row 102 failed and --fail-fast is set"):
        scorer.score(_chunk([1.0, 2.0, "x", "y"]))


def test_a_chunk_of_only_bad_rows_writes_no_rows() -> None:
    scored = ChunkScorer(TinyRuntime(), ScoreOptions()).score(_chunk(["x", "y"]))
    assert scored.table.num_rows == 0
    assert len(scored.errors) == 2
