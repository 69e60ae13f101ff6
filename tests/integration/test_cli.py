"""The CLI as a user runs it: a subprocess, one sentence per bad input, never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

LANZA = [sys.executable, "-m", "lanza"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LANZA, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=(x[:, 0] > 0).astype(int))
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def _write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_help_has_examples() -> None:
    for command in (["train"], ["models", "promote"], ["quickstart"], ["ui"]):
        result = run(*command, "--help")
        assert result.returncode == 0
        assert "Example: lanza" in result.stdout


BAD_INPUTS = {
    "missing file": (["nope.csv", "--target", "y"], "does not exist"),
    "unsupported format": (["data.txt", "--target", "y"], "unsupported format '.txt'"),
    "missing target": (["table.csv", "--target", "label"], "target column 'label' is not in"),
    "one class": (["one.csv", "--target", "y"], "only one class"),
    "too few rows": (["tiny.csv", "--target", "y"], "3 labelled rows; lanza needs at least 10"),
    "target without values": (["empty.csv", "--target", "y"], "'y' has no values: every row"),
    "unknown metric": (["table.csv", "--target", "y", "--metric", "auc"], "Unknown metric 'auc'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_sentence(case: str, table: Path, tmp_path: Path, home: Path) -> None:
    frame = pd.read_csv(table)
    (tmp_path / "data.txt").write_text("a,b\n1,2\n")
    _write(tmp_path, "one.csv", frame.assign(y=1))
    _write(tmp_path, "tiny.csv", frame.head(3))
    _write(tmp_path, "empty.csv", frame.assign(y=np.nan))
    args, message = BAD_INPUTS[case]
    result = run("train", *[str(tmp_path / a) if a.endswith((".csv", ".txt")) else a for a in args])
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # Inputs are checked before MLflow is touched, so nothing can be half-registered.
    assert not (home / "mlflow.db").exists()


def test_unreachable_registry(table: Path) -> None:
    result = run(
        "train", str(table), "--target", "y", env={"LANZA_TRACKING_URI": "http://127.0.0.1:9/"}
    )
    assert result.returncode == 1
    assert "MLflow registry at http://127.0.0.1:9/ cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_then_lifecycle_commands(table: Path) -> None:
    fast = ["--candidates", "majority_baseline,logistic_regression"]
    first = run("train", str(table), "--target", "y", "--name", "t", "--json", *fast)
    assert first.returncode == 0, first.stderr
    outcome = json.loads(first.stdout)
    assert (outcome["picked"], outcome["alias"]) == ("logistic_regression", "champion")
    assert outcome["skipped"] == outcome["failed"] == outcome["notes"] == []
    # Output is a pipe: still one line per candidate (on stderr, as stdout carries JSON).
    assert re.search(r"\] logistic_regression +finished roc_auc 0\.\d{4} ± ", first.stderr)
    second = run("train", str(table), "--target", "y", "--name", "t", *fast)
    assert "Leaderboard" in second.stdout
    assert re.search(r"\] majority_baseline +finished roc_auc 0\.5000", second.stdout)
    assert "as challenger" in second.stdout
    assert run("models", "promote", "t", "2").returncode == 0
    assert "moved from version 2 to version 1" in run("models", "rollback", "t").stdout
    show = json.loads(run("models", "show", "t", "--json").stdout)
    assert [m["action"] for m in show["history"]] == [
        "promote",
        "promote",
        "promote",
        "remove",
        "rollback",
    ]
    listed = run("models", "list")
    assert "t" in listed.stdout
    refused = run("models", "delete", "t", "2")
    assert refused.returncode == 1
    assert "pass --yes" in refused.stderr
    assert run("models", "delete", "t", "2", "--yes").returncode == 0
    assert "no version 2" in run("models", "archive", "t", "2").stderr
