"""Many models on one ``lanza serve``: 300 on-demand deployments under a memory budget a third
of their total, driven by Zipf-distributed traffic, against the same server with every
deployment loaded (``always``, no budget).

Deployments come in three sizes (random forests of 2, 15 and 60 trees: about 0.2, 1.5 and
6 MB of artifacts, half, a third and a sixth of them), each its own registered model. Both
runs send the same sequence of single-row requests, the deployment of each drawn from a
Zipf law (exponent ``--zipf``) over a shuffled ranking, over ``--connections`` concurrent
connections for ``--seconds``, after ``--warmup`` seconds of the same traffic (from
further on in the schedule) that are not measured: without it the on-demand server's first
seconds load every model it meets for the first time, which the all-loaded server did
before it took traffic. Peak RSS covers the warm-up too. Before the on-demand run every
deployment answers one request (its ready-to-load form is then on disk, as on any server
that ran before), and the on-demand server starts empty.

Reports, for each run: requests/s, failed requests, p50/p99 of all requests (client side),
cold and warm p50/p99 (the server's histograms of requests that did and did not wait for a
load, bucket-interpolated), loads and evictions per minute and the mean seconds of a load
(as the server measures it: from the request that started it to the model in place), the
server's CPU milliseconds per request (steadier than throughput on a shared machine), and
the RSS of the server process tree at start and at its peak; then the throughput and RSS
ratios (the latter also above the RSS of the on-demand server at start, which holds no
model). With ``--workers N`` the figures read from ``/metrics`` (cold, warm, loads,
evictions) are left out: each worker keeps its own, and a scrape reaches one of them.

    .venv/bin/python bench/many_models.py [--deployments 300] [--seconds 60]
        [--connections 16] [--zipf 1.1] [--warmup 0] [--workers 1] [--rounds 1]
        [--quick]   # --quick: 60 deployments, 20 s
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_start import (
    env_for,
    log_sklearn,
    percentile,
    start_experiment,
    start_server,
    stop_server,
    table,
)

# Figures read from /metrics, which with several workers is one worker's: not reported then.
ONE_WORKER = (
    "cold_p50_ms",
    "cold_p99_ms",
    "cold_requests",
    "warm_p50_ms",
    "warm_p99_ms",
    "loads_per_min",
    "evictions_per_min",
    "mean_load_ms",
)
SIZES = {"small": (2, 0.5), "medium": (15, 1 / 3), "large": (60, 1 / 6)}  # trees, share


def prepare(home: Path, count: int) -> tuple[dict[str, str], dict[str, object]]:
    """Train one forest per size, register ``count`` models over them (each its own name);
    returns each model's size class and one request row."""
    import mlflow
    from sklearn.ensemble import RandomForestClassifier

    from lanza.settings import Settings
    from lanza.workspace import Workspace

    start_experiment(home, "many-models")
    x, y = table(5_000, 1)
    sources: dict[str, tuple[str, str]] = {}
    for size, (trees, _) in SIZES.items():
        with mlflow.start_run() as run:
            forest = RandomForestClassifier(n_estimators=trees, n_jobs=2, random_state=0)
            log_sklearn(forest.fit(x, y), x, f"base-{size}")
        source = mlflow.MlflowClient().get_model_version(f"base-{size}", "1").source
        sources[size] = (source, run.info.run_id)
    classes = size_classes(count)
    ws = Workspace(Settings(home=home))
    for name, size in classes.items():
        source, run_id = sources[size]
        ws.registry.register(name, source, run_id)
    ws.close()
    return classes, request_row()


def size_classes(count: int) -> dict[str, str]:
    """The size class of each of ``count`` models, drawn by the shares of ``SIZES``."""
    picks = random.Random(0)
    shares = [share for _, share in SIZES.values()]
    return {f"m{i:03d}": picks.choices(list(SIZES), shares)[0] for i in range(count)}


def request_row() -> dict[str, object]:
    """One row of the table the models were trained on."""
    row: dict[str, object] = table(5_000, 1)[0].iloc[0].to_dict()
    return row


class RssPeak:
    """The largest RSS of a process and its children, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                every = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in every))
            except psutil.Error:
                continue

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and its children so far."""
    root = psutil.Process(pid)
    every = [root, *root.children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in every)


