"""``lanza info`` and ``lanza advise`` as a user runs them, on a model trained in the test."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace

pytestmark = pytest.mark.slow


def _lanza(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanza", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "LANZA_HOME": str(home), **env},
    )


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


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
        "1000",
        "--rows-per-day",
        "5e6",
        "--seconds",
        "0.1",
        "--max-spread",
        "100",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "both"
    assert report["device"] == "cpu"
    assert report["sample_source"] == "reference sample"
    assert [m["batch_size"] for m in report["cpu"]["batches"]] == [1, 8, 32, 128, 1024]
    assert all(m["spread"] >= 0 for m in report["cpu"]["batches"])
    assert len(report["cpu"]["cores"]) == 1
    assert report["cpu"]["server"]["requests_per_s"] > 0
    assert report["cpu"]["server"]["concurrency"] == 16
    # A scikit-learn model never runs on a GPU, so on a GPU machine too the GPU machines
    # are listed apart, unpriced, with the reason.
    assert report["gpu"] is None
    assert report["gpu_source"] == (
        "this model's framework does not run on a GPU"
        if info["has_gpu"]
        else "no GPU on this machine"
    )
    assert not any(o["machine"] == "g2-standard-4" for o in report["options"])
    assert len(report["unmeasured"]) == 2
    assert all(report["gpu_source"] in line for line in report["unmeasured"])
    assert {r["mode"] for r in report["recommended"]} == {"real-time", "batch"}
    assert report["prices"]["date"]
    table = _lanza(
        home,
        "advise",
        "m@champion",
        "--rps",
        "200",
        "--p99-ms",
        "1000",
        "--seconds",
        "0.1",
        "--max-spread",
        "100",
    )
    assert "Recommended real-time" in table.stdout
    missing = _lanza(home, "advise", "m@champion", "--seconds", "0.1")
    assert missing.returncode == 1
    assert "Give --rps" in missing.stderr


def test_a_busy_machine_is_refused(home: Path) -> None:
    ws = Workspace(Settings(home=home))
    frame = load_breast_cancer(as_frame=True).frame
    train(ws, TrainRequest(frame, "target", "m", candidates=["logistic_regression"], folds=3))
    ws.close()
    # Rounds never agree to the nanosecond, so a limit of 0 always finds the machine busy.
    busy = _lanza(
        home, "advise", "m@champion", "--rps", "10", "--seconds", "0.05", "--max-spread", "0"
    )
    assert busy.returncode == 1
    assert "This machine is busy" in busy.stderr
    assert "pass --cores" in busy.stderr
    wrong = _lanza(home, "advise", "m@champion", "--rps", "10", "--cores", "4096")
    assert wrong.returncode == 1
    assert "--cores 4096" in wrong.stderr


def _register_elsewhere(home: Path, name: str, example: bool, tensor: bool = False) -> None:
    """A model logged with MLflow alone, as someone who never ran lanza train would.

    ``tensor``: fitted on a NumPy matrix, so its signature (and example) is one tensor.
    """
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer(as_frame=True)
    features = data.data.iloc[:, :6]
    if tensor:
        features = features.to_numpy(np.float32)  # type: ignore[assignment]
    model = LogisticRegression(max_iter=5000).fit(features, data.target)
    ws = Workspace(Settings(home=home))
    mlflow.set_tracking_uri(str(ws.mlflow.tracking_uri))
    try:
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(features, model.predict(features)),
                input_example=features[:3] if example else None,
                registered_model_name=name,
            )
    finally:  # MLflow's tracking URI is process-wide: later tests must not inherit it
        mlflow.set_tracking_uri(None)
        ws.close()


@pytest.mark.parametrize(
    ("example", "tensor", "source"),
    [
        (True, False, "input example"),
        (False, False, "rows generated from the signature"),
        (True, True, "input example"),
        (False, True, "rows generated from the signature"),
    ],
)
def test_a_model_registered_elsewhere_is_measured(
    home: Path, example: bool, tensor: bool, source: str
) -> None:
    _register_elsewhere(home, "outside", example, tensor)
    result = _lanza(
        home,
        "advise",
        "outside/1",
        "--rps",
        "50",
        "--seconds",
        "0.1",
        "--max-spread",
        "100",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sample_source"] == source
    assert report["recommended"]


def test_gpu_figures_from_a_measurements_file(home: Path, tmp_path: Path) -> None:
    """--measure-only output from elsewhere prices the GPU machines with its own figures."""
    _register_elsewhere(home, "outside", True)
    only = _lanza(
        home,
        "advise",
        "outside/1",
        "--measure-only",
        "--seconds",
        "0.1",
        "--max-spread",
        "100",
        "--json",
    )
    assert only.returncode == 0, only.stderr
    figures = json.loads(only.stdout)
    assert set(figures) == {"model", "hardware", "cpu", "gpu"}
    if figures["gpu"] is None:
        # The file a machine with an L4 would write: its GPU figures in the same form.
        figures["gpu"] = {**figures["cpu"], "device": "cuda"}
        figures["gpu"]["server"] = {**figures["cpu"]["server"], "requests_per_s": 900.0}
        figures["hardware"]["gpus"] = [
            {"index": 0, "name": "NVIDIA L4", "memory_mib": 23034, "driver": "550"}
        ]
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(figures))
    result = _lanza(
        home,
        "advise",
        "outside/1",
        "--rps",
        "1000",
        "--p99-ms",
        "1000",
        "--seconds",
        "0.1",
        "--max-spread",
        "100",
        "--measurements",
        str(path),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["unmeasured"] == []
    assert "NVIDIA L4" in report["gpu_source"] or "measured here" in report["gpu_source"]
    g2 = next(
        o
        for o in report["options"]
        if o["machine"] == "g2-standard-4" and o["platform"] == "Compute Engine / GKE"
    )
    rate = report["gpu"]["server"]["requests_per_s"] * 0.6
    assert g2["instances"] == max(1, math.ceil(1000 / rate))
    bad = tmp_path / "bad.json"
    bad.write_text('{"gpu": {"device": "cuda"}}')
    refused = _lanza(
        home,
        "advise",
        "outside/1",
        "--rps",
        "10",
        "--seconds",
        "0.05",
        "--max-spread",
        "100",
        "--measurements",
        str(bad),
    )
    assert refused.returncode == 1
    assert "is not the output of lanza advise --measure-only --json" in refused.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not _torch_cuda(), reason="needs a GPU that PyTorch can use")
def test_a_network_is_measured_on_the_gpu_and_gpu_machines_priced(home: Path) -> None:
    """On a GPU machine: the GPU figures are taken here, on cuda, and size the GPU machines."""
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(256, 8)), columns=[f"x{i}" for i in range(8)])
    net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    ws = Workspace(Settings(home=home))
    mlflow.set_tracking_uri(str(ws.mlflow.tracking_uri))
    try:
        with mlflow.start_run():
            mlflow.pytorch.log_model(
                net.eval(),
                name="model",
                serialization_format="pickle",  # moves to any device
                signature=infer_signature(features, np.zeros(len(features))),
                registered_model_name="net",
                pip_requirements=[],
            )
    finally:
        mlflow.set_tracking_uri(None)
        ws.close()
    pickle = {"LANZA_ALLOW_PICKLE": "true"}
    common = ("--seconds", "0.2", "--max-spread", "100", "--json")
    only = _lanza(home, "advise", "net/1", "--measure-only", *common, **pickle)
    assert only.returncode == 0, only.stderr
    figures = json.loads(only.stdout)
    assert figures["cpu"]["device"] == "cpu"
    assert figures["gpu"]["device"] == "cuda"
    assert {m["device"] for m in figures["gpu"]["batches"]} == {"cuda"}
    assert figures["gpu"]["server"]["device"] == "cuda"
    assert figures["gpu"]["server"]["requests_per_s"] > 0
    result = _lanza(
        home, "advise", "net/1", "--rps", "1000", "--rows-per-day", "1e9", *common, **pickle
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["unmeasured"] == []
    assert report["gpu_source"].startswith("measured here on ")
    cards = figures["hardware"]["gpus"]
    if cards:  # nvidia-smi named the card
        assert cards[0]["name"] in report["gpu_source"]
    g2 = [o for o in report["options"] if o["machine"] == "g2-standard-4"]
    assert {o["mode"] for o in g2} == {"real-time", "batch"}
    assert all("GPU measured" in o["why"] for o in g2)
    assert any(o["platform"] == "Cloud Run with L4 GPU (always on)" for o in report["options"])
