"""Rows from traces, named-dataset files, and the comparison of two evaluation runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lanza.errors import ConflictError, InvalidInputError, NotFoundError
from lanza.llm.evaluation.comparison import aligned_rows, metric_rows
from lanza.llm.evaluation.dataset import load_dataset
from lanza.llm.evaluation.datasets import DatasetLibrary, row_from_trace
from lanza.llm.evaluation.tracking import LoggedRun


def _trace(
    inputs: Any, outputs: Any, feedback: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    root = {"inputs": inputs, "outputs": outputs}
    return {"trace_id": "t", "spans": [root], "feedback": feedback or []}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"q": "hi"}, {"input": "hi"}),
        (
            {"messages": [{"role": "user", "content": "hi"}]},
            {"messages": [{"role": "user", "content": "hi"}]},
        ),
        ({"question": "hi", "lang": "fr"}, {"input": "hi", "inputs": {"lang": "fr"}}),
        ({"a": 1, "b": [2]}, {"inputs": {"a": 1, "b": [2]}}),
    ],
)
def test_root_inputs_become_the_question(inputs: dict[str, Any], expected: dict[str, Any]) -> None:
    row = row_from_trace(_trace(inputs, {"text": "yes", "finish_reason": "stop"}))
    assert row is not None
    assert {k: v for k, v in row.items() if k in ("input", "inputs", "messages")} == expected
    assert (row["expected"], row["expected_from"]) == ("yes", "output")


def test_the_latest_correction_wins_over_the_output() -> None:
    feedback = [
        {"correction": "first"},
        {"correction": None},
        {"correction": {"answer": "second"}},
    ]
    row = row_from_trace(_trace({"q": "hi"}, {"output": "wrong"}, feedback))
    assert row is not None
    assert (row["expected"], row["expected_from"]) == ("second", "correction")
    assert row_from_trace(_trace({"q": "hi"}, {"output": "x"}), corrections_only=True) is None
    assert row_from_trace(_trace({}, {"output": "x"})) is None
    assert row_from_trace({"trace_id": "t", "spans": [], "feedback": []}) is None


def test_library_writes_lists_resolves_and_refuses(tmp_path: Path) -> None:
    library = DatasetLibrary.of(tmp_path)
    assert library.all() == []
    info = library.write("qa", [{"id": "1", "input": "hi", "expected": "yo"}])
    assert (info.name, info.rows, info.corrected) == ("qa", 1, 0)
    assert load_dataset(Path(info.path)).examples[0].expected == "yo"
    assert library.resolve(Path("qa")) == Path(info.path)
    assert library.resolve(Path("elsewhere.jsonl")) == Path("elsewhere.jsonl")
    with pytest.raises(ConflictError, match="exists already"):
        library.write("qa", [{"input": "x"}])
    assert library.write("qa", [{"input": "x"}, {"input": "y"}], overwrite=True).rows == 2
    with pytest.raises(InvalidInputError, match="not a dataset name"):
        library.path("../escape")
    with pytest.raises(InvalidInputError, match="no rows"):
        library.write("empty", [])
    with pytest.raises(NotFoundError, match="no dataset named 'ghost'"):
        library.info("ghost")
    assert [json.loads(x)["input"] for x in Path(info.path).read_text().splitlines()] == ["x", "y"]


def _run(run_id: str, metrics: dict[str, float], rows: list[dict[str, Any]]) -> LoggedRun:
    return LoggedRun(run_id, run_id, {}, metrics, rows)


def test_metrics_say_which_side_is_better() -> None:
    a = _run("a", {"exact_mean": 0.5, "latency_ms_mean": 100.0, "rows": 2}, [])
    b = _run("b", {"exact_mean": 0.75, "latency_ms_mean": 150.0, "rows": 2, "cost_usd": 1.0}, [])
    by_name = {m["metric"]: m for m in metric_rows(a, b)}
    assert by_name["exact_mean"]["better"] == "b"
    assert by_name["latency_ms_mean"]["better"] == "a"
    assert by_name["rows"]["better"] is None
    assert by_name["cost_usd"]["delta"] is None


def test_rows_align_by_id_and_flag_differences() -> None:
    a = _run("a", {}, [
        {"id": 1, "input": "x", "output": "same", "score_exact": 1.0},
        {"id": 2, "input": "y", "output": None, "error": "timeout", "score_exact": float("nan")},
    ])  # fmt: skip
    b = _run("b", {}, [
        {"id": 2, "input": "y", "output": "ok", "score_exact": 1.0},
        {"id": 1, "input": "x", "output": "same", "score_exact": 1.0},
        {"id": 3, "input": "z", "output": "new", "score_exact": 0.0},
    ])  # fmt: skip
    rows = {r["id"]: r for r in aligned_rows(a, b)}
    assert list(rows) == ["1", "2", "3"]
    assert rows["1"]["differs"] is False
    assert (rows["2"]["a_output"], rows["2"]["a_scores"]) == ("timeout", {"exact": None})
    assert rows["2"]["differs"] is True
    assert (rows["3"]["a_output"], rows["3"]["a_scores"], rows["3"]["differs"]) == (
        None,
        None,
        True,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "qa"], "--from-traces or --from-file"),
        (["create", "qa", "--from-traces", "--status", "done"], "--status"),
        (["create", "../qa", "--from-traces"], "not a dataset name"),
        (["create", "qa", "--from-traces", "--tag", "ghost"], "would have no rows"),
        (["show", "ghost"], "no dataset named 'ghost'"),
    ],
)
def test_cli_mistakes_are_one_sentence(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from lanza.cli.app import main

    monkeypatch.setattr(sys, "argv", ["lanza", "datasets", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