def schedule(names: list[str], total: int, exponent: float) -> list[str]:
    """``total`` deployment names drawn from a Zipf law over a shuffled ranking."""
    ranking = list(names)
    random.Random(1).shuffle(ranking)
    weights = 1.0 / np.arange(1, len(ranking) + 1) ** exponent
    draws = np.random.default_rng(2).choice(len(ranking), size=total, p=weights / weights.sum())
    return [ranking[i] for i in draws]


async def drive(
    url: str, order: list[str], row: dict[str, object], seconds: float, connections: int
) -> tuple[list[float], Counter[int], float]:
    """Send requests in ``order`` for ``seconds``; latencies, statuses and elapsed seconds."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    body = {"instances": [row]}
    position = 0
    began = time.perf_counter()
    until = began + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal position
        while time.perf_counter() < until:
            name = order[position % len(order)]
            position += 1
            start = time.perf_counter()
            try:
                answer = await client.post(f"/api/v1/deployments/{name}/predict", json=body)
                statuses[answer.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return latencies, statuses, time.perf_counter() - began


def scrape(url: str) -> str:
    """The server's ``/metrics`` text."""
    return httpx.get(f"{url}/metrics", timeout=60).text


def total(text: str, name: str) -> float:
    """The sum of one metric's samples over every label."""
    pattern = re.compile(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return sum(float(v) for v in pattern.findall(text))


def start_quantiles(text: str, start: str) -> tuple[float, float, int]:
    """p50, p99 and count of the requests of one start (``cold`` or ``warm``), from the
    histogram summed over deployments, interpolated linearly within buckets."""
    buckets: Counter[float] = Counter()
    pattern = re.compile(
        r"^lanza_request_start_duration_seconds_bucket\{(.*)\} (\S+)$", re.MULTILINE
    )
    for labels, value in pattern.findall(text):
        if f'start="{start}"' not in labels:
            continue
        bound = re.search(r'le="([^"]+)"', labels)
        assert bound is not None
        buckets[float(bound[1])] += float(value)
    if not buckets:
        return float("nan"), float("nan"), 0
    bounds = sorted(buckets)
    count = buckets[bounds[-1]]

    def quantile(q: float) -> float:
        rank, lower, below = q * count, 0.0, 0.0
        for bound in bounds:
            if buckets[bound] >= rank:
                if bound == float("inf"):
                    return lower
                inside = buckets[bound] - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 0)
            lower, below = bound, buckets[bound]
        return lower

    return quantile(0.5), quantile(0.99), int(count)


