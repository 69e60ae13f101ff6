"""Measuring pins the cores and the native thread pools of every thread that runs the model."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_info

from lanza.advisor.measure import measure
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.schema import InputSchema

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity"), reason="core affinity is Linux's"
)


class Recording(ModelRuntime):
    """A histogram gradient boosting model (OpenMP inside) that notes where each call ran."""

    def __init__(self, model: Any) -> None:
        self.name, self.version = "recording", "1"
        self.schema = InputSchema(())
        self.model = model
        self.calls: list[tuple[str, frozenset[int], tuple[int, ...]]] = []

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        threads = tuple(int(pool["num_threads"]) for pool in threadpool_info())
        where = frozenset(os.sched_getaffinity(0))
        self.calls.append((threading.current_thread().name, where, threads))
        return Prediction(np.asarray(self.model.predict(frame.to_numpy())))


def test_every_call_runs_on_the_pinned_core_with_one_thread() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((500, 4))
    # Fitted before measuring: OpenMP's pool already exists, unpinned, with every core.
    model = HistGradientBoostingClassifier(max_iter=5).fit(features, features[:, 0] > 0.5)
    runtime = Recording(model)
    before = os.sched_getaffinity(0)
    core = max(before)
    measured = measure(runtime, pd.DataFrame(features[:64]), 0.05, (1, 8), cores=[core])
    assert measured.cores == [core]
    assert os.sched_getaffinity(0) == before  # given back afterwards
    names = {name for name, _, _ in runtime.calls}
    assert "MainThread" in names  # the batch figures
    assert len(names) > 1  # the server path, in the event loop's worker threads
    for name, where, threads in runtime.calls:
        assert where == {core}, name
        assert set(threads) == {1}, (name, threads)
