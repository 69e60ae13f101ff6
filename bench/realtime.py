"""Real-time serving, every peer in one run: req/s, p50, p99 and the ratios to lanza.

One model, a logistic regression on 20 numeric features trained and registered with
MLflow by ``lanza train``, is served in turn by each server on this machine, and the
same load drives each: single-row JSON requests over ``--connections`` (16) connections
for ``--seconds``, from ``wrk`` when installed (``apt-get install wrk``), else from an
async Python client in its own process. The servers, in order:

- ``ceiling``: a bare ASGI app on uvicorn + httptools that answers a fixed prediction (no
  framework, no model): what the HTTP layer alone allows here, the reference of ratios;
- ``lanza native``, ``lanza mlflow face`` (``/invocations``), ``lanza v2 face``: one
  ``lanza serve``, monitoring on;
- ``fastapi + pandas``: a hand-written FastAPI app (``bench/servers/fastapi_pandas.py``);
- ``mlflow models serve`` on the same registered version;
- ``litserve``, ``bentoml``, ``mlserver`` (v2, the same body as lanza's v2 face), each in
  its own virtualenv under ``bench/.peers`` (made on demand with pip, or by ``make
  bench-peers``), serving the same fitted pipeline saved with joblib. A peer that cannot be
  installed is reported as skipped.

Then lanza alone: 100-row requests (rows/s), and the cold start of ``lanza serve`` to the
first answered prediction. With two cores or more, each single-process server is pinned
to core 0 and the load generator to core 1 (``taskset``). The results are printed and
written to ``bench/out/realtime-<time>.json``.

    .venv/bin/python bench/realtime.py [--seconds 15] [--connections 16] [--workers 1]
        [--quick]                # 5 s per server, the ceiling and lanza only, 3 rounds
        [--rounds N]             # each server N times in turn (ceiling, lanza, ceiling, ...):
                                 # medians, steadier on a machine other jobs load
        [--peers a,b]            # only these peers (names as above)
        [--monitoring-off]       # also lanza native with its prediction log off
        [--install-peers]        # create the peers' virtualenvs and stop
        [--cold N]               # only the cold start of lanza serve, N times: each run
                                 # and the median
        [--check bench/baseline.json]  # fail when lanza's share of the ceiling falls
                                 # more than 20 % below the recorded one (make bench-check)
        [--record bench/baseline.json] # write this run's share as the recorded one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "bench" / "servers"
PEERS = ROOT / "bench" / ".peers"
OUT = ROOT / "bench" / "out"
FEATURES = [f"f{i:02d}" for i in range(20)]
# What each peer's virtualenv installs; scikit-learn at this venv's version, so the
# pickled pipeline loads the same everywhere.
PEER_PACKAGES = {
    "litserve": ["litserve"],
    "bentoml": ["bentoml"],
    "mlserver": ["mlserver", "mlserver-sklearn"],
}
LOCAL = ["--port", "{port}", "--host", "127.0.0.1"]
TOLERANCE = 0.20  # --check fails below (1 - TOLERANCE) x the recorded share of the ceiling


@dataclass
class Server:
    """How to start one server and what to send it."""

    name: str
    command: list[str]
    ready: str  # path answered 200 once the server serves
    url: str  # path of the predict route
    body: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    pinned: bool = True
    group: str = ""  # servers of one group share one process (the first one starts it)


# -- load ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(core: int) -> list[str]:
    """``taskset -c CORE`` where it helps (two cores or more) and exists."""
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(core)]


def wrk(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    """wrk on its own core: one thread, ``connections`` connections, latency percentiles."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*pin(1), *command, url], capture_output=True, text=True, check=True
    ).stdout
    script.unlink()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*?(\d+) timeout", out)
    return {
        "rps": float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": _ms(_find(r"50%\s+([\d.]+\w+)", out)),
        "p99_ms": _ms(_find(r"99%\s+([\d.]+\w+)", out)),
        "errors": float(errors.group(1)) if errors else 0.0,
        "timeouts": float(socket_errors.group(1)) if socket_errors else 0.0,
    }


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return found.group(1)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def python_load(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    """The async client in a process of its own (pinned like wrk), when wrk is absent."""
    if pin(1):
        os.sched_setaffinity(0, {0, 1})  # the child inherits this, then pins itself
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, float] = pool.apply(_python_load, (url, body, seconds, connections))
    return result


