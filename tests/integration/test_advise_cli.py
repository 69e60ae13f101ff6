"""``lanza info`` and ``lanza advise`` as a user runs them, on a model trained in the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace

pytestmark = pytest.mark.slow


def _lanza(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanza", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "LANZA_HOME": str(home)},
    )


def test_info_and_advise(home: Path) -> None:
    info = json.loads(_lanza(home, "info", "--json").stdout)
    assert info["cores"] >= 1
    assert info["memory_mib"] > 0
    ws = Workspace(Settings(home=home))
    frame = load_breast_cancer(as_frame=True).frame
    train(ws, TrainRequest(frame, "target", "m", candidates=["logistic_regression"], folds=3))
    ws.close()
    result = _lanza(
        home,
        "advise",
        "m@champion",
        "--rps",
        "200",
        "--p99-ms",
        "50",
        "--rows-per-day",
        "5e6",
        "--seconds",
        "0.1",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "both"
    assert report["device"] == "cpu"
    assert [m["batch_size"] for m in report["measurements"]] == [1, 8, 32, 128, 1024]
    assert {r["mode"] for r in report["recommended"]} == {"real-time", "batch"}
    assert report["prices"]["date"]
    table = _lanza(
        home, "advise", "m@champion", "--rps", "200", "--p99-ms", "1000", "--seconds", "0.1"
    )
    assert "Recommended real-time" in table.stdout
    missing = _lanza(home, "advise", "m@champion", "--seconds", "0.1")
    assert missing.returncode == 1
    assert "Give --rps" in missing.stderr
