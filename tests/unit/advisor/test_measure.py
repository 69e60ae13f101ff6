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


def test_a_busy_machine_is_refused_naming_the_figure_that_moved() -> None:
    from lanza.advisor.measure import Measured, Measurement, ServerMeasurement, check_spread
    from lanza.errors import DataError

    steady = [Measurement(1, 1.0, 2.0, 1000.0, 0.1), Measurement(1024, 5.0, 6.0, 2e5, 0.7)]
    measured = Measured("cpu", [1], steady, ServerMeasurement(16, 900.0, 1.0, 2.0, 8.0, 0.2))
    check_spread(measured, 0.8)  # within the limit: no error
    with pytest.raises(DataError) as busy:
        check_spread(measured, 0.5)
    said = busy.value.message
    assert said.startswith("This machine is busy")
    assert "batches of 1,024 rows the most" in said
    assert "up to 70%" in said
    assert "--seconds" in said
    assert "pass --cores" in said
