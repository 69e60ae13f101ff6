"""A bounded soak: ``lanza serve`` under a fixed request rate for minutes, loopback only.

One scikit-learn deployment (the quickstart's breast-cancer table) with monitoring and
tracing on receives single-row predictions at ``--rate`` per second, open loop (a slow
answer does not slow the sender), plus a batch of spans to ``/api/v1/traces`` every
``--trace-every`` predictions. Every ``--interval`` seconds it prints the requests,
errors, latency percentiles and the server's resident memory. At the end the server is
stopped with SIGTERM and the database is checked: every answered prediction has its
log row and every accepted span is stored.

It fails (exit 1) on any error, any lost row or span, or memory that grows more than
``--rss-growth`` (default 15 %) from the first interval after warm-up to the last.

    .venv/bin/python bench/soak.py [--seconds 180] [--rate 100] [--interval 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realtime import free_port, prepare, wait_ready


@dataclass
class Interval:
    """What one reporting interval saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass
class Soak:
    """The open-loop load and its record."""

    url: str
    row: dict[str, object]
    rate: float
    trace_every: int
    answered: list[str] = field(default_factory=list)
    spans: list[str] = field(default_factory=list)
    current: Interval = field(default_factory=Interval)
    total_errors: int = 0

    async def run(self, seconds: float, interval: float, server: psutil.Process) -> list[str]:
        lines: list[str] = []
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            tasks: set[asyncio.Task[None]] = set()
            began = time.monotonic()
            next_report, sent = began + interval, 0
            while time.monotonic() - began < seconds:
                task = asyncio.create_task(self._one(http, sent))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
                await asyncio.sleep(max(0.0, began + sent / self.rate - time.monotonic()))
                if time.monotonic() >= next_report:
                    lines.append(self._report(time.monotonic() - began, server))
                    print(lines[-1], flush=True)
                    next_report += interval
            await asyncio.gather(*tasks)
        return lines

    async def _one(self, http: httpx.AsyncClient, n: int) -> None:
        interval = self.current
        rid = uuid.uuid4().hex
        began = time.perf_counter()
        try:
            answer = await http.post(
                "/api/v1/deployments/bench/predict",
                json={"instances": [self.row]},
                headers={"x-request-id": rid},
            )
            ok = answer.status_code == 200
            if ok:
                self.answered.append(rid)
            if n % self.trace_every == 0:
                ok = await self._trace(http) and ok
        except httpx.HTTPError:
            ok = False
        interval.latencies.append((time.perf_counter() - began) * 1000)
        if not ok:
            interval.errors += 1
            self.total_errors += 1

    async def _trace(self, http: httpx.AsyncClient) -> bool:
        now = time.time()
        ids = [uuid.uuid4().hex for _ in range(3)]
        spans = [
            {"id": i, "trace_id": ids[0], "name": "soak", "start_time": now, "end_time": now}
            for i in ids
        ]
        answer = await http.post("/api/v1/traces", json={"spans": spans})
        if answer.status_code == 202:
            self.spans.extend(ids)
            return True
        return False

    def _report(self, elapsed: float, server: psutil.Process) -> str:
        done, self.current = self.current, Interval()
        cuts = statistics.quantiles(done.latencies, n=100) if len(done.latencies) > 1 else [0] * 99
        rss = sum(p.memory_info().rss for p in [server, *server.children(recursive=True)])
        return (
            f"{elapsed:7.0f}s {len(done.latencies):7d} {done.errors:6d} "
            f"{cuts[49]:8.1f} {cuts[94]:8.1f} {cuts[98]:8.1f} {rss / 2**20:9.1f}"
        )


def stored(database: Path, table: str, column: str, ids: list[str]) -> int:
    """How many of ``ids`` the table holds."""
    found = 0
    with sqlite3.connect(database, timeout=30) as connection:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT count(DISTINCT {column}) FROM {table} WHERE {column} IN ({marks})"
            found += connection.execute(query, chunk).fetchone()[0]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--rate", type=float, default=100, help="predictions per second")
    parser.add_argument("--interval", type=float, default=10, help="seconds per report line")
    parser.add_argument("--trace-every", type=int, default=10, help="a span batch every N")
    parser.add_argument("--rss-growth", type=float, default=0.15, help="allowed memory growth")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="lanza-soak-"))
    row = prepare(home)
    env = {**os.environ, "LANZA_HOME": str(home), "LANZA_MONITORING__ENABLED": "true"}
    env.pop("LANZA_DATABASE_URL", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run(
        [sys.executable, "-m", "lanza", "deploy", "bench", "--model", "bench@champion"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "lanza", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz")
    soak = Soak(url, row, args.rate, args.trace_every)
    print(f"soak: {args.rate:g} predictions/s for {args.seconds:g}s, monitoring and tracing on")
    print("elapsed  requests errors   p50 ms   p95 ms   p99 ms    RSS MiB")
    lines = asyncio.run(soak.run(args.seconds, args.interval, psutil.Process(process.pid)))
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)

    database = home / "lanza.db"
    rows = stored(database, "monitoring_predictions", "request_id", soak.answered)
    spans = stored(database, "trace_spans", "id", soak.spans)
    rss = [float(line.split()[-1]) for line in lines]
    warm = rss[1] if len(rss) > 2 else rss[0]
    growth = (rss[-1] - warm) / warm if rss else 0.0
    print(
        f"\nerrors: {soak.total_errors}; log rows {rows}/{len(soak.answered)}; "
        f"spans {spans}/{len(soak.spans)}; RSS {warm:.0f} -> {rss[-1]:.0f} MiB ({growth:+.1%})"
    )
    failed = (
        soak.total_errors > 0
        or rows != len(soak.answered)
        or spans != len(soak.spans)
        or growth > args.rss_growth
    )
    if failed:
        print(f"FAIL (the server's log and database are in {home})")
        sys.exit(1)
    shutil.rmtree(home, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
