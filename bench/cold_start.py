"""Cold starts of on-demand models on a real ``lanza serve``: a ~50 MB scikit-learn random
forest and an XGBoost model, each deployed ``on_demand`` under a memory budget that holds
only one of them, so every request alternates and loads its model again (a cold start).

The first request of each model is its first load on this machine (artifacts copied from
the registry, the skops check, the ready-to-load form written); every later one loads the
ready form from local disk. Prints each model's artifact size, the first load, and p50/p95
of the cold request latencies (client side, over HTTP) and of the server's load seconds.

    .venv/bin/python bench/cold_start.py [--rounds 20] [--rf-trees 120] [--xgb-trees 1000]
        [--xgb-copies 1]     # 11: the XGBoost model's trees eleven times over, about 50 MB
        [--no-ready-cache]   # the same with the ready-to-load cache off, for comparison
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

FEATURES = 20
MODELS = ("rf", "xgb")
SERVE = [sys.executable, "-m", "lanza", "serve"]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def table(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """A synthetic binary classification table of ``FEATURES`` numeric columns."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(rows, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
    y = ((x["f0"] + x["f1"] * x["f2"] + rng.normal(size=rows)) > 0).astype(int).to_numpy()
    return x, y


def log_sklearn(model: Any, x: pd.DataFrame, name: str) -> None:
    """Log and register a scikit-learn model as lanza's training does (skops, a signature)."""
    import mlflow
    from mlflow.models import infer_signature

    from lanza.runtime.serialization import dump_model, trusted_types

    mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format="skops",
        skops_trusted_types=trusted_types(dump_model(model)),
        signature=infer_signature(x.head(50), model.predict(x.head(5))),
        registered_model_name=name,
        pip_requirements=[],
    )


def log_xgboost(model: Any, x: pd.DataFrame, name: str) -> None:
    """Log and register an XGBoost model (MLflow's xgboost flavour, UBJSON)."""
    import mlflow
    from mlflow.models import infer_signature

    mlflow.xgboost.log_model(
        model,
        name="model",
        signature=infer_signature(x.head(50), model.predict(x.head(5))),
        registered_model_name=name,
        pip_requirements=[],
    )


def start_experiment(home: Path, name: str) -> None:
    """Point MLflow at the home's registry, in a fresh experiment."""
    import mlflow

    from lanza.settings import Settings

    settings = Settings(home=home)
    settings.ensure_home()
    mlflow.set_tracking_uri(settings.tracking)
    experiment = mlflow.create_experiment(name, artifact_location=(home / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)


def prepare(home: Path, rf_trees: int, xgb_trees: int, xgb_copies: int) -> dict[str, object]:
    """Train and register ``rf`` and ``xgb``; return one request row."""
    import mlflow
    import xgboost
    from sklearn.ensemble import RandomForestClassifier

    start_experiment(home, "cold-start")
    x, y = table(20_000, 0)
    with mlflow.start_run():
        forest = RandomForestClassifier(n_estimators=rf_trees, n_jobs=2, random_state=0)
        log_sklearn(forest.fit(x, y), x, "rf")
    with mlflow.start_run():
        booster = xgboost.XGBClassifier(n_estimators=xgb_trees, max_depth=10, n_jobs=2)
        log_xgboost(repeat_trees(booster.fit(x, y), xgb_copies), x, "xgb")
    row: dict[str, object] = x.iloc[0].to_dict()
    return row


def repeat_trees(model: Any, copies: int) -> Any:
    """The XGBoost classifier with its trees ``copies`` times over, each copy a boosting
    round of its own: a model ``copies`` times the size that loads as a trained one of that
    size would (the same trees, nodes and file layout), where training one on this machine
    takes too long."""
    if copies <= 1:
        return model
    import json

    import xgboost

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        model.save_model(str(path))
        document = json.loads(path.read_text())
        booster = document["learner"]["gradient_booster"]["model"]
        trees = [dict(tree) for _ in range(copies) for tree in booster["trees"]]
        for number, tree in enumerate(trees):
            tree["id"] = number
        booster["trees"] = trees
        booster["tree_info"] = booster["tree_info"] * copies
        booster["iteration_indptr"] = list(range(len(trees) + 1))
        booster["gbtree_model_param"]["num_trees"] = str(len(trees))
        path.write_text(json.dumps(document))
        bigger = xgboost.XGBClassifier()
        bigger.load_model(str(path))
    return bigger


def start_server(
    home: Path, env: dict[str, str], workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """``lanza serve`` on a free port; returns the process and its base URL once ready."""
    port = free_port()
    log = home / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), "--grpc-port", "0", "--workers", str(workers)],
            env=env,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.3)
    stop_server(process)
    sys.stderr.write(log.read_text()[-3000:])
    raise RuntimeError("lanza serve did not become ready")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL it if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def metric_values(url: str, name: str) -> dict[str, float]:
    """Samples of one metric in ``/metrics``, by their label text."""
    found: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith(name):
            head, _, value = line.rpartition(" ")
            found[head[len(name) :]] = float(value)
    return found


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def env_for(home: Path, **server: str) -> dict[str, str]:
    """The environment of a ``lanza serve`` over ``home``."""
    env = {**os.environ, "LANZA_HOME": str(home), "LANZA_MONITORING__ENABLED": "false"}
    env.update({f"LANZA_SERVER__{k.upper()}": v for k, v in server.items()})
    return env


