"""Runtimes per model flavour: scikit-learn in skops (trusted types), and any MLflow pyfunc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.runtime.base import ModelRuntime, Prediction, PredictionError
from lanza.runtime.schema import InputSchema
from lanza.training.serialization import VerifiedCache, load_model


class SklearnRuntime(ModelRuntime):
    """A scikit-learn estimator loaded from skops with lanza's trusted types only."""

    def __init__(
        self,
        name: str,
        version: str,
        path: Path,
        schema: InputSchema | None,
        cache: VerifiedCache | None = None,
    ) -> None:
        self.name, self.version = name, version
        blob = path.read_bytes()
        self.model: Any = cache.load(blob) if cache is not None else load_model(blob)
        self.schema = schema or _schema_from_estimator(self.model)
        classes = getattr(self.model, "classes_", None)
        self.classes = None if classes is None else [_plain(c) for c in classes]

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        try:
            values = np.asarray(self.model.predict(frame))
            proba = None
            if probabilities and self.classes is not None:
                proba_fn = getattr(self.model, "predict_proba", None)
                if proba_fn is not None:
                    proba = np.asarray(proba_fn(frame))
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        return Prediction(values, proba, self.classes)


class PyfuncRuntime(ModelRuntime):
    """Any MLflow model through ``mlflow.pyfunc`` (loaded only when pickle is allowed)."""

    def __init__(self, name: str, version: str, path: Path, schema: InputSchema | None) -> None:
        import mlflow.pyfunc

        self.name, self.version = name, version
        self.model = mlflow.pyfunc.load_model(str(path))
        self.schema = schema or InputSchema(())

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        try:
            raw = self.model.predict(frame)
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        if isinstance(raw, pd.DataFrame):
            values = raw.iloc[:, 0].to_numpy() if raw.shape[1] == 1 else raw.to_numpy()
        else:
            values = np.asarray(raw)
        return Prediction(values)


def _schema_from_estimator(model: Any) -> InputSchema:
    from lanza.runtime.schema import Column

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return InputSchema(())
    return InputSchema(tuple(Column(str(n), "double") for n in names))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
