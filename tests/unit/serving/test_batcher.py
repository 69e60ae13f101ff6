"""Micro-batching merges concurrent requests, splits answers back, and fails them together."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lanza.errors import PredictionError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.schema import Column, InputSchema
from lanza.serving import batcher as batcher_module
from lanza.serving.batcher import CPU_SAMPLE, TRY_BATCHES, MicroBatcher


class Doubler(ModelRuntime):
    """Predicts 2x; records each call's row count; can fail or drop a row on demand."""

    def __init__(self, mode: str = "ok") -> None:
        self.name, self.version, self.mode = "d", "1", mode
        self.schema = InputSchema((Column("x", "double"),))
        self.calls: list[int] = []

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        self.calls.append(len(frame))
        if self.mode == "fail":
            raise PredictionError("boom")
        values = frame["x"].to_numpy() * 2
        return Prediction(values[:-1] if self.mode == "short" else values)


async def _many(batcher: MicroBatcher, count: int) -> list[Any]:
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.submit({"x": [float(i)]}, 1) for i in range(count)),
            return_exceptions=True,
        )
    finally:
        await batcher.stop()


def test_concurrent_requests_share_model_calls() -> None:
    runtime = Doubler()
    results = asyncio.run(_many(MicroBatcher(runtime, 8, 5.0), 20))
    assert [r.to_list()[0] for r in results] == [2.0 * i for i in range(20)]
    assert sum(runtime.calls) == 20
    assert len(runtime.calls) < 20
    assert max(runtime.calls) <= 8


@pytest.mark.parametrize(
    ("mode", "message"), [("fail", "boom"), ("short", "returned 4 outputs for 5 rows")]
)
def test_a_failed_batch_answers_every_request(mode: str, message: str) -> None:
    batcher = MicroBatcher(Doubler(mode), 5, 50.0)
    results = asyncio.run(_many(batcher, 5))
    assert all(isinstance(r, PredictionError) and message in str(r) for r in results)


def test_batching_off_calls_the_model_per_request() -> None:
    runtime = Doubler()
    results = asyncio.run(_many(MicroBatcher(runtime, 1, 0.0), 4))
    assert runtime.calls == [1, 1, 1, 1]
    assert np.allclose([r.values[0] for r in results], [0, 2, 4, 6])


class Busy(Doubler):
    """Spends ``cpu_s`` of CPU time per call."""

    def __init__(self, cpu_s: float) -> None:
        super().__init__()
        self.cpu_s = cpu_s

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        began = time.thread_time()
        while time.thread_time() - began < self.cpu_s:
            pass
        return super().predict_frame(frame, probabilities)


@pytest.mark.parametrize(("cpu_s", "on_loop"), [(0.0, True), (0.03, False)])
def test_only_a_fast_model_comes_to_run_on_the_event_loop(cpu_s: float, on_loop: bool) -> None:
    runtime = Busy(cpu_s)
    batcher = MicroBatcher(runtime, 8, 1.0)

    async def rounds() -> bool:
        batcher.start()
        try:
            for _ in range(12):
                await asyncio.gather(*(batcher.submit({"x": [1.0]}, 1) for _ in range(4)))
            return batcher.inline
        finally:
            await batcher.stop()

    assert asyncio.run(rounds()) is on_loop
    assert sum(runtime.calls) == 48


def test_the_cpu_clock_is_read_for_a_sample_of_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a thread's CPU clock is a system call made with the interpreter's lock held;
    a fast model settled on the loop reads it for one batch in CPU_SAMPLE, not each."""
    reads = 0
    clock = time.thread_time

    def counted() -> float:
        nonlocal reads
        reads += 1
        return clock()

    monkeypatch.setattr(batcher_module.time, "thread_time", counted)
    runtime = Doubler()
    batcher = MicroBatcher(runtime, 8, 1.0)

    async def rounds() -> bool:
        batcher.start()
        try:
            for _ in range(200):
                await batcher.submit({"x": [1.0]}, 1)
            return batcher.inline
        finally:
            await batcher.stop()

    assert asyncio.run(rounds()) is True
    assert sum(runtime.calls) == 200
    # the first threaded batch and a try's TRY_BATCHES read it twice each; then 1 in 8
    assert reads <= 2 * (1 + TRY_BATCHES + 200 // CPU_SAMPLE + 1)
