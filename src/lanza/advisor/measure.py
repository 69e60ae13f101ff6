"""Measure a model on this machine, on pinned cores, in rounds whose spread is reported.

Two kinds of figure:

- **Batches**: ``predict_frame`` on batches of 1 to 1,024 rows, the model's own speed.
  Batch capacity comes from these.
- **The server path**: single-row requests from ``CONCURRENCY`` callers through lanza's
  micro-batcher (the code a deployment runs, batching included). Real-time capacity
  comes from this, not from a bare ``predict`` loop.

"Per core" means one core: the process is pinned to the chosen cores
(``os.sched_setaffinity``) and every native thread pool (BLAS, OpenMP) is limited to
that many threads (threadpoolctl) while it measures. Each figure is taken in
``ROUNDS`` rounds after a warm-up; the spread is how far the rounds' medians lie
apart, relative to their median. A spread above the limit means the machine was busy,
and ``check_spread`` refuses to extrapolate from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import DataError
from lanza.runtime.base import ModelRuntime
from lanza.runtime.rules import check_frame

BATCH_SIZES = (1, 8, 32, 128, 1024)
ROUNDS = 5
MIN_CALLS_PER_ROUND = 4
CONCURRENCY = 16
MAX_SPREAD = 0.5


@dataclass(frozen=True)
class Measurement:
    """One batch size: per-call latency percentiles, rows per second and their spread."""

    batch_size: int
    p50_ms: float
    p99_ms: float
    rows_per_s: float
    spread: float = 0.0
    device: str = "cpu"


@dataclass(frozen=True)
class ServerMeasurement:
    """Single-row requests through the micro-batcher, ``concurrency`` at a time."""

    concurrency: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mean_batch: float
    spread: float
    device: str = "cpu"


@dataclass(frozen=True)
class Measured:
    """Everything measured for one device."""

    device: str
    cores: list[int]
    batches: list[Measurement]
    server: ServerMeasurement

    @property
    def spread(self) -> float:
        """The widest spread of the figures the advice rests on."""
        return max([self.server.spread, *(m.spread for m in self.batches)])


def choose_cores(requested: list[int] | None) -> list[int]:
    """The cores to measure on: those asked for, else the last core this process may use."""
    allowed = sorted(_affinity())
    if requested:
        unknown = [c for c in requested if c not in allowed]
        if unknown:
            raise DataError(
                f"--cores {','.join(map(str, unknown))}: this process may only use cores "
                f"{','.join(map(str, allowed))}."
            )
        return sorted(set(requested))
    return allowed[-1:]


@contextlib.contextmanager
def pinned(cores: list[int]) -> Iterator[None]:
    """Run on ``cores`` only, with every native thread pool limited to that many threads."""
    from threadpoolctl import threadpool_limits

    before = _affinity()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, cores)
    try:
        with threadpool_limits(limits=len(cores)):
            yield
    finally:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, before)


def measure(
    runtime: ModelRuntime,
    sample: pd.DataFrame,
    seconds: float = 0.5,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    cores: list[int] | None = None,
    max_batch_size: int = 32,
    max_delay_ms: float = 2.0,
) -> Measured:
    """Time ``runtime`` on rows drawn from ``sample``, about ``seconds`` per figure."""
    frame = check_frame(sample, runtime.schema) if runtime.schema.columns else sample
    chosen = choose_cores(cores)
    rng = np.random.default_rng(0)
    device = getattr(runtime, "device", "cpu")
    # A server freezes its heap after start-up, so a full collection never lands inside
    # a request; keep it out of these timings too.
    gc.collect()
    gc.disable()
    try:
        with pinned(chosen):
            batches = [
                _time_batch(runtime, frame, size, rng, seconds, device) for size in batch_sizes
            ]
            server = asyncio.run(
                _time_server(
                    runtime, frame, seconds, max_batch_size, max_delay_ms, device, len(chosen)
                )
            )
    finally:
        gc.enable()
    return Measured(device, chosen, batches, server)


def check_spread(measured: Measured, limit: float = MAX_SPREAD) -> None:
    """Refuse figures whose rounds disagree by more than ``limit`` (the machine is busy)."""
    if measured.spread > limit:
        figures = [(measured.server.spread, "the server path")] + [
            (m.spread, f"batches of {m.batch_size:,} rows") for m in measured.batches
        ]
        worst = max(figures, key=lambda f: f[0])[1]
        raise DataError(
            f"This machine is busy: the measurements ({worst} the most) moved by up to "
            f"{measured.spread:.0%} between {ROUNDS} rounds on {measured.device} (limit "
            f"{limit:.0%}), too much to extrapolate from; rerun when it is quiet, measure "
            "longer (--seconds 2), or pass --cores with a core nothing else uses."
        )


def _rounds(call: Any, seconds: float) -> tuple[list[float], float]:
    """Warm up, then time ``call`` in ``ROUNDS`` rounds: every timing, and the spread."""
    warm_until = time.perf_counter() + seconds * 0.1
    call()
    while time.perf_counter() < warm_until:
        call()
    timings: list[float] = []
    medians: list[float] = []
    for _ in range(ROUNDS):
        these: list[float] = []
        deadline = time.perf_counter() + seconds / ROUNDS
        while time.perf_counter() < deadline or len(these) < MIN_CALLS_PER_ROUND:
            began = time.perf_counter()
            call()
            these.append(time.perf_counter() - began)
        timings += these
        medians.append(float(np.median(these)))
    return timings, _spread(medians)


def _spread(medians: list[float]) -> float:
    middle = float(np.median(medians))
    return (max(medians) - min(medians)) / middle if middle > 0 else 0.0


def _time_batch(
    runtime: ModelRuntime,
    frame: pd.DataFrame,
    size: int,
    rng: np.random.Generator,
    seconds: float,
    device: str,
) -> Measurement:
    """Latency percentiles and throughput for one batch size."""
    batch = frame.iloc[rng.integers(0, len(frame), size)].reset_index(drop=True)
    timings, spread = _rounds(lambda: runtime.predict_frame(batch), seconds)
    p50, p99 = np.percentile(timings, [50, 99])
    return Measurement(
        size, p50 * 1000, p99 * 1000, size / float(np.median(timings)), spread, device
    )


async def _time_server(
    runtime: ModelRuntime,
    frame: pd.DataFrame,
    seconds: float,
    max_batch_size: int,
    max_delay_ms: float,
    device: str,
    threads: int = 1,
) -> ServerMeasurement:
    """``CONCURRENCY`` callers sending one row each through the micro-batcher, in rounds.

    The batcher calls the model in the event loop's worker threads. Those are created
    here, so they inherit the pinned cores; OpenMP's thread count, though, belongs to each
    thread, so every worker limits its own pools to ``threads`` as it starts (otherwise a
    model that uses OpenMP, such as histogram gradient boosting, would run one thread per
    core of the machine on the pinned core).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from lanza.serving.batcher import MicroBatcher

    executor = ThreadPoolExecutor(
        thread_name_prefix="lanza-advise", initializer=threadpool_limits, initargs=(threads,)
    )
    asyncio.get_running_loop().set_default_executor(executor)

    batches: list[int] = []
    batcher = MicroBatcher(
        runtime, max_batch_size, max_delay_ms, observe=lambda rows, _waited: batches.append(rows)
    )
    batcher.start()
    head = frame.head(256)
    rows = [{str(c): [head[c].iloc[i]] for c in head.columns} for i in range(len(head))]
    latencies: list[float] = []
    rates: list[float] = []
    try:
        await _serve_for(batcher, rows, seconds * 0.1, [])  # warm-up
        batches.clear()
        for _ in range(ROUNDS):
            these: list[float] = []
            began = time.perf_counter()
            await _serve_for(batcher, rows, seconds / ROUNDS, these)
            rates.append(len(these) / (time.perf_counter() - began))
            latencies += these
    finally:
        await batcher.stop()
    p50, p99 = np.percentile(latencies, [50, 99])
    return ServerMeasurement(
        CONCURRENCY,
        float(np.median(rates)),
        p50 * 1000,
        p99 * 1000,
        float(np.mean(batches)) if batches else 1.0,
        _spread(rates),
        device,
    )


async def _serve_for(
    batcher: Any, rows: list[dict[str, list[Any]]], seconds: float, latencies: list[float]
) -> None:
    deadline = time.perf_counter() + seconds

    async def caller(offset: int) -> None:
        index = offset
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await batcher.submit(rows[index % len(rows)], 1)
            latencies.append(time.perf_counter() - began)
            index += CONCURRENCY

    await asyncio.gather(*(caller(i) for i in range(CONCURRENCY)))


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))