def _python_load(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    if pin(1):
        os.sched_setaffinity(0, {1})
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, until: float) -> None:
        nonlocal errors
        headers = {"content-type": "application/json"}
        while time.monotonic() < until:
            began = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
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
        "timeouts": 0.0,
    }


# -- servers -------------------------------------------------------------------------


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def start(server: Server, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [part.replace("{port}", str(port)) for part in server.command]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*(pin(0) if server.pinned else []), *command],
            env={**env, **server.env, "BENCH_PORT": str(port)},
            cwd=server.cwd,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}{server.ready}", process)
    except RuntimeError:
        stop(process)
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def peer_python(name: str, install: bool) -> Path | None:
    """The interpreter of a peer's own virtualenv, made with pip on first use."""
    python = PEERS / name / "bin" / "python"
    ready = PEERS / name / ".bench-installed"
    if ready.exists():
        return python
    if not install:
        return None
    import sklearn

    print(f"installing {name} into {PEERS / name} (pip)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS / name)], check=True)
    packages = [*PEER_PACKAGES[name], f"scikit-learn=={sklearn.__version__}", "pandas"]
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"{name} cannot be installed here:\n{done.stderr[-1500:]}", flush=True)
        return None
    ready.touch()
    return python


# -- the model -----------------------------------------------------------------------


def prepare(home: Path) -> dict[str, float]:
    """Train and register the model with lanza, save its pipeline for the peers; one row."""
    import joblib
    import pandas as pd
    from sklearn.datasets import make_classification

    from lanza.runtime.serialization import load_model
    from lanza.settings import Settings
    from lanza.training.service import TrainRequest, train
    from lanza.workspace import Workspace

    x, y = make_classification(n_samples=3000, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(x, columns=FEATURES).assign(target=y)
    ws = Workspace(Settings(home=home))
    train(ws, TrainRequest(frame, "target", "bench", candidates=["logistic_regression"]))
    version = ws.registry.resolve("bench@champion")
    folder = ws.loader.download(version)
    joblib.dump(load_model(next(folder.glob("*.skops")).read_bytes()), home / "model.joblib")
    ws.close()
    return {name: float(frame[name].iloc[0]) for name in FEATURES}


def servers(
    python: str, home: Path, row: dict[str, float], workers: int, install: bool
) -> list[Server]:
    """Every server of the run, in order."""
    records = json.dumps({"instances": [row]})
    v2 = json.dumps(
        {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": n, "shape": [1], "datatype": "FP64", "data": [v]} for n, v in row.items()
            ],
        }
    )
    uvicorn = [python, "-m", "uvicorn", "--http", "httptools", "--loop", "uvloop"]
    uvicorn += ["--no-access-log", "--log-level", "warning", "--port", "{port}"]
    model = {"BENCH_MODEL": str(home / "model.joblib")}
    lanza = [python, "-m", "lanza", "serve", "--port", "{port}", "--grpc-port", "0"]
    lanza += ["--workers", str(workers)]
    single = workers == 1
    mlflow_serve = [python, "-m", "mlflow", "models", "serve", "-m", "models:/bench@champion"]
    mlflow_serve += ["-p", "{port}", "-h", "127.0.0.1", "--env-manager", "local"]
    found = [
        Server("ceiling", [*uvicorn, "ceiling:app"], "/", "/", records, cwd=SERVERS),
        Server(
            "lanza native",
            lanza,
            "/readyz",
            "/api/v1/deployments/bench/predict",
            records,
            pinned=single,
            group="lanza",
        ),
        Server(
            "lanza mlflow face",
            lanza,
            "/readyz",
            "/invocations",
            json.dumps({"dataframe_records": [row]}),
            group="lanza",
        ),
        Server("lanza v2 face", lanza, "/readyz", "/v2/models/bench/infer", v2, group="lanza"),
        Server(
            "fastapi + pandas",
            [*uvicorn, "--workers", str(workers), "fastapi_pandas:app"],
            "/docs",
            "/predict",
            records,
            env=model,
            cwd=SERVERS,
            pinned=single,
        ),
        Server(
            "mlflow models serve",
            [*mlflow_serve, "--workers", str(workers)],
            "/ping",
            "/invocations",
            json.dumps({"dataframe_records": [row]}),
            pinned=single,
        ),
    ]
    peers = {
        "litserve": lambda bin: Server(
            "litserve",
            [str(bin / "python"), "litserve_app.py"],
            "/health",
            "/predict",
            records,
            env=model,
            cwd=SERVERS,
        ),
        "bentoml": lambda bin: Server(
            "bentoml",
            [str(bin / "bentoml"), "serve", "bentoml_service:Model", *LOCAL],
            "/readyz",
            "/predict",
            json.dumps({"instances": [list(row.values())]}),
            env={**model, "BENCH_COLUMNS": ",".join(row)},
            cwd=SERVERS,
        ),
        "mlserver": lambda bin: Server(
            "mlserver",
            [str(bin / "mlserver"), "start", str(home / "mlserver")],
            "/v2/health/ready",
            "/v2/models/bench/infer",
            v2,
        ),
    }
    for name, build in peers.items():
        interpreter = peer_python(name, install)
        if interpreter is not None:
            found.append(build(interpreter.parent))
    return found


