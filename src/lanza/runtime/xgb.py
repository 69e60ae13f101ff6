"""XGBoost models saved with MLflow's ``xgboost`` flavour (XGBoost's own file, no pickle).

The model class named in the flavour must be one of XGBoost's; the booster is placed
on ``device`` through XGBoost's ``device`` parameter.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import PredictionError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.devices import move_xgboost
from lanza.runtime.schema import Column, InputSchema
from lanza.runtime.tensors import model_input, tensor_input


class XGBoostRuntime(ModelRuntime):
    """A scikit-learn-style XGBoost estimator, or a bare ``Booster``."""

    def __init__(
        self,
        name: str,
        version: str,
        model: Any,
        schema: InputSchema | None,
        device: str = "cpu",
    ) -> None:
        self.name, self.version = name, version
        self.model = model  # ``load_xgboost``'s, or its ready-to-load form
        self.device = device
        move_xgboost(self.model, device)
        classes = getattr(self.model, "classes_", None)
        self.classes = None if classes is None else [_plain(c) for c in classes]
        self.output_dtype = "float64" if classes is None else np.asarray(classes).dtype.name
        self.schema = schema or _schema_from_model(self.model)

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        data = model_input(frame, self.schema) if self.schema.tensors else frame
        return self._predict(data, probabilities)

    def predict_tensors(
        self, columns: dict[str, list[Any]], probabilities: bool = False
    ) -> Prediction:
        return self._predict(tensor_input(columns, self.schema), probabilities)

    def _predict(self, data: Any, probabilities: bool) -> Prediction:
        try:
            if type(self.model).__name__ == "Booster":
                return Prediction(np.asarray(self.model.inplace_predict(data)))
            values = np.asarray(self.model.predict(data))
            proba = None
            if probabilities and self.classes is not None:
                proba = np.asarray(self.model.predict_proba(data))
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        return Prediction(values, proba, self.classes)


def load_xgboost(path: Path, flavour: dict[str, Any]) -> Any:
    """The XGBoost object an MLflow ``xgboost`` flavour describes."""
    model_class = str(flavour.get("model_class", "xgboost.core.Booster"))
    module, _, name = model_class.rpartition(".")
    if not module.startswith("xgboost"):
        raise ValueError(f"the xgboost flavour names class '{model_class}', not one of XGBoost's")
    model = getattr(importlib.import_module(module), name)()
    model.load_model(str(path / str(flavour.get("data", "model.xgb"))))
    return model


def _schema_from_model(model: Any) -> InputSchema:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        booster = model if not hasattr(model, "get_booster") else model.get_booster()
        names = getattr(booster, "feature_names", None)
    return InputSchema(tuple(Column(str(n), "double") for n in names or ()))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
