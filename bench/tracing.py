"""Tracing: time added per span by lanza's SDK, the ``langsmith`` SDK and MLflow tracing,
and the sustained ingest rate of lanza's trace store, in one run on the same cores.

Each SDK traces the same program: a root function calling four children (5-span traces)
that do no work, so the time per span is all tracing. The overhead per span is
``(traced - untraced) / spans``, timed in the traced thread (background writers run
concurrently on the same cores, as they would in an application):

- lanza: ``@tracing.trace`` + ``tracing.span`` with the local-store sink (sqlite);
- langsmith: ``@traceable`` sending to lanza's LangSmith endpoint on a local server
  (``uvicorn`` in a subprocess, ``LANGSMITH_ENDPOINT=http://127.0.0.1:<port>/langsmith``);
- MLflow: ``@mlflow.trace`` on a sqlite tracking store in a temporary folder.

The ingest rate (in a process of its own) writes 5-span traces into lanza's store
(sqlite, or ``--database-url``) in batches of 1,000 traces, as the SDK's worker and the
server's ingest route do.
Run: ``python bench/tracing.py`` (``--cores 2`` pins the process and its server).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

CHILDREN = 4
DRAINS: dict[str, Callable[[], object]] = {}  # per SDK: wait until its queued spans are sent


def main() -> None:
    """Measure every SDK and the store, then print our figures beside the peers'."""
    args = _arguments()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ["LANZA_HOME"] = str(root / "home")
        baseline = _per_trace(_untraced(), args.traces)
        lanza_us = _overhead(_lanza_program(), args.traces, baseline)
        langsmith_us = _overhead(_langsmith_program(root), args.peer_traces, baseline)
        mlflow_us = _overhead(_mlflow_program(root), args.peer_traces, baseline)
        for sdk, seconds in _drain().items():  # quiet background threads before the store
            print(f"{sdk}: queued spans written {seconds:.2f} s after the timed loop")
        # The store is measured in a process of its own, as a server's would be: the SDKs'
        # background threads above would otherwise compete for this one's GIL.
        url = args.database_url or f"sqlite:///{root / 'ingest.db'}"
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            ingest = pool.submit(_ingest_rate, url, args.ingest_traces).result()
    print(
        f"\nTime added per span (5-span traces, {os.cpu_count()} CPUs visible, pinned to "
        f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}):"
    )
    print(f"  lanza SDK (local store) {lanza_us:8.1f} µs   target ≤ 50 µs")
    print(
        f"  langsmith @traceable    {langsmith_us:8.1f} µs   {langsmith_us / lanza_us:6.1f}× lanza"
    )
    print(f"  mlflow.trace (sqlite)   {mlflow_us:8.1f} µs   {mlflow_us / lanza_us:6.1f}× lanza")
    print(
        f"Store ingest ({'sqlite' if not args.database_url else 'given URL'}): "
        f"{ingest:,.0f} traces/s ({ingest * 5:,.0f} spans/s)   target ≥ 1,000"
    )


def _drain() -> dict[str, float]:
    waited = {}
    for sdk, drain in DRAINS.items():
        started = time.perf_counter()
        drain()
        waited[sdk] = time.perf_counter() - started
    return waited


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=5000, help="lanza traces to time")
    parser.add_argument("--peer-traces", type=int, default=500, help="langsmith/MLflow traces")
    parser.add_argument("--ingest-traces", type=int, default=20000, help="traces to ingest")
    parser.add_argument("--cores", type=int, default=2, help="CPUs to pin to (0: all)")
    parser.add_argument(
        "--database-url", help="store to ingest into (default: sqlite in a temp dir)"
    )
    return parser.parse_args()


def _untraced() -> Callable[[int], int]:
    def child(n: int) -> int:
        return n

    def program(n: int) -> int:
        return sum(child(n + i) for i in range(CHILDREN))

    return program


def _per_trace(program: Callable[[int], int], traces: int) -> float:
    for n in range(min(50, traces)):  # warm-up: imports, connections, first writes
        program(n)
    started = time.perf_counter()
    for n in range(traces):
        program(n)
    return (time.perf_counter() - started) / traces


def _overhead(program: Callable[[int], int], traces: int, baseline: float) -> float:
    return (_per_trace(program, traces) - baseline) / (CHILDREN + 1) * 1e6


def _lanza_program() -> Callable[[int], int]:
    from lanza import tracing

    tracer = tracing.configure(sink="local")
    DRAINS["lanza"] = tracer.flush

    @tracing.trace("child", run_type="tool", tracer=tracer)
    def child(n: int) -> int:
        return n

    @tracing.trace("root", run_type="chain", tracer=tracer)
    def program(n: int) -> int:
        return sum(child(n + i) for i in range(CHILDREN))

    return program


def _langsmith_program(root: Path) -> Callable[[int], int]:
    url = _start_server(root / "server")
    os.environ.update(
        LANGSMITH_ENDPOINT=f"{url}/langsmith", LANGSMITH_API_KEY="bench", LANGSMITH_TRACING="true"
    )
    from langsmith import Client, traceable

    client = Client(api_url=f"{url}/langsmith", api_key="bench")
    DRAINS["langsmith"] = client.flush

    @traceable(name="child", run_type="tool", client=client)
    def child(n: int) -> int:
        return n

    @traceable(name="root", run_type="chain", client=client)
    def program(n: int) -> int:
        return sum(child(n + i) for i in range(CHILDREN))

    return program


def _mlflow_program(root: Path) -> Callable[[int], int]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_experiment("bench-tracing")
    DRAINS["mlflow"] = mlflow.flush_trace_async_logging

    @mlflow.trace(name="child", span_type="TOOL")
    def child(n: int) -> int:
        return n

    @mlflow.trace(name="root", span_type="CHAIN")
    def program(n: int) -> int:
        return sum(child(n + i) for i in range(CHILDREN))

    return program


def _ingest_rate(url: str, traces: int) -> float:
    from lanza.llm.tracing.records import SpanRecord
    from lanza.llm.tracing.store import TraceStore
    from lanza.store import Database

    database = Database(url)
    database.migrate()
    store = TraceStore(database)
    now = time.time()
    # Ids new to the store: a rerun on the same --database-url must insert, not merge.
    run = uuid.uuid4().hex[:12]
    batches = []
    for first in range(0, traces, 1000):
        batch = []
        for t in range(first, min(first + 1000, traces)):
            trace_id = f"trace-{run}-{t}"
            batch.append(_span(trace_id, trace_id, None, now))
            batch += [_span(f"{trace_id}-{c}", trace_id, trace_id, now) for c in range(CHILDREN)]
        batches.append([SpanRecord.model_validate(s) for s in batch])
    started = time.perf_counter()
    for batch in batches:
        store.write(batch)
    return traces / (time.perf_counter() - started)


def _span(span_id: str, trace_id: str, parent: str | None, now: float) -> dict[str, object]:
    return {
        "id": span_id,
        "trace_id": trace_id,
        "parent_id": parent,
        "name": "step",
        "run_type": "llm" if parent else "chain",
        "start_time": now,
        "end_time": now + 0.01,
        "inputs": {"question": "how far is the moon?"},
        "outputs": {"answer": "384,400 km"},
        "prompt_tokens": 12,
        "completion_tokens": 7,
    }


def _start_server(home: Path) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "LANZA_HOME": str(home), "LANZA_TRACING__MLFLOW_EXPORT_INTERVAL_S": "0"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "lanza.server:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                import atexit

                atexit.register(process.terminate)
                return url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the lanza server did not start")


if __name__ == "__main__":
    main()