def mlserver_settings(home: Path, port: int) -> None:
    """MLServer's folder: its settings (ports) and the model's (the joblib pipeline)."""
    folder = home / "mlserver"
    folder.mkdir(exist_ok=True)
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "bench",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": str(home / "model.joblib")},
            }
        )
    )
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "parallel_workers": 0,
            }
        )
    )


# -- the run -------------------------------------------------------------------------


def measure(
    group: list[Server],
    env: dict[str, str],
    home: Path,
    load: Callable[[str, str, float, int], dict[str, float]],
    seconds: float,
    connections: int,
) -> dict[str, dict[str, Any]]:
    """Start the group's server once, drive each of its routes; an error is reported."""
    first = group[0]
    port = free_port()
    if first.name == "mlserver":
        mlserver_settings(home, port)
    results: dict[str, dict[str, Any]] = {}
    try:
        process = start(first, port, env, home / f"{first.name.replace(' ', '-')}.log")
    except Exception as exc:  # a peer that does not start is reported, not fatal
        for server in group:
            results[server.name] = {"error": str(exc)[:200]}
        return results
    try:
        for server in group:
            url = f"http://127.0.0.1:{port}{server.url}"
            check = httpx.post(
                url, content=server.body, headers={"content-type": "application/json"}
            )
            if check.status_code != 200:
                results[server.name] = {"error": f"{check.status_code}: {check.text[:200]}"}
                continue
            load(url, server.body, min(3.0, seconds), connections)  # warm up
            results[server.name] = load(url, server.body, seconds, connections)
            print(f"  {server.name}: {results[server.name]['rps']:,.0f} req/s", flush=True)
    finally:
        stop(process)
    return results


def batched(
    python: str, env: dict[str, str], home: Path, row: dict[str, float], seconds: float
) -> dict[str, Any]:
    """lanza with 100-row requests: rows/s."""
    body = json.dumps({"instances": [row] * 100})
    server = Server(
        "lanza 100-row",
        [python, "-m", "lanza", "serve", "--port", "{port}", "--grpc-port", "0"],
        "/readyz",
        "/api/v1/deployments/bench/predict",
        body,
    )
    port = free_port()
    process = start(server, port, env, home / "lanza-batch.log")
    try:
        url = f"http://127.0.0.1:{port}{server.url}"
        load = wrk if shutil.which("wrk") else python_load
        load(url, body, min(3.0, seconds), 16)
        result = load(url, body, seconds, 16)
    finally:
        stop(process)
    return {**result, "rows_per_s": result["rps"] * 100}


