"""Real-time throughput and latency: ``lanza serve`` against ``mlflow models serve``.

One scikit-learn model (the quickstart's breast-cancer table, logistic regression in
lanza's preprocessing pipeline) is served by each server in turn on this machine and
driven by the same load: single-row JSON requests over 16 concurrent connections for
``--seconds`` (default 20), with ``wrk`` when installed (``apt-get install wrk``), else
a Python load generator. Prints requests/s, p50 and p99 for both, and the ratios.

    .venv/bin/python bench/realtime.py [--seconds 20] [--connections 16] [--workers 2]
        [--monitoring-off]   # also lanza without its prediction log: what monitoring costs
        [--rounds 3]         # with --monitoring-off: lanza on and off alternately, medians

On a small machine the load generator shares the cores with the server and throughput
moves by several percent from one run to the next, so the cost of monitoring is taken
from runs with it on and off in turn, and each side's median is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
from sklearn.datasets import load_breast_cancer

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def prepare(home: Path) -> dict[str, object]:
    """Train and register the model; return one request row."""
    from lanza.settings import Settings
    from lanza.training.service import TrainRequest, train
    from lanza.workspace import Workspace

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    ws = Workspace(Settings(home=home))
    train(ws, TrainRequest(frame, "target", "bench", candidates=["logistic_regression"]))
    ws.close()
    row: dict[str, object] = frame.drop(columns="target").iloc[0].to_dict()
    return row


def wrk(url: str, body: str, seconds: int, connections: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def python_load(url: str, body: str, seconds: int, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, until: float) -> None:
        nonlocal errors
        while time.monotonic() < until:
            began = time.perf_counter()
            response = await client.post(
                url, content=body, headers={"content-type": "application/json"}
            )
            latencies.append((time.perf_counter() - began) * 1000)
            errors += response.status_code != 200

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            began = time.monotonic()
            await asyncio.gather(*(worker(client, began + seconds) for _ in range(connections)))
            return time.monotonic() - began

    elapsed = asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "errors": float(errors),
    }


def run_server(command: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[bytes]:
    log = Path(env["LANZA_HOME"]) / f"server-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        wait_ready(ready)
    except RuntimeError:
        stop(process)
        sys.stderr.write(log.read_text()[-3000:])
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, the same for both servers"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="with --monitoring-off: alternating runs of each"
    )
    parser.add_argument(
        "--monitoring-off",
        action="store_true",
        help="also run lanza with the prediction log off, to show what monitoring costs",
    )
    args = parser.parse_args()
    load = wrk if shutil.which("wrk") else python_load
    home = Path(tempfile.mkdtemp(prefix="lanza-bench-"))
    row = prepare(home)
    env = {
        **os.environ,
        "LANZA_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        # mlflow models serve starts `uvicorn` by name: the venv's bin must be on PATH.
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    results: dict[str, dict[str, float]] = {}

    port = free_port()
    mlflow_server = run_server(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/bench@champion",
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "--env-manager",
            "local",
            "--workers",
            str(args.workers),
        ],
        env,
        f"http://127.0.0.1:{port}/ping",
    )
    try:
        body = json.dumps({"dataframe_records": [row]})
        load(f"http://127.0.0.1:{port}/invocations", body, 3, args.connections)  # warm up
        results["mlflow models serve"] = load(
            f"http://127.0.0.1:{port}/invocations", body, args.seconds, args.connections
        )
    finally:
        stop(mlflow_server)

    subprocess.run(
        [sys.executable, "-m", "lanza", "deploy", "bench", "--model", "bench@champion"],
        env=env,
        check=True,
        capture_output=True,
    )
    runs = {"lanza serve": env}
    if args.monitoring_off:
        runs["lanza serve, monitoring off"] = {**env, "LANZA_MONITORING__ENABLED": "false"}
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    for name, run_env in [*runs.items()] * (args.rounds if args.monitoring_off else 1):
        port = free_port()
        lanza_server = run_server(
            [
                sys.executable,
                "-m",
                "lanza",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            run_env,
            f"http://127.0.0.1:{port}/readyz",
        )
        try:
            body = json.dumps({"instances": [row]})
            url = f"http://127.0.0.1:{port}/api/v1/deployments/bench/predict"
            load(url, body, 3, args.connections)
            rounds[name].append(load(url, body, args.seconds, args.connections))
        finally:
            stop(lanza_server)
    for name, measured in rounds.items():
        if len(measured) > 1:
            print(f"{name}: " + ", ".join(f"{m['rps']:.0f}" for m in measured) + " req/s")
        results[name] = {key: statistics.median(m[key] for m in measured) for key in measured[0]}

    table = pd.DataFrame(results).T[["rps", "p50_ms", "p99_ms", "errors"]]
    print(
        f"\nload: {load.__name__}, {args.connections} connections, {args.seconds}s, "
        f"single-row requests, {os.cpu_count()} cores"
        + (f", lanza medians of {args.rounds} alternating runs" if args.monitoring_off else "")
    )
    print(table.round(2).to_string())
    ours, peer = results["lanza serve"], results["mlflow models serve"]
    print(
        f"\nthroughput ratio lanza / mlflow: {ours['rps'] / peer['rps']:.1f}x "
        f"(target >= 20x); lanza p99 {ours['p99_ms']:.1f} ms (target <= 50 ms)"
    )
    if "lanza serve, monitoring off" in results:
        off = results["lanza serve, monitoring off"]
        print(
            f"monitoring (prediction log with its journal, drift rounds) costs "
            f"{100 * (1 - ours['rps'] / off['rps']):.1f} % of throughput and "
            f"{ours['p99_ms'] - off['p99_ms']:+.1f} ms at p99"
        )
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
