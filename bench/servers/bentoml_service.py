"""BentoML serving the benchmark's model (``BENCH_MODEL``, joblib) with adaptive batching.

    bentoml serve bentoml_service:Model --port PORT   (from bench/.peers/bentoml)

The request is ``{"instances": [[20 numbers]]}``: a batchable BentoML API takes arrays,
made a frame with the columns named by ``BENCH_COLUMNS`` (the pipeline selects by name).
"""

from __future__ import annotations

import os

import bentoml
import joblib
import numpy as np
import pandas as pd


@bentoml.service(workers=1)
class Model:
    """The logistic regression, one batchable ``predict`` route."""

    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])
        self.columns = os.environ["BENCH_COLUMNS"].split(",")

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=1000)  # type: ignore[misc]
    def predict(self, instances: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(instances, columns=self.columns)
        return np.asarray(self.model.predict(frame))
