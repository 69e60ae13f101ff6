"""Runtimes per model flavour: scikit-learn in skops (trusted types), and any MLflow pyfunc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import PredictionError, ValidationError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.schema import InputSchema
from lanza.runtime.tensors import model_input


class SklearnRuntime(ModelRuntime):
    """A scikit-learn estimator, loaded from skops with lanza's trusted types only (by the
    loader, which passes the model object)."""

    def __init__(self, name: str, version: str, model: Any, schema: InputSchema | None) -> None:
        self.name, self.version = name, version
        self.model: Any = model
        self.schema = schema or _schema_from_estimator(self.model)
        classes = getattr(self.model, "classes_", None)
        self.classes = None if classes is None else [_plain(c) for c in classes]
        self.output_dtype = "float64" if classes is None else np.asarray(classes).dtype.name

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        data = model_input(frame, self.schema) if self.schema.tensors else frame
        try:
            values = np.asarray(self.model.predict(data))
            proba = None
            if probabilities and self.classes is not None:
                proba_fn = getattr(self.model, "predict_proba", None)
                if proba_fn is not None:
                    proba = np.asarray(proba_fn(data))
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
        self.output_dtype = _output_dtype(self.model)

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        return self.predict_with_params(frame, probabilities, {})

    def predict_with_params(
        self, frame: pd.DataFrame, probabilities: bool, params: dict[str, Any]
    ) -> Prediction:
        data = model_input(frame, self.schema) if self.schema.tensors else typed(frame, self.schema)
        try:
            raw = self.model.predict(data, params=params) if params else self.model.predict(data)
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        return to_prediction(raw)


INTEGERS = {"long": "int64", "integer": "int32"}


def typed(frame: pd.DataFrame, schema: InputSchema) -> pd.DataFrame:
    """The frame with the dtypes MLflow's own parser gives a signature's columns, so a pyfunc
    model's schema check passes on what ``mlflow models serve`` would pass it."""
    out: dict[str, Any] = {}
    for column in schema.columns:
        if column.name not in frame:
            continue
        series = frame[column.name]
        if column.type == "datetime":
            try:
                out[column.name] = pd.to_datetime(series)
            except (ValueError, TypeError) as exc:
                raise ValidationError(
                    f"Column '{column.name}' must be dates or times: {exc}."
                ) from exc
        elif column.type in INTEGERS and series.notna().all():
            values = series.to_numpy(dtype="float64")
            if np.all(np.mod(values, 1) == 0):
                out[column.name] = series.astype(np.dtype(INTEGERS[column.type]))
        elif column.type == "float":
            out[column.name] = series.astype("float32")
        elif column.type == "boolean" and series.notna().all():
            out[column.name] = series.astype(bool)
    return frame.assign(**out) if out else frame


def to_prediction(raw: Any) -> Prediction:
    """A pyfunc model's output (array, list, Series, DataFrame or dict of columns)."""
    if isinstance(raw, pd.DataFrame):
        names = [str(c) for c in raw.columns]
        values = raw.iloc[:, 0].to_numpy() if raw.shape[1] == 1 else raw.to_numpy()
        return Prediction(values, layout="records", names=names)
    if isinstance(raw, pd.Series):
        name = "0" if raw.name is None else str(raw.name)
        return Prediction(raw.to_numpy(), layout="records", names=[name])
    if isinstance(raw, dict) and raw:
        columns = [np.asarray(v) for v in raw.values()]
        if len({c.dtype for c in columns}) > 1:  # one array of mixed kinds: keep each value
            columns = [c.astype(object) for c in columns]
        values = columns[0] if len(columns) == 1 else np.column_stack(columns)
        return Prediction(values, layout="columns", names=[str(k) for k in raw])
    return Prediction(np.asarray(raw))


def _output_dtype(model: Any) -> str | None:
    """The numpy dtype of a pyfunc model's single output, from its signature."""
    try:
        outputs = model.metadata.get_output_schema()
        if outputs is None or len(outputs.inputs) != 1:
            return None
        return str(np.dtype(outputs.numpy_types()[0]).name)
    except Exception:  # an output schema numpy cannot type (objects, arrays)
        return None


def _schema_from_estimator(model: Any) -> InputSchema:
    from lanza.runtime.schema import Column

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return InputSchema(())
    return InputSchema(tuple(Column(str(n), "double") for n in names))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
