"""Open Inference v2 over gRPC and REST: ``lanza serve`` against MLServer.

One scikit-learn model (logistic regression on four columns of the breast-cancer table)
is served by each server in turn on this machine: lanza from an MLflow registry, MLServer
(``mlserver``, ``mlserver-sklearn``) from the same model saved with joblib. The same load
drives both: single-row ``ModelInfer`` calls (one FP64 tensor of shape [1, 4]) from
``--connections`` concurrent callers on one gRPC channel for ``--seconds``, then the same
call as v2 REST JSON (``POST /v2/models/cancer/infer``) from as many callers on one HTTP
connection pool. Prints requests/s, p50 and p99 for both servers on both protocols, and
the ratios.

MLServer pins its own FastAPI, protobuf and uvicorn, so it runs from its own virtualenv:
``bench/out/mlserver-venv`` is created on first use (``pip install mlserver
mlserver-sklearn``), or pass ``--mlserver-python``.

    .venv/bin/python bench/grpc.py [--seconds 15] [--connections 16] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on the path, and this file is named like
# the grpc package: look past it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import grpc
import httpx
import joblib
import mlflow
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from lanza.serving.faces.grpc import open_inference_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / "out" / "mlserver-venv"
INFER = "/inference.GRPCInferenceService/ModelInfer"
INFER_REST = "/v2/models/cancer/infer"
READY = "/inference.GRPCInferenceService/ServerReady"
FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model() -> tuple[LogisticRegression, np.ndarray]:
    """The model both servers serve, and the rows sent to it."""
    data = load_breast_cancer(as_frame=True).frame
    x = data[FEATURES].to_numpy()
    return LogisticRegression(max_iter=5000).fit(x, data["target"]), x


def mlserver_python(given: str | None) -> str:
    """MLServer's interpreter: the one given, or a virtualenv made for it once."""
    if given:
        return given
    python = VENV / "bin" / "python"
    if not python.exists():
        print("creating", VENV, "(pip install mlserver mlserver-sklearn)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "mlserver", "mlserver-sklearn"],
            check=True,
        )
    return str(python)