def run(
    home: Path,
    server: dict[str, str],
    order: list[str],
    row: dict[str, object],
    args: argparse.Namespace,
) -> dict[str, float]:
    """One server over ``home``, the traffic, and what it reports."""
    process, url = start_server(home, env_for(home, **server), args.workers)
    peak = RssPeak(process.pid)
    time.sleep(1)
    start_rss = peak.peak
    try:
        if args.warmup > 0:  # the same traffic from further on in the schedule, not measured
            later = order[len(order) // 2 :]
            asyncio.run(drive(url, later, row, args.warmup, args.connections))
        before = scrape(url)
        cpu = cpu_seconds(process.pid)
        latencies, statuses, elapsed = asyncio.run(
            drive(url, order, row, args.seconds, args.connections)
        )
        cpu = cpu_seconds(process.pid) - cpu
        after = scrape(url)
    finally:
        rss = peak.stop()
        stop_server(process)
    minutes = elapsed / 60
    cold = start_quantiles(after, "cold")
    warm = start_quantiles(after, "warm")
    loads = total(after, "lanza_model_loads_total") - total(before, "lanza_model_loads_total")
    evictions = total(after, "lanza_model_evictions_total") - total(
        before, "lanza_model_evictions_total"
    )
    load_s = total(after, "lanza_model_load_duration_seconds_sum") - total(
        before, "lanza_model_load_duration_seconds_sum"
    )
    measured = {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "failed": sum(n for code, n in statuses.items() if code != 200),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cold_p50_ms": cold[0] * 1000,
        "cold_p99_ms": cold[1] * 1000,
        "cold_requests": cold[2],
        "warm_p50_ms": warm[0] * 1000,
        "warm_p99_ms": warm[1] * 1000,
        "loads_per_min": loads / minutes,
        "evictions_per_min": evictions / minutes,
        "mean_load_ms": load_s * 1000 / loads if loads else float("nan"),
        "server_cpu_ms_per_request": cpu * 1000 / max(1, len(latencies)),
        "start_rss_mb": start_rss / 2**20,
        "peak_rss_mb": rss / 2**20,
    }
    if args.workers > 1:  # /metrics answers for the one worker that took the scrape
        measured.update(dict.fromkeys(ONE_WORKER, float("nan")))
    return measured


def deploy(home: Path, names: list[str], residency: str, row: dict[str, object]) -> None:
    """Create (or switch) every deployment with ``residency`` on a short-lived server; with
    ``on_demand`` each answers one request, which leaves its ready-to-load form on disk."""
    process, url = start_server(home, env_for(home))
    try:
        with httpx.Client(base_url=url, timeout=300) as http:
            for name in names:
                found = http.get(f"/api/v1/deployments/{name}")
                if found.status_code == 404:
                    spec = {"name": name, "model": f"{name}/1", "residency": residency}
                    answer = http.post("/api/v1/deployments", json=spec)
                else:
                    answer = http.put(f"/api/v1/deployments/{name}", json={"residency": residency})
                answer.raise_for_status()
                if residency == "on_demand" and found.status_code == 404:
                    http.post(f"/api/v1/deployments/{name}/predict", json={"instances": [row]})
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument(
        "--warmup", type=float, default=0, help="seconds of traffic before each measurement"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="lanza serve --workers (the budget is shared)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternate runs; medians")
    parser.add_argument("--home", type=Path, help="a home a previous run prepared: reused")
    parser.add_argument("--quick", action="store_true", help="60 deployments, 20 s per run")
    args = parser.parse_args()
    if args.quick:
        args.deployments, args.seconds = 60, 20

    if args.home is not None and (args.home / "models").is_dir():
        home, classes, row = args.home, size_classes(args.deployments), request_row()
    else:
        home = args.home or Path(tempfile.mkdtemp(prefix="lanza-many-"))
        classes, row = prepare(home, args.deployments)
    print(f"home: {home}")
    names = sorted(classes)
    deploy(home, names, "on_demand", row)  # every model loaded once: its ready form on disk

    from lanza.serving.residency import folder_bytes

    sizes = {n: folder_bytes(home / "models" / n / "1") for n in names}
    all_mb = sum(sizes.values()) / 2**20
    budget_mb = all_mb / 3
    order = schedule(names, 200_000, args.zipf)
    rounds: dict[str, list[dict[str, float]]] = {"on demand, budget 1/3": [], "all loaded": []}
    for _ in range(args.rounds):  # alternately, as the machine's load moves between runs
        deploy(home, names, "on_demand", row)
        budget = {"model_memory_mb": f"{budget_mb:.1f}"}
        rounds["on demand, budget 1/3"].append(run(home, budget, order, row, args))
        deploy(home, names, "always", row)
        rounds["all loaded"].append(run(home, {}, order, row, args))
    results = {
        label: {k: statistics.median(m[k] for m in measured) for k in measured[0]}
        for label, measured in rounds.items()
    }
    for label, measured in rounds.items():
        print(f"{label}: " + ", ".join(f"{m['rps']:.1f}" for m in measured) + " req/s")

    mix = Counter(classes.values())
    print(
        f"\n{len(names)} deployments ({', '.join(f'{n} {s}' for s, n in mix.items())}), "
        f"{all_mb:.0f} MB of models, budget {budget_mb:.0f} MB; Zipf {args.zipf}; "
        f"{args.connections} connections x {args.seconds:.0f} s after {args.warmup:.0f} s "
        f"of warm-up; {args.workers} worker(s); {os.cpu_count()} cores; "
        f"medians of {args.rounds} alternating run(s)"
    )
    print(f"{'':18s}" + "".join(f"{label:>24s}" for label in results))
    for key in next(iter(results.values())):
        print(f"{key:18s}" + "".join(f"{m[key]:24.1f}" for m in results.values()))
    ours, base = results["on demand, budget 1/3"], results["all loaded"]
    empty = ours["start_rss_mb"]
    above = (ours["peak_rss_mb"] - empty) / (base["peak_rss_mb"] - empty)
    print(
        f"throughput ratio {ours['rps'] / base['rps']:.2f}, "
        f"peak RSS ratio {ours['peak_rss_mb'] / base['peak_rss_mb']:.2f} "
        f"(above the empty server's {ours['start_rss_mb']:.0f} MB: "
        f"{above:.2f}), "
        f"failed requests {ours['failed']:.0f} on demand, {base['failed']:.0f} all loaded"
    )


if __name__ == "__main__":
    main()
