"""Do two runtimes agree on the same rows, and how much faster is one than the other?

Parity compares predictions row by row on the registered reference sample: for a
classifier, labels that differ and the largest difference of any class probability;
for a regressor, the largest absolute difference relative to the largest prediction.
Speed is the median time of a single-row call and of a batch call, for both runtimes,
measured in turns so that a noisy neighbour slows both alike.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lanza.runtime.base import ModelRuntime

BATCH_ROWS = 1_000


@dataclass(frozen=True)
class Parity:
    """How far the converted model's predictions are from the original's."""

    rows: int
    max_abs_diff: float
    label_mismatches: int
    tolerance: float

    @property
    def ok(self) -> bool:
        """No value moved more than the tolerance."""
        return self.max_abs_diff <= self.tolerance


@dataclass(frozen=True)
class Speed:
    """Median seconds per call of each runtime, for one row and for a batch."""

    batch_rows: int
    single_before_s: float
    single_after_s: float
    batch_before_s: float
    batch_after_s: float

    @property
    def single_speedup(self) -> float:
        """How many times faster one row is answered."""
        return self.single_before_s / self.single_after_s if self.single_after_s else 0.0

    @property
    def batch_speedup(self) -> float:
        """How many times faster a batch is scored."""
        return self.batch_before_s / self.batch_after_s if self.batch_after_s else 0.0


def compare(
    before: ModelRuntime, after: ModelRuntime, frame: pd.DataFrame, tolerance: float
) -> Parity:
    """Predict ``frame`` with both runtimes and measure the largest difference."""
    old = before.predict_frame(frame, probabilities=True)
    new = after.predict_frame(frame, probabilities=True)
    if old.classes is not None:
        mismatches = int(np.sum(_labels(old.values) != _labels(new.values)))
        if old.probabilities is not None and new.probabilities is not None:
            diff = float(np.max(np.abs(old.probabilities - new.probabilities), initial=0.0))
        else:  # labels only: any changed label is a full difference
            diff = 1.0 if mismatches else 0.0
        return Parity(len(frame), diff, mismatches, tolerance)
    a = np.asarray(old.values, dtype=np.float64).reshape(len(frame), -1)
    b = np.asarray(new.values, dtype=np.float64).reshape(len(frame), -1)
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
    diff = float(np.max(np.abs(a - b), initial=0.0)) / scale
    return Parity(len(frame), diff, 0, tolerance)


def time_both(
    before: ModelRuntime,
    after: ModelRuntime,
    frame: pd.DataFrame,
    seconds: float = 1.0,
    batch_rows: int = BATCH_ROWS,
) -> Speed:
    """Median call times of both runtimes on one row and on ``batch_rows`` rows."""
    rng = np.random.default_rng(0)
    batch = frame.iloc[rng.integers(0, len(frame), batch_rows)].reset_index(drop=True)
    single = frame.iloc[:1].reset_index(drop=True)
    gc.collect()
    gc.disable()  # a collection inside one timing would favour whichever ran second
    try:
        one = _alternate(before, after, single, seconds / 2)
        many = _alternate(before, after, batch, seconds / 2)
    finally:
        gc.enable()
    return Speed(batch_rows, one[0], one[1], many[0], many[1])


def _alternate(
    first: ModelRuntime, second: ModelRuntime, frame: pd.DataFrame, seconds: float
) -> tuple[float, float]:
    first.predict_frame(frame)
    second.predict_frame(frame)
    times: tuple[list[float], list[float]] = ([], [])
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times[0]) < 5:
        for runtime, bucket in ((first, times[0]), (second, times[1])):
            began = time.perf_counter()
            runtime.predict_frame(frame)
            bucket.append(time.perf_counter() - began)
    return float(np.median(times[0])), float(np.median(times[1]))


def _labels(values: Any) -> Any:
    """Labels comparable across runtimes: numbers as floats (1 == 1.0), the rest as text."""
    flat = np.asarray(values).reshape(len(values), -1)[:, 0]
    if flat.dtype.kind in "biuf":
        return flat.astype(np.float64)
    return np.asarray([str(v) for v in flat])