def start_mlserver(
    python: str, folder: Path, estimator: LogisticRegression
) -> tuple[subprocess.Popen[bytes], int, int]:
    """MLServer on free gRPC and HTTP ports, serving the model from ``folder``."""
    grpc_port, http_port = free_port(), free_port()
    folder.mkdir(parents=True)
    joblib.dump(estimator, folder / "model.joblib")
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "cancer",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "http_port": http_port,
                "grpc_port": grpc_port,
                "metrics_port": free_port(),
                "parallel_workers": 0,
            }
        )
    )
    mlserver = str(Path(python).parent / "mlserver")
    process = subprocess.Popen(
        [mlserver, "start", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return process, grpc_port, http_port


def start_lanza(
    home: Path, estimator: LogisticRegression, workers: int
) -> tuple[subprocess.Popen[bytes], int, int]:
    """``lanza serve`` on free ports, with the model registered and deployed."""
    env = {
        **os.environ,
        "LANZA_HOME": str(home),
        "LANZA_ALLOW_PICKLE": "true",
        "PYTHONPATH": str(ROOT / "src"),
    }
    tracking = f"sqlite:///{home}/mlflow.db"
    home.mkdir(parents=True)
    mlflow.set_tracking_uri(tracking)
    experiment = mlflow.create_experiment("bench", artifact_location=(home / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        signature = mlflow.models.infer_signature(
            np.zeros((1, 4)), estimator.predict(np.zeros((1, 4)))
        )
        mlflow.sklearn.log_model(
            estimator,
            name="m",
            signature=signature,
            registered_model_name="cancer",
            pip_requirements=[],
        )
    mlflow.set_tracking_uri(None)
    port, grpc_port = free_port(), free_port()
    lanza = str(Path(sys.executable).parent / "lanza")
    command = [lanza, "serve", "--port", str(port), "--grpc-port", str(grpc_port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    httpx.post(f"{url}/api/v1/deployments", json={"name": "cancer", "model": "cancer/1"})
    while time.monotonic() < deadline and httpx.get(f"{url}/readyz").status_code != 200:
        time.sleep(0.2)
    return process, grpc_port, port


def request(row: np.ndarray) -> bytes:
    """One single-row ModelInfer request, as tritonclient.grpc sends it (raw contents)."""
    message = pb.ModelInferRequest(model_name="cancer")
    message.inputs.add(name="input", datatype="FP64", shape=[1, 4])
    message.raw_input_contents.append(row.astype("<f8").tobytes())
    return message.SerializeToString()


def summary(latencies: list[float], elapsed: float, errors: int) -> dict[str, float]:
    """Requests per second, p50 and p99 in milliseconds, and the failed calls."""
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def rest_body(row: np.ndarray) -> bytes:
    """The same single-row request as v2 REST JSON."""
    tensor = {"name": "input", "datatype": "FP64", "shape": [1, 4], "data": row.tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


async def drive_rest(
    url: str, bodies: list[bytes], seconds: float, connections: int
) -> dict[str, float]:
    """Single-row v2 REST calls from ``connections`` callers for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        deadline = time.monotonic() + 180
        while (
            await client.post(INFER_REST, content=bodies[0], headers=headers)
        ).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no v2 REST answer from {url}")
            await asyncio.sleep(0.5)
        stop = time.perf_counter() + seconds

        async def caller(offset: int) -> None:
            nonlocal errors
            index = offset
            while time.perf_counter() < stop:
                began = time.perf_counter()
                answer = await client.post(
                    INFER_REST, content=bodies[index % len(bodies)], headers=headers
                )
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
                index += 1

        began = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(connections)))
        elapsed = time.perf_counter() - began
    return summary(latencies, elapsed, errors)


async def wait_grpc(target: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(target) as channel:
        ready = channel.unary_unary(READY, lambda m: m, lambda b: b)
        while time.monotonic() < deadline:
            try:
                await ready(b"", timeout=2)
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.5)
    raise RuntimeError(f"no gRPC server on {target}")


async def drive(
    target: str, bodies: list[bytes], seconds: float, connections: int
) -> dict[str, float]:
    """Single-row calls from ``connections`` callers for ``seconds``: rate and latency."""
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(target) as channel:
        infer = channel.unary_unary(INFER, lambda m: m, lambda b: b)
        await infer(bodies[0])  # warm up
        stop = time.perf_counter() + seconds

        async def caller(offset: int) -> None:
            nonlocal errors
            index = offset
            while time.perf_counter() < stop:
                began = time.perf_counter()
                try:
                    await infer(bodies[index % len(bodies)])
                    latencies.append(time.perf_counter() - began)
                except grpc.aio.AioRpcError:
                    errors += 1
                index += 1

        began = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(connections)))
        elapsed = time.perf_counter() - began
    return summary(latencies, elapsed, errors)


def measure(target: str, bodies: list[bytes], args: argparse.Namespace) -> dict[str, float]:
    asyncio.run(wait_grpc(target))
    return asyncio.run(drive(target, bodies, args.seconds, args.connections))


def measure_rest(url: str, bodies: list[bytes], args: argparse.Namespace) -> dict[str, float]:
    return asyncio.run(drive_rest(url, bodies, args.seconds, args.connections))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--mlserver-python", default=None)
    args = parser.parse_args()
    estimator, x = model()
    bodies = [request(row) for row in x[:256]]
    rest = [rest_body(row) for row in x[:256]]
    python = mlserver_python(args.mlserver_python)
    results: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        process, port, http = start_lanza(Path(tmp) / "lanza", estimator, args.workers)
        try:
            results["lanza", "grpc"] = measure(f"127.0.0.1:{port}", bodies, args)
            results["lanza", "rest"] = measure_rest(f"http://127.0.0.1:{http}", rest, args)
        finally:
            stop(process)
        process, port, http = start_mlserver(python, Path(tmp) / "mlserver", estimator)
        try:
            results["mlserver", "grpc"] = measure(f"127.0.0.1:{port}", bodies, args)
            results["mlserver", "rest"] = measure_rest(f"http://127.0.0.1:{http}", rest, args)
        finally:
            stop(process)
    for (name, protocol), figures in results.items():
        print(
            f"{name:9s} {protocol:4s} {figures['rps']:8.1f} req/s  "
            f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms  "
            f"errors {figures['errors']:.0f}"
        )
    for protocol in ("grpc", "rest"):
        ratio = results["lanza", protocol]["rps"] / results["mlserver", protocol]["rps"]
        print(f"lanza / MLServer throughput: {ratio:.2f}x ({protocol}, single-row requests)")


if __name__ == "__main__":
    main()
