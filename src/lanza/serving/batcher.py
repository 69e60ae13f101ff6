"""Adaptive micro-batching: concurrent requests merged into one model call, split back.

While the model works on one batch, new requests queue; the next batch takes what
queued (up to ``max_batch_size`` rows), waiting at most ``max_delay_ms`` for more when
the queue runs dry. A failed batch answers every request in it with the error, and the
count of outputs is checked against the count of inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import PredictionError
from lanza.runtime.base import ModelRuntime, Prediction

log = logging.getLogger("lanza.batching")
BatchObserver = Callable[[int, float], None]


@dataclass
class _Item:
    columns: dict[str, list[Any]]
    count: int
    probabilities: bool
    future: asyncio.Future[Prediction]
    queued_at: float = field(default_factory=time.perf_counter)


def to_frame(
    columns: dict[str, list[Any]], numeric: set[str], dated: set[str] | None = None
) -> pd.DataFrame:
    """Columns to a DataFrame, numbers as float64 (None becomes NaN), dates as
    datetime64[ns] (None becomes NaT)."""
    data: dict[str, Any] = {
        name: np.array(values, dtype="float64") if name in numeric else values
        for name, values in columns.items()
    }
    for name in dated or ():
        if name in data:
            data[name] = pd.to_datetime(pd.Series(data[name], dtype=object)).astype(
                "datetime64[ns]"
            )
    return pd.DataFrame(data)


class MicroBatcher:
    """Queues requests for one runtime and runs them in batches off the event loop."""

    def __init__(
        self,
        runtime: ModelRuntime,
        max_batch_size: int = 32,
        max_delay_ms: float = 2.0,
        observe: BatchObserver | None = None,
    ) -> None:
        self.runtime = runtime
        self.max_batch_size = max_batch_size
        self.max_delay = max_delay_ms / 1000
        self.observe = observe
        self.numeric = {c.name for c in runtime.schema.columns if c.numeric}
        self.dated = runtime.schema.dated
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the consumer (only when batching is on)."""
        if self.max_batch_size > 1 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._consume())

    async def stop(self) -> None:
        """Answer what is queued, then stop."""
        while not self._queue.empty() and self._task is not None:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(
        self,
        columns: dict[str, list[Any]],
        count: int,
        probabilities: bool = False,
        params: dict[str, Any] | None = None,
    ) -> Prediction:
        """Predict ``count`` validated rows, batched with whatever else is queued; a request
        with inference ``params`` runs alone (params hold for the whole model call)."""
        if self._task is None or params:
            return await asyncio.to_thread(self._run_one, columns, probabilities, params)
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(columns, count, probabilities, future))
        return await future

    def _run_one(
        self,
        columns: dict[str, list[Any]],
        probabilities: bool,
        params: dict[str, Any] | None = None,
    ) -> Prediction:
        frame = to_frame(columns, self.numeric, self.dated)
        if params:
            prediction = self.runtime.predict_with_params(frame, probabilities, params)
        else:
            prediction = self.runtime.predict_frame(frame, probabilities)
        _check_count(prediction, len(frame), self.runtime.ref)
        if self.observe:
            self.observe(len(frame), 0.0)
        return prediction

    async def _consume(self) -> None:
        while True:
            batch = await self._collect()
            try:
                await asyncio.to_thread(self._run_batch, batch)
            except Exception as exc:  # every request in the batch gets the error
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _collect(self) -> list[_Item]:
        batch = [await self._queue.get()]
        rows = batch[0].count
        deadline = time.perf_counter() + self.max_delay
        while rows < self.max_batch_size:
            if self._queue.empty():
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, 0.0005))
                continue
            item = self._queue.get_nowait()
            batch.append(item)
            rows += item.count
        return batch

    def _run_batch(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        merged = {
            name: [v for item in batch for v in item.columns[name]] for name in batch[0].columns
        }
        frame = to_frame(merged, self.numeric, self.dated)
        prediction = self.runtime.predict_frame(frame, any(i.probabilities for i in batch))
        _check_count(prediction, len(frame), self.runtime.ref)
        if self.observe:
            waited = sum(started - i.queued_at for i in batch) / len(batch)
            self.observe(len(frame), waited)
        offset = 0
        for item in batch:
            part = prediction.slice(offset, offset + item.count)
            offset += item.count
            item.future.get_loop().call_soon_threadsafe(_resolve, item.future, part)


def _resolve(future: asyncio.Future[Prediction], value: Prediction) -> None:
    if not future.done():
        future.set_result(value)


def _check_count(prediction: Prediction, rows: int, ref: str) -> None:
    if len(prediction) != rows:
        raise PredictionError(f"{ref} returned {len(prediction)} outputs for {rows} rows.")