def cold_start(python: str, env: dict[str, str], row: dict[str, float]) -> float:
    """Seconds from starting ``lanza serve`` to its first answered prediction."""
    port = free_port()
    body = json.dumps({"instances": [row]})
    url = f"http://127.0.0.1:{port}/api/v1/deployments/bench/predict"
    began = time.perf_counter()
    process = subprocess.Popen(
        [python, "-m", "lanza", "serve", "--port", str(port), "--grpc-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() - began < 120:
                try:
                    answer = client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
                    if answer.status_code == 200:
                        return time.perf_counter() - began
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
    finally:
        stop(process)
    raise RuntimeError("lanza serve did not answer a prediction within 120 s")


def cold_only(
    python: str, env: dict[str, str], row: dict[str, float], runs: int, load_before: str
) -> None:
    """``--cold N``: the cold start alone, ``runs`` times, each figure and the median.

    The first run follows ``lanza deploy``, as a fresh server would; its model load
    fills the ready-to-load cache that later runs read.
    """
    began = datetime.now(UTC)
    seconds = []
    for index in range(runs):
        seconds.append(cold_start(python, env, row))
        print(f"run {index + 1}: {seconds[-1]:.2f} s", flush=True)
    print(
        f"\n{began:%Y-%m-%d %H:%M} UTC, {platform.machine()} {os.cpu_count()} cores, "
        f"{platform.python_version()}; load average before {load_before}, "
        f"after {load_average()}"
    )
    middle = statistics.median(seconds)
    print(
        f"lanza serve, start to first answered prediction: median {middle:.2f} s "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f}, {runs} runs)"
    )


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds that measured it (an error when none did)."""
    measured = [r for r in runs if "error" not in r]
    if not measured:
        return runs[-1]
    return {key: statistics.median(r[key] for r in measured) for key in measured[0]}


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(results: dict[str, dict[str, Any]], extra: dict[str, Any]) -> None:
    ceiling = results.get("ceiling", {}).get("rps")
    ours = results.get("lanza native", {}).get("rps")
    print(
        f"\n{'server':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'of ceiling':>12}{'lanza /':>9}"
    )
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<22}  not measured: {r['error']}")
            continue
        share = f"{100 * r['rps'] / ceiling:.1f} %" if ceiling else "-"
        ratio = f"{ours / r['rps']:.1f}x" if ours else "-"
        print(
            f"{name:<22}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{share:>12}{ratio:>9}"
        )
    if "batch" in extra:
        b = extra["batch"]
        print(
            f"\nlanza, 100-row requests: {b['rows_per_s']:,.0f} rows/s "
            f"({b['rps']:,.0f} req/s, p99 {b['p99_ms']:.1f} ms)"
        )
    if "cold_start_s" in extra:
        print(f"lanza serve, start to first answered prediction: {extra['cold_start_s']:.2f} s")


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="processes of each server")
    parser.add_argument(
        "--quick", action="store_true", help="5 s, the ceiling and lanza only, 3 rounds"
    )
    parser.add_argument(
        "--rounds", type=int, default=0, help="runs of each server in turn, medians reported"
    )
    parser.add_argument("--peers", default="", help="comma-separated server names to run")
    parser.add_argument("--install-peers", action="store_true")
    parser.add_argument(
        "--monitoring-off",
        action="store_true",
        help="also lanza native with the prediction log off: what monitoring costs",
    )
    parser.add_argument("--no-install", action="store_true", help="skip peers not installed")
    parser.add_argument(
        "--cold",
        type=int,
        default=0,
        metavar="N",
        help="only the cold start of lanza serve to its first prediction, N times",
    )
    parser.add_argument("--check", type=Path, default=None)
    parser.add_argument("--record", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.install_peers:
        for name in PEER_PACKAGES:
            peer_python(name, install=True)
        return
    seconds = 5.0 if args.quick else args.seconds
    args.rounds = args.rounds or (3 if args.quick else 1)
    load = wrk if shutil.which("wrk") else python_load
    home = Path(tempfile.mkdtemp(prefix="lanza-bench-"))
    started_at = datetime.now(UTC)
    load_before = load_average()
    print(f"load average before: {load_before} ({os.cpu_count()} cores); preparing the model")
    row = prepare(home)
    python = sys.executable
    env = {
        **os.environ,
        "LANZA_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "PYTHONPATH": str(ROOT / "src"),
        # mlflow models serve starts `uvicorn` by name: the venv's bin must be on PATH.
        "PATH": f"{Path(python).parent}:{os.environ.get('PATH', '')}",
    }
    subprocess.run(
        [python, "-m", "lanza", "deploy", "bench", "--model", "bench@champion"],
        env=env,
        check=True,
        capture_output=True,
    )
    if args.cold:
        cold_only(python, env, row, args.cold, load_before)
        shutil.rmtree(home, ignore_errors=True)
        return
    wanted = set(filter(None, args.peers.split(",")))
    if args.quick and not wanted:
        wanted = {"ceiling", "lanza native", "lanza mlflow face"}
    everything = servers(python, home, row, args.workers, not args.no_install and not args.quick)
    if args.monitoring_off:
        native = next(s for s in everything if s.name == "lanza native")
        off = {"LANZA_MONITORING__ENABLED": "false"}
        everything.insert(
            2, replace(native, name="lanza native, monitoring off", env=off, group="")
        )
        if wanted:  # asked for, so measured whatever else was chosen (--quick, --peers)
            wanted.add("lanza native, monitoring off")
    chosen = [s for s in everything if not wanted or s.name in wanted]
    groups: dict[str, list[Server]] = {}
    for server in chosen:
        groups.setdefault(server.group or server.name, []).append(server)
    rounds: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):  # servers in turn, round after round: medians
        for group in groups.values():
            print(f"{group[0].name} ...", flush=True)
            measured = measure(group, env, home, load, seconds, args.connections)
            for name, result in measured.items():
                rounds.setdefault(name, []).append(result)
    results = {name: median(runs) for name, runs in rounds.items()}
    extra: dict[str, Any] = {}
    if not args.quick and (not wanted or "lanza native" in wanted):
        extra["batch"] = batched(python, env, home, row, seconds)
        extra["cold_start_s"] = cold_start(python, env, row)
    load_after = load_average()
    print(
        f"\n{started_at:%Y-%m-%d %H:%M} UTC, {platform.machine()} {os.cpu_count()} cores, "
        f"{platform.python_version()}; load: {load.__name__}, {args.connections} connections, "
        f"{seconds:g} s per server, {args.rounds} round(s), single-row JSON, "
        f"{args.workers} worker(s); "
        f"load average before {load_before}, after {load_after}"
    )
    report(results, extra)
    record = {
        "date": started_at.isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "load_average": {"before": load_before, "after": load_after},
        "generator": load.__name__,
        "connections": args.connections,
        "seconds": seconds,
        "rounds": args.rounds,
        "workers": args.workers,
        "results": results,
        **extra,
    }
    shutil.rmtree(home, ignore_errors=True)
    save(record, args.record)
    if args.check is not None:
        sys.exit(check(share_of_ceiling(results), args.check))


def share_of_ceiling(results: dict[str, dict[str, Any]]) -> float | None:
    """lanza native's req/s over the ceiling's, when both were measured."""
    if "rps" in results.get("lanza native", {}) and "rps" in results.get("ceiling", {}):
        return float(results["lanza native"]["rps"] / results["ceiling"]["rps"])
    return None


def save(record: dict[str, Any], baseline: Path | None) -> None:
    """The run to ``bench/out``; with ``baseline``, its share of the ceiling as the recorded one."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"realtime-{record['date'].replace(':', '').replace('-', '')[:15]}.json"
    out.write_text(json.dumps(record, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")
    share = share_of_ceiling(record["results"])
    if baseline is not None and share is not None:
        fields = {"share_of_ceiling": round(share, 4)}
        fields.update({k: record[k] for k in ("date", "machine", "load_average")})
        baseline.write_text(json.dumps(fields, indent=2) + "\n")


def check(share: float | None, baseline: Path) -> int:
    """0 when lanza's share of the ceiling is within ``TOLERANCE`` of the recorded one."""
    recorded = float(json.loads(baseline.read_text())["share_of_ceiling"])
    if share is None:
        print("bench-check: lanza or the ceiling was not measured")
        return 1
    floor = recorded * (1 - TOLERANCE)
    verdict = "ok" if share >= floor else "REGRESSION"
    print(
        f"bench-check: lanza native is {100 * share:.1f} % of the ceiling; recorded "
        f"{100 * recorded:.1f} %, floor {100 * floor:.1f} %: {verdict}"
    )
    return 0 if share >= floor else 1


if __name__ == "__main__":
    main()
