"""Open Inference v2 over gRPC and REST: ``lanza serve`` against MLServer, in one run.

One scikit-learn model (logistic regression on four columns of the breast-cancer table,
logged with a tensor signature) is served by both servers at once: lanza from an MLflow
registry (monitoring on, as it ships), MLServer (``mlserver``, ``mlserver-sklearn``, from
``bench/.peers/mlserver``, made by ``make bench-peers``) from the same model saved with
joblib. Each server is one process pinned to core 0; the load comes from programs outside
Python pinned to core 1 (``taskset``), so the client takes no time from the server:

- gRPC: ``h2load`` (``apt-get install nghttp2-client``) posts one pre-serialized
  ``ModelInferRequest`` (one FP64 tensor of shape [1, 4] in ``raw_input_contents``, as
  ``tritonclient.grpc`` sends it) to ``/inference.GRPCInferenceService/ModelInfer`` with
  gRPC's 5-byte framing, over ``--clients`` HTTP/2 connections of ``--streams``
  concurrent calls each; p50 and p99 come from its per-request log;
- REST: ``wrk`` (``apt-get install wrk``) posts the same call as v2 JSON to
  ``/v2/models/cancer/infer`` over ``--clients`` x ``--streams`` connections.

A gRPC error travels as HTTP 200 with ``grpc-status`` in the trailers, which h2load counts
as a success, so every measurement is checked by the server's own counters: before and
after it, lanza's ``lanza_requests_total`` and MLServer's ``model_infer_request_*_total``
must show no failed call and at least as many answered calls as the load generator counted.
Before any load, one real ``tritonclient.grpc`` call and one REST call to each server must
answer the model's own prediction.

The protocols and servers alternate for ``--rounds`` rounds (lanza gRPC, MLServer gRPC,
lanza REST, MLServer REST, ...) and the medians are printed with the ratios, the load
average before and after, and written to ``bench/out/grpc-<time>.json``.

    .venv/bin/python bench/grpc.py [--seconds 10] [--rounds 3] [--clients 1] [--streams 16]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

# Run as a script, this file's folder comes first on the path, and this file is named like
# the grpc package: look past it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import httpx
import joblib
import mlflow
import numpy as np
import tritonclient.grpc as triton
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from lanza.serving.faces.grpc import open_inference_pb2 as pb


def _realtime() -> ModuleType:
    """``bench/realtime.py``: its servers' start and stop, pinning, wrk and peers."""
    spec = importlib.util.spec_from_file_location("bench_realtime", HERE / "realtime.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


rt = _realtime()
ROOT = HERE.parent
OUT = ROOT / "bench" / "out"
INFER = "/inference.GRPCInferenceService/ModelInfer"
INFER_REST = "/v2/models/cancer/infer"
FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area"]
SERVERS = ("lanza", "mlserver")
PROTOCOLS = ("grpc", "rest")


def model() -> tuple[LogisticRegression, np.ndarray]:
    """The model both servers serve, and the row sent to it."""
    data = load_breast_cancer(as_frame=True).frame
    x = data[FEATURES].to_numpy()
    return LogisticRegression(max_iter=5000).fit(x, data["target"]), x[:1]


def start_mlserver(python: Path, home: Path, estimator: LogisticRegression) -> dict[str, Any]:
    """MLServer on free gRPC, HTTP and metrics ports, serving the model, pinned to core 0."""
    folder = home / "mlserver"
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
    ports = {"grpc": rt.free_port(), "http": rt.free_port(), "metrics": rt.free_port()}
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": ports["http"],
                "grpc_port": ports["grpc"],
                "metrics_port": ports["metrics"],
                "parallel_workers": 0,
            }
        )
    )
    server = rt.Server(
        "mlserver",
        [str(python.parent / "mlserver"), "start", str(folder)],
        "/v2/health/ready",
        "",
        "",
    )
    process = rt.start(server, ports["http"], dict(os.environ), home / "mlserver.log")
    return {"process": process, **ports, "metrics_url": f"http://127.0.0.1:{ports['metrics']}"}