def alternate(
    url: str, row: dict[str, object], rounds: int
) -> tuple[dict[str, float], dict[str, list[float]], int]:
    """Deploy both models on demand and ask each in turn ``rounds + 1`` times: the first
    latency of each, the later (cold) ones, and the count of failed requests."""
    latencies: dict[str, list[float]] = {model: [] for model in MODELS}
    first: dict[str, float] = {}
    failed = 0
    with httpx.Client(base_url=url, timeout=120) as http:
        for model in MODELS:
            made = http.post(
                "/api/v1/deployments",
                json={"name": model, "model": f"{model}/1", "residency": "on_demand"},
            )
            if made.status_code != 409:  # 409: made by the previous run of this home
                made.raise_for_status()
        for i in range(rounds + 1):
            for model in MODELS:
                began = time.perf_counter()
                answer = http.post(
                    f"/api/v1/deployments/{model}/predict", json={"instances": [row]}
                )
                took = time.perf_counter() - began
                failed += answer.status_code != 200
                if i == 0:
                    first[model] = took
                else:
                    latencies[model].append(took)
    return first, latencies, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="cold requests per model")
    parser.add_argument("--rf-trees", type=int, default=120)
    parser.add_argument("--xgb-trees", type=int, default=1000)
    parser.add_argument(
        "--xgb-copies", type=int, default=1, help="XGBoost's trees repeated: 11 makes ~50 MB"
    )
    parser.add_argument("--no-ready-cache", action="store_true")
    parser.add_argument("--home", type=Path, help="a home a previous run prepared: reused")
    args = parser.parse_args()

    if args.home is not None and (args.home / "models").is_dir():
        home = args.home
        row: dict[str, object] = table(20_000, 0)[0].iloc[0].to_dict()
    else:
        home = args.home or Path(tempfile.mkdtemp(prefix="lanza-cold-"))
        row = prepare(home, args.rf_trees, args.xgb_trees, args.xgb_copies)
    print(f"home: {home}")
    from lanza.serving.residency import folder_bytes
    from lanza.settings import Settings
    from lanza.workspace import Workspace

    ws = Workspace(Settings(home=home))
    sizes = {
        m: folder_bytes(ws.loader.download(ws.registry.resolve(f"{m}/1"))) for m in ("rf", "xgb")
    }
    ws.close()
    budget_mb = (max(sizes.values()) + min(sizes.values()) / 2) / 2**20  # one of the two
    server: dict[str, str] = {"model_memory_mb": f"{budget_mb:.1f}"}
    if args.no_ready_cache:
        server["ready_cache_mb"] = "0"
    process, url = start_server(home, env_for(home, **server))
    try:
        first, latencies, failed = alternate(url, row, args.rounds)
        loads = metric_values(url, "lanza_model_loads_total")
        seconds = metric_values(url, "lanza_model_load_duration_seconds_sum")
    finally:
        stop_server(process)

    cache = "off" if args.no_ready_cache else "on"
    print(
        f"cold starts, {os.cpu_count()} cores, budget {budget_mb:.1f} MB (one model resident), "
        f"ready cache {cache}, {args.rounds} cold requests per model"
    )
    for model in MODELS:
        cold = latencies[model]
        label = f'{{deployment="{model}"}}'
        mean_load = seconds.get(label, 0.0) / max(1.0, loads.get(label, 1.0))
        print(
            f"{model:4s} {sizes[model] / 1024 / 1024:6.1f} MB  first load {first[model]:.3f} s  "
            f"cold request p50 {statistics.median(cold):.3f} s  "
            f"p95 {percentile(cold, 0.95):.3f} s  max {max(cold):.3f} s  "
            f"loads {loads.get(label, 0):.0f}  mean server load {mean_load:.3f} s"
        )
    print(f"failed requests: {failed}")


if __name__ == "__main__":
    main()
