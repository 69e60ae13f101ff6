"""Adaptive micro-batching: concurrent requests merged into one model call, split back.

While the model works on one batch, new requests queue; the next batch takes what
queued (up to ``max_batch_size`` rows), waiting at most ``max_delay_ms`` for more when
the queue runs dry. A failed batch answers every request in it with the error, and the
count of outputs is checked against the count of inputs.

A fast model (its batches take under ``INLINE_S`` of CPU time on average when run there;
CPU time, so that a busy machine's waits do not count) runs on the event
loop itself: a hop to a worker thread and back costs more than such a model call, and the
call holds the interpreter's lock either way. Its batch takes what has queued and what
the requests already read add to the queue when the loop is let run once more; it waits
no longer, since nothing is gained by idling a model that answers in well under a
millisecond. Slow models, and a model whose batches grow slow, keep the thread and the
``max_delay_ms`` wait. Whether a model is fast is measured, never assumed: batches start
on the thread, and a model whose threaded batches cost under ``PROBE_S`` runs
``TRY_BATCHES`` batches on the loop now and then (every ``PROBE_EVERY`` threaded batches)
to learn its cost there
(a threaded batch costs more CPU than the same batch on the loop: the hand-overs of the
interpreter's lock count too). Outside a try, one batch in ``CPU_SAMPLE`` reads the CPU
clock: the read is a system call that a busy virtual machine makes slow.
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
INLINE_S = 0.004  # mean CPU time per batch under which the model runs on the event loop
PROBE_S = 0.016  # threaded batches cheaper than this are tried on the loop now and then
PROBE_EVERY = 100  # threaded batches between two such tries
TRY_BATCHES = 8  # batches a try runs on the loop before their mean cost decides
SMOOTHING = 0.2  # weight of the latest batch in the means
# Reading a thread's CPU clock is a system call, made with the interpreter's lock held: a
# few microseconds on a quiet machine, far more on a busy virtual one. Out of a try, one
# batch in CPU_SAMPLE is timed (every batch of a try is, and the first ones).
CPU_SAMPLE = 8


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
    datetime64[ns] (None becomes NaT). All-numeric columns become one float64 block: one
    array to build, and one the model's column selection slices without copying."""
    if columns and len(numeric) >= len(columns) and all(name in numeric for name in columns):
        block = np.array(list(columns.values()), dtype="float64").T
        return pd.DataFrame(block, columns=list(columns))
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
        self.names = runtime.schema.names
        self.dated = runtime.schema.dated
        self.tensors = bool(runtime.schema.tensors)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._on_loop = False  # batches run on the event loop (the model proved fast)
        self._loop_cost = 0.0  # mean CPU seconds of a batch on the loop
        self._thread_cost: float | None = None  # the same on the thread, None before one
        self._threaded = PROBE_EVERY  # timed threaded batches since the last try on the loop
        self._batches = 0  # batches run, to time one in CPU_SAMPLE
        self._tried = 0  # batches on the loop since it was last chosen

    @property
    def inline(self) -> bool:
        """Whether the next batch runs on the event loop: the model has proved fast there,
        or it is time to try (its threaded batches are cheap enough)."""
        if self._on_loop:
            return True
        cost = self._thread_cost
        return cost is not None and cost < PROBE_S and self._threaded >= PROBE_EVERY

    def _sampled(self) -> bool:
        """Whether this batch's CPU time is read: during a try on the loop and until a
        threaded batch has been timed, always; otherwise one batch in ``CPU_SAMPLE``."""
        self._batches += 1
        trying = self._on_loop and self._tried < TRY_BATCHES
        return trying or self._thread_cost is None or self._batches % CPU_SAMPLE == 0

    def _timed(self, seconds: float, inline: bool) -> None:
        """Record one batch's CPU time, and where the next batches run."""
        if not inline:
            cost = self._thread_cost
            self._thread_cost = seconds if cost is None else cost + SMOOTHING * (seconds - cost)
            self._threaded += 1
            return
        if self._on_loop:
            self._loop_cost += SMOOTHING * (seconds - self._loop_cost)
            self._tried += 1
        else:  # a try begins
            self._loop_cost, self._tried, self._on_loop = seconds, 1, True
        if self._tried >= TRY_BATCHES and self._loop_cost >= INLINE_S:
            self._on_loop = False
        self._threaded = 0

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
        gather: bool = True,
    ) -> Prediction:
        """Predict ``count`` validated rows, batched with whatever else is queued; a request
        with inference ``params`` runs alone (params hold for the whole model call).

        ``gather=False``: when the model runs on the event loop and nothing is queued, the
        request runs at once rather than through the queue. gRPC calls come this way: they
        reach the loop one completion at a time from gRPC's poller thread, so a batch
        gathers no other call, and the queue's extra turns of the loop keep that thread
        waiting for the interpreter's lock (several times slower, measured).
        """
        alone = not gather and self._on_loop and self._queue.empty()
        if self._task is None or params or alone:
            if self.inline:
                return self._run_one(columns, count, probabilities, params, inline=True)
            return await asyncio.to_thread(self._run_one, columns, count, probabilities, params)
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(columns, count, probabilities, future))
        return await future

    def _run_one(
        self,
        columns: dict[str, list[Any]],
        rows: int,
        probabilities: bool,
        params: dict[str, Any] | None = None,
        inline: bool = False,
    ) -> Prediction:
        timed = self._sampled()
        began = time.thread_time() if timed else 0.0
        if params:
            frame = to_frame(columns, self.numeric, self.dated)
            prediction = self.runtime.predict_with_params(frame, probabilities, params)
        else:
            prediction = self._predict(columns, probabilities)
        if timed:
            self._timed(time.thread_time() - began, inline)
        _check_count(prediction, rows, self.runtime.ref)
        if self.observe:
            self.observe(rows, 0.0)
        return prediction

    def _predict(self, columns: dict[str, list[Any]], probabilities: bool) -> Prediction:
        """One model call on validated columns, by the runtime's cheapest door: one float64
        block, the tensors' arrays, or a DataFrame."""
        if self.tensors:
            return self.runtime.predict_tensors(columns, probabilities)
        if self.runtime.takes_block and list(columns) == self.names:
            block = np.array(list(columns.values()), dtype="float64").T
            return self.runtime.predict_block(block, probabilities)
        return self.runtime.predict_frame(
            to_frame(columns, self.numeric, self.dated), probabilities
        )

    async def _consume(self) -> None:
        while True:
            inline = self.inline
            batch = await self._collect(inline)
            try:
                if inline:
                    self._run_batch(batch, inline=True)
                else:
                    await asyncio.to_thread(self._run_batch, batch)
            except Exception as exc:  # every request in the batch gets the error
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _collect(self, inline: bool = False) -> list[_Item]:
        batch = [await self._queue.get()]
        rows = batch[0].count
        deadline = time.perf_counter() + self.max_delay
        while rows < self.max_batch_size:
            if self._queue.empty() and inline:
                # Let the requests already read reach the queue, then go with what came.
                await asyncio.sleep(0)
                if self._queue.empty() or time.perf_counter() > deadline:
                    break
                continue
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

    def _run_batch(self, batch: list[_Item], inline: bool = False) -> None:
        timed = self._sampled()
        started, cpu = time.perf_counter(), time.thread_time() if timed else 0.0
        if len(batch) == 1:
            merged = batch[0].columns
        else:
            merged = {
                name: [v for item in batch for v in item.columns[name]] for name in batch[0].columns
            }
        rows = sum(item.count for item in batch)
        probabilities = any(i.probabilities for i in batch)
        prediction = self._predict(merged, probabilities)
        if timed:
            self._timed(time.thread_time() - cpu, inline)
        _check_count(prediction, rows, self.runtime.ref)
        if self.observe:
            waited = sum(started - i.queued_at for i in batch) / len(batch)
            self.observe(rows, waited)
        offset = 0
        for item in batch:
            part = prediction.slice(offset, offset + item.count)
            offset += item.count
            if inline:
                _resolve(item.future, part)
            else:
                item.future.get_loop().call_soon_threadsafe(_resolve, item.future, part)


def _resolve(future: asyncio.Future[Prediction], value: Prediction) -> None:
    if not future.done():
        future.set_result(value)


def _check_count(prediction: Prediction, rows: int, ref: str) -> None:
    if len(prediction) != rows:
        raise PredictionError(f"{ref} returned {len(prediction)} outputs for {rows} rows.")