def start_lanza(home: Path, estimator: LogisticRegression) -> dict[str, Any]:
    """``lanza serve`` on free ports, pinned to core 0, with the model registered and deployed."""
    home.mkdir(parents=True)
    mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
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
    env = {
        **os.environ,
        "LANZA_HOME": str(home),
        "LANZA_ALLOW_PICKLE": "true",
        "PYTHONPATH": str(ROOT / "src"),
    }
    ports = {"grpc": rt.free_port(), "http": rt.free_port()}
    lanza = str(Path(sys.executable).parent / "lanza")
    command = [lanza, "serve", "--port", "{port}", "--grpc-port", str(ports["grpc"])]
    process = rt.start(
        rt.Server("lanza", command, "/healthz", "", ""), ports["http"], env, home / "log"
    )
    url = f"http://127.0.0.1:{ports['http']}"
    httpx.post(f"{url}/api/v1/deployments", json={"name": "cancer", "model": "cancer/1"})
    rt.wait_ready(f"{url}/readyz", process)
    return {"process": process, **ports, "metrics_url": url}


def grpc_body(row: np.ndarray) -> bytes:
    """One single-row ModelInferRequest as tritonclient.grpc sends it (raw contents), with
    gRPC's framing: a zero compression flag and the message's length, big-endian."""
    message = pb.ModelInferRequest(model_name="cancer")
    message.inputs.add(name="input", datatype="FP64", shape=[1, 4])
    message.raw_input_contents.append(row.astype("<f8").tobytes())
    serialized = message.SerializeToString()
    return b"\0" + struct.pack(">I", len(serialized)) + serialized


def rest_body(row: np.ndarray) -> str:
    """The same single-row request as v2 REST JSON."""
    tensor = {"name": "input", "datatype": "FP64", "shape": [1, 4], "data": row.tolist()}
    return json.dumps({"inputs": [tensor]})


def check_answers(server: dict[str, Any], row: np.ndarray, expected: int) -> None:
    """One real tritonclient.grpc call and one REST call must answer the model's prediction."""
    client = triton.InferenceServerClient(f"127.0.0.1:{server['grpc']}")
    tensor = triton.InferInput("input", [1, 4], "FP64")
    tensor.set_data_from_numpy(row.astype("float64"))
    answer = client.infer("cancer", [tensor]).as_numpy("predict")
    client.close()
    if answer is None or int(answer.reshape(-1)[0]) != expected:
        raise RuntimeError(f"gRPC answered {answer!r}, not {expected}")
    reply = httpx.post(
        f"http://127.0.0.1:{server['http']}{INFER_REST}",
        content=rest_body(row),
        headers={"content-type": "application/json"},
    ).json()
    if int(reply["outputs"][0]["data"][0]) != expected:
        raise RuntimeError(f"REST answered {reply!r}, not {expected}")


def counters(name: str, server: dict[str, Any]) -> tuple[float, float]:
    """Calls the server itself counted as answered and as failed (both protocols)."""
    text = httpx.get(f"{server['metrics_url']}/metrics", timeout=10).text
    ok = failed = 0.0
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        if name == "lanza" and series.startswith("lanza_requests_total{"):
            if 'status="ok"' in series:
                ok += float(value)
            else:
                failed += float(value)
        elif series.startswith("model_infer_request_success_total"):
            ok += float(value)
        elif series.startswith("model_infer_request_failure_total"):
            failed += float(value)
    return ok, failed


