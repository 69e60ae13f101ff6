"""CPU against GPU through lanza's runtime, and what ONNX Runtime gains on the CPU.

Registers two models in a temporary LANZA_HOME: a PyTorch MLP (64 inputs, two hidden
layers of 1,024, random weights: the arithmetic is what is timed) and an XGBoost
regressor (300 trees of depth 8, trained here on 20,000 synthetic rows). Each is loaded
with ``device=cpu`` and, when this machine has a GPU the framework can use, with
``device=cuda``, exactly as a deployment or a batch job loads it, and timed on batches
of --rows rows and on single rows. The ratio is CPU time over GPU time.

Then ``lanza optimize`` converts a scikit-learn pipeline trained by ``lanza train`` to
ONNX and prints its parity and speed-up table.

Without a GPU the script says so, prints the CPU figures and exits 0. It is sized to
finish in under five minutes on a GPU machine with 16 cores (the CPU side dominates);
on the 2-core development machine, with no GPU, ``--rows 50000 --seconds 1`` took six
minutes. Run: ``python bench/gpu.py [--rows 100000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = 64


def main() -> int:
    """Measure, print, and exit 0 whether or not a GPU is there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="Rows per batch call.")
    parser.add_argument("--seconds", type=float, default=3.0, help="Timing per measurement.")
    parser.add_argument("--skip-onnx", action="store_true", help="Leave out lanza optimize.")
    args = parser.parse_args()

    from lanza.runtime.devices import any_gpu, cuda_for
    from lanza.settings import Settings
    from lanza.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["LANZA_HOME"] = str(home)
        ws = Workspace(Settings(home=home, allow_pickle=True))
        frame = pd.DataFrame(
            np.random.default_rng(0).normal(size=(args.rows, FEATURES)).astype(np.float32),
            columns=[f"f{i}" for i in range(FEATURES)],
        )
        models = {"torch": register_torch(ws, frame), "xgboost": register_xgboost(ws, frame)}
        from lanza.hardware.devices import detect

        cards = ", ".join(
            f"{g.name} ({g.memory_mib:,} MiB, driver {g.driver})" for g in detect().gpus
        )
        print(f"GPU visible: {'yes' if any_gpu() else 'no'}" + (f": {cards}" if cards else ""))
        rows = []
        for framework, ref in models.items():
            devices = ["cpu"] + (["cuda"] if cuda_for(framework) else [])  # type: ignore[arg-type]
            timings = {d: measure(ws, ref, d, frame, args.seconds) for d in devices}
            rows.append((framework, ref, timings))
        report(rows, args.rows)
        if not any_gpu():
            print("\nNo GPU on this machine: CPU figures only (run this on a GPU machine).")
        if not args.skip_onnx:
            onnx_figures(home)
        ws.close()
    return 0


def register_torch(ws: Any, frame: pd.DataFrame) -> str:
    """An MLP with random weights, saved with MLflow's pytorch flavour."""
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 1024),
        torch.nn.ReLU(),
        torch.nn.Linear(1024, 1024),
        torch.nn.ReLU(),
        torch.nn.Linear(1024, 1),
    ).eval()
    signature = infer_signature(frame.head(100), np.zeros(100))
    return register(
        ws,
        "bench_torch",
        lambda folder: mlflow.pytorch.save_model(
            net, folder, serialization_format="pickle", signature=signature, pip_requirements=[]
        ),
    )


def register_xgboost(ws: Any, frame: pd.DataFrame) -> str:
    """300 trees of depth 8 on 20,000 rows, saved with MLflow's xgboost flavour."""
    import mlflow.xgboost
    from mlflow.models import infer_signature
    from xgboost import XGBRegressor

    train = frame.head(20_000)
    target = train.f0 * 2 - train.f1 + np.sin(train.f2)
    model = XGBRegressor(n_estimators=300, max_depth=8, tree_method="hist").fit(train, target)
    signature = infer_signature(train.head(100), target.head(100).to_numpy())
    return register(
        ws,
        "bench_xgboost",
        lambda folder: mlflow.xgboost.save_model(
            model, folder, signature=signature, pip_requirements=[]
        ),
    )


