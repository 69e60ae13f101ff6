"""Evaluation datasets, scorers and aggregates."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lanza.errors import DataError, InvalidInputError
from lanza.llm.evaluation.dataset import Example, load_dataset
from lanza.llm.evaluation.runner import RowResult, aggregate
from lanza.llm.evaluation.scorers import (
    Judge,
    Similarity,
    contains,
    exact,
    parse_scorers,
    regex,
)


def test_dataset_reads_jsonl_and_names_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "d.jsonl"
    good.write_text('{"input": "q1", "expected": "a"}\n\n{"id": "x", "inputs": {"v": 1}}\n')
    data = load_dataset(good)
    assert [e.id for e in data.examples] == ["1", "x"]
    assert data.examples[1].question == '{"v": 1}'
    assert len(data.digest) == 12
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "q"}\n{"expected": "a"}\n')
    with pytest.raises(DataError, match="line 2 needs 'input'"):
        load_dataset(bad)
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match="line 1 is not valid JSON"):
        load_dataset(bad)
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset(tmp_path / "missing.jsonl")


def test_text_scorers() -> None:
    row = Example(id="1", input="q", expected="Paris.")
    assert exact(row, "  paris ") == 1.0
    assert exact(row, "Paris, France") == 0.0
    assert contains(row, "It is Paris, France") == 1.0
    assert regex(Example(id="2", expected="x", pattern=r"\d{4}"), "in 1999") == 1.0
    assert regex(row, "paris!") == 1.0  # the expected answer as a pattern: "." is any char
    assert regex(row, "paris") == 0.0
    assert exact(Example(id="3", input="q"), "x") is None
    with pytest.raises(InvalidInputError, match="not a regex"):
        regex(Example(id="4", expected="(", pattern="("), "x")
    with pytest.raises(InvalidInputError, match="bleu"):
        parse_scorers("exact,bleu")


def test_similarity_and_judge_use_what_they_are_given() -> None:
    async def embed(texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if t == "same" else [0.0, 1.0] for t in texts]

    async def ask(prompt: str) -> str:
        assert "Reference answer: same" in prompt
        return "I would say 5."

    row = Example(id="1", input="q", expected="same")
    assert asyncio.run(Similarity(embed)(row, "same")) == 1.0
    assert asyncio.run(Similarity(embed)(row, "other")) == 0.0
    assert asyncio.run(Judge(ask)(row, "x")) == 1.0


def test_aggregate_skips_errors_and_missing_scores() -> None:
    rows = [
        RowResult("1", "q", "a", "a", None, 10.0, 3, 2, 0.5, {"exact": 1.0}),
        RowResult("2", "q", "a", "b", None, 30.0, 3, 2, 0.25, {"exact": 0.0}),
        RowResult("3", "q", None, "b", None, 20.0, 3, 2, None, {"exact": None}),
        RowResult("4", "q", "a", None, "boom", 5.0),
    ]
    metrics = aggregate(rows, ["exact"])
    assert metrics["exact_mean"] == 0.5
    assert metrics["error_rate"] == 0.25
    assert metrics["latency_ms_p50"] == 20.0
    assert metrics["cost_usd"] == 0.75
    assert metrics["prompt_tokens"] == 9