def h2load(port: int, body: Path, seconds: float, clients: int, streams: int) -> dict[str, float]:
    """Unary gRPC calls from h2load on core 1: rate, p50 and p99 from its per-request log."""
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    command = [
        "h2load",
        "-t1",
        f"-c{clients}",
        f"-m{streams}",
        f"-D{seconds:g}",
        "--warm-up-time=2",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "-d",
        str(body),
        f"--log-file={log}",
        f"http://127.0.0.1:{port}{INFER}",
    ]
    out = subprocess.run([*rt.pin(1), *command], capture_output=True, text=True, check=True).stdout
    times = sorted(int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines())
    log.unlink()
    done = rt._find(r"requests: \d+ total, \d+ started, (\d+) done", out)
    succeeded = rt._find(r"(\d+) succeeded", out)
    if not times:
        raise RuntimeError(f"h2load answered nothing:\n{out}")
    cuts = statistics.quantiles(times, n=100)
    return {
        "rps": float(rt._find(r"finished in [\d.]+s, ([\d.]+) req/s", out)),
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "calls": float(succeeded),
        "errors": float(done) - float(succeeded),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used, every thread of it (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(
    name: str, server: dict[str, Any], protocol: str, bodies: dict[str, Any], args: Any
) -> dict[str, float]:
    """One measurement, checked against the server's counters, with the server's CPU time
    per answered call (steadier than req/s on a machine other jobs load)."""
    before = counters(name, server)
    cpu = cpu_seconds(server["process"].pid)
    if protocol == "grpc":
        result = h2load(server["grpc"], bodies["grpc"], args.seconds, args.clients, args.streams)
    else:
        url = f"http://127.0.0.1:{server['http']}{INFER_REST}"
        connections = args.clients * args.streams
        rt.wrk(url, bodies["rest"], 2, connections)  # warm up, as h2load does
        result = rt.wrk(url, bodies["rest"], args.seconds, connections)
        result["calls"] = result["rps"] * args.seconds
    cpu = cpu_seconds(server["process"].pid) - cpu
    after = counters(name, server)
    answered, failed = after[0] - before[0], after[1] - before[1]
    if failed or answered < result["calls"] * 0.99 or result["errors"]:
        raise RuntimeError(
            f"{name} {protocol}: the server counted {answered:.0f} answered and {failed:.0f} "
            f"failed calls; the load generator {result['calls']:.0f} and {result['errors']:.0f}"
        )
    result["server_counted"] = answered
    result["cpu_us_per_call"] = cpu / answered * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1, help="HTTP/2 connections")
    parser.add_argument("--streams", type=int, default=16, help="concurrent calls each")
    args = parser.parse_args()
    for tool in ("h2load", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install -y nghttp2-client wrk")
    python = rt.peer_python("mlserver", install=True)
    if python is None:
        sys.exit("MLServer cannot be installed here (make bench-peers)")
    estimator, row = model()
    expected = int(estimator.predict(row)[0])
    began, load_before = datetime.now(UTC), rt.load_average()
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        frame = Path(tmp) / "request.grpc"
        frame.write_bytes(grpc_body(row[0]))
        bodies = {"grpc": frame, "rest": rest_body(row[0])}
        servers = {
            "lanza": start_lanza(Path(tmp) / "lanza", estimator),
            "mlserver": start_mlserver(python, Path(tmp), estimator),
        }
        try:
            for server in servers.values():
                check_answers(server, row, expected)
            for round_ in range(args.rounds):
                for protocol in PROTOCOLS:
                    for name in SERVERS:
                        result = drive(name, servers[name], protocol, bodies, args)
                        runs.setdefault((name, protocol), []).append(result)
                        print(
                            f"round {round_ + 1} {name:8s} {protocol:4s} "
                            f"{result['rps']:8.0f} req/s  p99 {result['p99_ms']:6.2f} ms  "
                            f"{result['cpu_us_per_call']:6.0f} us CPU per call",
                            flush=True,
                        )
        finally:
            for server in servers.values():
                rt.stop(server["process"])
    report(runs, args, began, load_before)


def report(
    runs: dict[tuple[str, str], list[dict[str, float]]],
    args: Any,
    began: datetime,
    load_before: str,
) -> None:
    """Medians per server and protocol, the ratios, and the record in bench/out."""
    medians = {key: rt.median(values) for key, values in runs.items()}
    print(
        f"\n{began:%Y-%m-%d %H:%M} UTC, {args.rounds} rounds of {args.seconds:g} s, "
        f"{args.clients} connection(s) x {args.streams} streams; load average "
        f"{load_before} before, {rt.load_average()} after ({os.cpu_count()} cores)"
    )
    print(
        f"{'server':9s} {'protocol':8s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
        f"{'CPU us/call':>12s}"
    )
    for (name, protocol), m in medians.items():
        print(
            f"{name:9s} {protocol:8s} {m['rps']:8.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} "
            f"{m['cpu_us_per_call']:12.0f}"
        )
    for protocol in PROTOCOLS:
        ours, theirs = medians["lanza", protocol], medians["mlserver", protocol]
        print(
            f"lanza / MLServer ({protocol}): {ours['rps'] / theirs['rps']:.2f}x throughput, "
            f"p99 {ours['p99_ms']:.2f} vs {theirs['p99_ms']:.2f} ms, "
            f"{theirs['cpu_us_per_call'] / ours['cpu_us_per_call']:.2f}x less CPU per call"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    record = {
        "began": began.isoformat(),
        "args": vars(args),
        "load_before": load_before,
        "load_after": rt.load_average(),
        "runs": {f"{n} {p}": values for (n, p), values in runs.items()},
        "medians": {f"{n} {p}": values for (n, p), values in medians.items()},
    }
    path = OUT / f"grpc-{began:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