def register(ws: Any, name: str, save: Callable[[str], Any]) -> str:
    """Save with ``save(folder)``, log the folder to a run, register it; returns NAME/1."""
    client = ws.mlflow
    run = client.create_run(ws.experiment_id("bench-gpu"))
    with tempfile.TemporaryDirectory() as tmp:
        save(str(Path(tmp) / "model"))
        client.log_artifacts(run.info.run_id, str(Path(tmp) / "model"), "model")
    client.set_terminated(run.info.run_id)
    return str(ws.registry.register(name, f"{run.info.artifact_uri}/model", run.info.run_id).ref)


def measure(
    ws: Any, ref: str, device: str, frame: pd.DataFrame, seconds: float
) -> tuple[float, float]:
    """Median seconds of one batch call and of one single-row call on ``device``."""
    from lanza.runtime.rules import check_frame

    runtime = ws.loader.load(ref, device=device).runtime
    assert runtime.device == device, (ref, runtime.device)
    batch = check_frame(frame, runtime.schema)
    single = batch.head(1)
    result = (
        _median(runtime.predict_frame, batch, seconds),
        _median(runtime.predict_frame, single, seconds),
    )
    runtime.unload()
    return result


def _median(call: Callable[[pd.DataFrame], Any], frame: pd.DataFrame, seconds: float) -> float:
    call(frame)  # warm up: kernels, caches, the first transfer
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        began = time.perf_counter()
        call(frame)
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def report(rows: list[tuple[str, str, dict[str, tuple[float, float]]]], batch_rows: int) -> None:
    """One line per framework and device, and the CPU/GPU ratio."""
    print(
        f"\n{'model':<8} {'device':<6} {'batch of ' + format(batch_rows, ','):>18} "
        f"{'rows/s':>14} {'1 row':>10}"
    )
    for framework, _ref, timings in rows:
        for device, (batch_s, single_s) in timings.items():
            rate = batch_rows / batch_s
            print(
                f"{framework:<8} {device:<6} {batch_s * 1e3:>15.1f} ms {rate:>14,.0f} "
                f"{single_s * 1e3:>7.2f} ms"
            )
        if "cuda" in timings:
            cpu, gpu = timings["cpu"], timings["cuda"]
            print(
                f"{framework:<8} ratio  GPU is {cpu[0] / gpu[0]:.1f}x faster per batch, "
                f"{cpu[1] / gpu[1]:.1f}x per single row"
            )


def onnx_figures(home: Path) -> None:
    """Train a small pipeline with lanza and show ``lanza optimize``'s own report."""
    from lanza.settings import Settings
    from lanza.training.service import TrainRequest, train
    from lanza.workspace import Workspace

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(5_000, 20)), columns=[f"x{i}" for i in range(20)])
    frame["plan"] = rng.choice(["basic", "pro", None], len(frame)).astype(object)
    frame["churned"] = ((frame.x0 + frame.x1 + (frame.plan == "pro")) > 0.5).astype(int)
    ws = Workspace(Settings(home=home))
    for candidate in ("logistic_regression", "mlp"):
        train(
            ws, TrainRequest(frame, "churned", f"onnx_{candidate}", candidates=[candidate], folds=2)
        )
    ws.close()
    for candidate in ("logistic_regression", "mlp"):
        print(f"\n$ lanza optimize onnx_{candidate}/1")
        subprocess.run(
            [sys.executable, "-m", "lanza", "optimize", f"onnx_{candidate}/1"],
            check=False,
            env={**os.environ, "LANZA_HOME": str(home)},
        )


if __name__ == "__main__":
    sys.exit(main())
