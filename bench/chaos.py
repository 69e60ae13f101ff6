"""Chaos: ``lanza serve`` on PostgreSQL under fixed-rate load while things go wrong.

A private PostgreSQL cluster (``tests/pgcluster.py``, its own port, stopped and started
here) holds lanza's database; two server workers serve one deployment with monitoring
on, and keyed single-row predictions arrive open loop at ``--rate`` per second. On a
fixed schedule the script

- kills one worker with SIGKILL (uvicorn starts another),
- stops the database for ``--outage`` seconds, then starts it again,
- swaps the deployment between two compatible versions five times,
- fills the journal's disk (a small tmpfs, when this runs as root) and frees it,
- and sends a hostile body (malformed JSON, a wrong column, a gzip bomb) every
  ``--hostile-every`` requests.

It prints the requests, the non-2xx answers by cause (each fault's window, or the
hostile requests' own 4xx), answered predictions with no log row, and recovery times
after the database's return: the first 200 of an admin read, and the time until every
prediction answered during the outage had its log row. It fails (exit 1) on any
non-2xx outside the hostile requests, any lost row, or a recovery slower than 2 s.

    sudo .venv/bin/python bench/chaos.py [--seconds 60] [--rate 50] [--outage 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from realtime import free_port, prepare, wait_ready  # noqa: E402
from tests.pgcluster import PgCluster, available  # noqa: E402

BOMB = gzip.compress(bytes(300 * 1024 * 1024))


@dataclass
class Window:
    """When one fault was in effect (plus a short tail for requests sent just before)."""

    name: str
    start: float
    end: float = float("inf")


@dataclass
class Chaos:
    """The load, the fault windows and what was answered."""

    url: str
    row: dict[str, object]
    key: str
    rate: float
    hostile_every: int
    windows: list[Window] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    outage_answered: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    hostile: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    def cause(self, began: float) -> str:
        for window in self.windows:
            if window.start - 1 <= began <= window.end + 1:
                return window.name
        return "no fault"

    async def load(self, seconds: float) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one the
        # server is closing is a ReadError that no fault caused.
        limits = httpx.Limits(max_connections=200, keepalive_expiry=2)
        async with httpx.AsyncClient(base_url=self.url, timeout=30, limits=limits) as http:
            tasks: set[asyncio.Task[None]] = set()
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                self.sent += 1
                hostile = self.sent % self.hostile_every == 0
                coro = self._hostile(http, headers) if hostile else self._one(http, headers)
                task = asyncio.create_task(coro)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(max(0.0, began + self.sent / self.rate - time.monotonic()))
            await asyncio.gather(*tasks)

    async def _one(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        rid = uuid.uuid4().hex
        began = time.monotonic()
        try:
            answer = await http.post(
                "/api/v1/deployments/chaos/predict",
                json={"instances": [self.row]},
                headers={**headers, "x-request-id": rid},
            )
            status = str(answer.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        if status == "200":
            self.answered.append(rid)
            if self.cause(began) == "database stopped":
                self.outage_answered.append(rid)
        else:
            self.statuses[f"{status} during {self.cause(began)}"] += 1

    async def _hostile(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        kind = (self.sent // self.hostile_every) % 3
        path = "/api/v1/deployments/chaos/predict"
        try:
            if kind == 0:
                answer = await http.post(path, content=b'{"instances": [', headers=headers)
            elif kind == 1:
                answer = await http.post(path, json={"instances": [{"nope": 1}]}, headers=headers)
            else:
                answer = await http.post(
                    "/otlp/v1/traces",
                    content=BOMB,
                    headers={**headers, "content-encoding": "gzip"},
                    timeout=120,  # inflating 256 MiB takes a while on a busy machine
                )
        except httpx.HTTPError as exc:
            self.hostile[type(exc).__name__] += 1
            return
        self.hostile[str(answer.status_code)] += 1


def _workers(master: int) -> list[psutil.Process]:
    """The live uvicorn worker processes under the server's master process."""
    found = []
    for child in psutil.Process(master).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "multiprocessing" in " ".join(
                child.cmdline()
            ):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _rows(url: str, ids: list[str]) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT count(DISTINCT request_id) FROM monitoring_predictions "
            "WHERE request_id = ANY(%s)",
            (ids,),
        ).fetchone()
    return int(found[0]) if found else 0


