"""Measure a model on this machine: latency and throughput over batch sizes, on one core."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lanza.runtime.base import ModelRuntime

BATCH_SIZES = (1, 8, 32, 128, 1024)
MIN_CALLS = 20


@dataclass(frozen=True)
class Measurement:
    """One batch size: per-call latency percentiles and rows per second."""

    batch_size: int
    p50_ms: float
    p99_ms: float
    rows_per_s: float


def measure(
    runtime: ModelRuntime,
    sample: pd.DataFrame,
    seconds: float = 0.5,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
) -> list[Measurement]:
    """Time ``predict_frame`` on rows drawn from ``sample`` for about ``seconds`` per size."""
    frame = runtime.schema.validate(sample) if runtime.schema.columns else sample
    rng = np.random.default_rng(0)
    results = []
    # A server freezes its heap after start-up (see lanza.api.app), so a full collection
    # never lands inside a request; keep it out of these timings too.
    gc.collect()
    gc.disable()
    try:
        for size in batch_sizes:
            results.append(_time(runtime, frame, size, rng, seconds))
    finally:
        gc.enable()
    return results


def _time(
    runtime: ModelRuntime, frame: pd.DataFrame, size: int, rng: np.random.Generator, seconds: float
) -> Measurement:
    """Latency percentiles and throughput for one batch size."""
    batch = frame.iloc[rng.integers(0, len(frame), size)].reset_index(drop=True)
    runtime.predict_frame(batch)  # warm up
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(timings) < MIN_CALLS:
        began = time.perf_counter()
        runtime.predict_frame(batch)
        timings.append(time.perf_counter() - began)
    p50, p99 = np.percentile(timings, [50, 99])
    return Measurement(size, p50 * 1000, p99 * 1000, size / float(np.mean(timings)))
