"""A real, tiny scikit-learn runtime for batch unit tests (no registry needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from lanza.errors import PredictionError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.schema import Column, InputSchema

FEATURES = ["a", "b"]


class TinyRuntime(ModelRuntime):
    """A logistic regression on two columns; NaN makes it fail, as scikit-learn does."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 2))
        self.model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
        self.name, self.version = "tiny", "1"
        self.schema = InputSchema(tuple(Column(n, "double") for n in FEATURES))
        self.classes = [0, 1]

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        try:
            values = self.model.predict(frame.to_numpy())
            proba = self.model.predict_proba(frame.to_numpy()) if probabilities else None
        except ValueError as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        return Prediction(values, proba, self.classes)