async def faults(
    chaos: Chaos, args: argparse.Namespace, ctx: dict[str, object]
) -> dict[str, float]:
    """The schedule, run beside the load; returns recovery times in seconds."""
    cluster: PgCluster = ctx["cluster"]  # type: ignore[assignment]
    master: int = ctx["master"]  # type: ignore[assignment]
    disk: Path | None = ctx["disk"]  # type: ignore[assignment]
    admin = {"authorization": f"Bearer {ctx['admin']}"}
    recovery: dict[str, float] = {}
    step = args.seconds / 6
    async with httpx.AsyncClient(base_url=chaos.url, timeout=30, headers=admin) as http:
        await asyncio.sleep(step * 0.5)
        window = Window("worker killed", time.monotonic())
        chaos.windows.append(window)
        victim = _workers(master)[0]
        victim.kill()
        while len(_workers(master)) < args.workers:
            await asyncio.sleep(0.1)
        window.end = time.monotonic()

        await asyncio.sleep(step * 0.5)
        window = Window("database stopped", time.monotonic())
        chaos.windows.append(window)
        await asyncio.to_thread(cluster.stop)
        await asyncio.sleep(args.outage)
        await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        window.end = back
        while (await http.get("/api/v1/deployments")).status_code != 200:
            await asyncio.sleep(0.05)
        recovery["admin read after the database returned (s)"] = time.monotonic() - back
        outage_ids = list(chaos.outage_answered)
        while _rows(ctx["db"], outage_ids) < len(outage_ids):  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
        recovery["outage's log rows written after it returned (s)"] = time.monotonic() - back

        await asyncio.sleep(step * 0.5)
        window = Window("swaps", time.monotonic())
        chaos.windows.append(window)
        for i in range(5):
            model = "bench/2" if i % 2 == 0 else "bench/1"
            await http.put("/api/v1/deployments/chaos", json={"model": model})
            while (await http.get("/api/v1/deployments/chaos")).json()["serving"][0][
                "version"
            ] != model:
                await asyncio.sleep(0.1)
            await asyncio.sleep(step * 0.2)
        window.end = time.monotonic()

        if disk is not None:
            window = Window("journal disk full", time.monotonic())
            chaos.windows.append(window)
            ballast = disk / "ballast"
            subprocess.run(
                ["dd", "if=/dev/zero", f"of={ballast}", "bs=1M"], capture_output=True, check=False
            )
            await asyncio.sleep(step)
            ballast.unlink()
            window.end = time.monotonic()
    return recovery


def _mount_journal_disk(home: Path) -> Path | None:
    """A 24 MiB tmpfs for the journal (root only), or ``None`` where it cannot be mounted."""
    disk = home / "journal"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        print("the journal's disk cannot be mounted here (not root): no full-disk phase")
        return None
    return disk


def _lanza(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lanza", *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def _serve(
    home: Path, db: str, workers: int
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """Two versions, two keys, one deployment, and the server: (process, URL, keys)."""
    env = {**os.environ, "LANZA_HOME": str(home), "LANZA_DATABASE_URL": db}
    env["LANZA_SERVER__POLL_INTERVAL_S"] = "1"
    env.pop("MLFLOW_TRACKING_URI", None)
    keys = {
        role: str(json.loads(_lanza(env, "keys", "create", role, "--role", role, "--json"))["key"])
        for role in ("admin", "predict")
    }
    _lanza(env, "deploy", "chaos", "--model", "bench/1")
    port = free_port()
    log = (home / "server.log").open("wb")
    command = [sys.executable, "-m", "lanza", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz")
    return process, url, keys


def _report(chaos: Chaos, recovery: dict[str, float], rows: int) -> bool:
    """Print the figures; whether the run met its goals."""
    print(f"\nrequests sent: {chaos.sent} ({sum(chaos.hostile.values())} hostile)")
    print(f"answered 200: {len(chaos.answered)}")
    print("non-2xx by cause (hostile requests apart):")
    for cause, count in sorted(chaos.statuses.items()):
        print(f"  {cause}: {count}")
    if not chaos.statuses:
        print("  none")
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(chaos.hostile.items()))
    print(f"hostile requests' answers: {answers}")
    print(f"answered predictions without a log row: {len(chaos.answered) - rows}")
    for what, seconds in recovery.items():
        print(f"recovery, {what}: {seconds:.2f}")
    slow = any(s > 2 for s in recovery.values())
    bad_hostile = any(not code.startswith("4") for code in chaos.hostile)
    return not (chaos.statuses or rows != len(chaos.answered) or slow or bad_hostile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=50, help="predictions per second")
    parser.add_argument("--outage", type=float, default=8, help="seconds the database is down")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hostile-every", type=int, default=50)
    args = parser.parse_args()
    reason = available()
    if reason is not None:
        sys.exit(f"chaos needs a private PostgreSQL cluster: {reason}")

    home = Path(tempfile.mkdtemp(prefix="lanza-chaos-"))
    os.chmod(home, 0o755)
    cluster = PgCluster.create()
    process: subprocess.Popen[bytes] | None = None
    disk = _mount_journal_disk(home)
    try:
        db = cluster.create_database("lanza")
        row = prepare(home)
        prepare(home)  # bench/2: the same columns, so swaps are compatible
        process, url, keys = _serve(home, db, args.workers)
        chaos = Chaos(url, row, keys["predict"], args.rate, args.hostile_every)
        ctx = {"cluster": cluster, "master": process.pid, "disk": disk, "admin": keys["admin"]}
        ctx["db"] = db
        print(
            f"chaos: {args.rate:g} keyed predictions/s for {args.seconds:g}s on PostgreSQL, "
            f"{args.workers} workers"
        )

        async def run() -> dict[str, float]:
            load = asyncio.create_task(chaos.load(args.seconds))
            recovery = await faults(chaos, args, ctx)
            await load
            return recovery

        recovery = asyncio.run(run())
        time.sleep(3)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
        if not _report(chaos, recovery, _rows(db, chaos.answered)):
            print(f"FAIL (the server's log is in {home})")
            sys.exit(1)
        print("PASS")
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        if disk is not None:
            subprocess.run(["umount", "-l", str(disk)], check=False)
        cluster.destroy()


if __name__ == "__main__":
    main()
