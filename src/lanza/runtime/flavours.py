"""Runtimes per model flavour: scikit-learn in skops (trusted types), and any MLflow pyfunc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import PredictionError, ValidationError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.compiled import compile_linear
from lanza.runtime.schema import InputSchema
from lanza.runtime.tensors import model_input, tensor_input


class SklearnRuntime(ModelRuntime):
    """A scikit-learn estimator, loaded from skops with lanza's trusted types only (by the
    loader, which passes the model object).

    When the pipeline's column step only routes every input column, in order, to one
    transformer (lanza's own pipelines on numeric tables), predictions skip it: the frame's
    values go as one float64 array to that transformer and the steps after it
    (``numeric_path``). scikit-learn's column selection on a frame costs several times
    the model's arithmetic on a small batch; the answers are the same, which is checked
    on probe rows when the model loads. A linear pipeline on that path runs as plain NumPy
    arithmetic (``lanza.runtime.compiled``), under the same check.
    """

    def __init__(self, name: str, version: str, model: Any, schema: InputSchema | None) -> None:
        self.name, self.version = name, version
        self.model: Any = model
        self.schema = schema or _schema_from_estimator(self.model)
        classes = getattr(self.model, "classes_", None)
        self.classes = None if classes is None else [_plain(c) for c in classes]
        self.output_dtype = "float64" if classes is None else np.asarray(classes).dtype.name
        self.direct = numeric_path(self.model, self.schema)
        self.names = self.schema.names
        self.takes_block = self.direct is not None
        self.tensor_path = tensor_path(self.model, self.schema)

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        if self.direct is not None and frame.columns.tolist() == self.names:
            return self._predict(self.direct, frame.to_numpy(dtype="float64"), probabilities)
        data = model_input(frame, self.schema) if self.schema.tensors else frame
        return self._predict(self.model, data, probabilities)

    def predict_block(self, block: np.ndarray[Any, Any], probabilities: bool = False) -> Prediction:
        return self._predict(self.direct, block, probabilities)

    def predict_tensors(
        self, columns: dict[str, list[Any]], probabilities: bool = False
    ) -> Prediction:
        data = tensor_input(columns, self.schema)
        fast = self.tensor_path is not None and isinstance(data, np.ndarray)
        return self._predict(self.tensor_path if fast else self.model, data, probabilities)

    def _predict(self, model: Any, data: Any, probabilities: bool) -> Prediction:
        try:
            values = np.asarray(model.predict(data))
            proba = None
            if probabilities and self.classes is not None:
                proba_fn = getattr(model, "predict_proba", None)
                if proba_fn is not None:
                    proba = np.asarray(proba_fn(data))
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        return Prediction(values, proba, self.classes)


def numeric_path(model: Any, schema: InputSchema) -> Any | None:
    """The pipeline without its column step, taking the schema's numeric columns as one
    array in schema order, when that gives the model's own answers; else ``None``.

    Only a ``Pipeline`` whose first step is a ``ColumnTransformer`` that sends every input
    column, in schema order, to one fitted transformer (the others get no columns, the
    remainder is dropped, the output is dense) qualifies. The transformer is copied
    without the column names it was fitted with, so that an array raises no warning.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    names = schema.names
    if not isinstance(model, Pipeline) or schema.tensors or not names:
        return None
    if not all(column.numeric for column in schema.columns):
        return None
    first = model.steps[0][1]
    if not isinstance(first, ColumnTransformer) or getattr(first, "sparse_output_", True):
        return None
    used = [
        (transformer, columns)
        for _, transformer, columns in first.transformers_
        if not _empty(columns) and transformer != "drop"
    ]
    if len(used) != 1 or isinstance(used[0][0], str) or list(used[0][1]) != names:
        return None
    try:
        direct = Pipeline([("columns", _unnamed(used[0][0])), *model.steps[1:]])
        compiled = compile_linear(direct)
        if compiled is not None and _same_answers(model, compiled, schema):
            return compiled
        return direct if _same_answers(model, direct, schema) else None
    except Exception:  # anything unexpected: the model's own path
        return None


def tensor_path(model: Any, schema: InputSchema) -> Any | None:
    """For a model logged with one unnamed float64 tensor of rows (``[-1, n]``), its linear
    arithmetic (``lanza.runtime.compiled``) when that gives the model's own answers on probe
    rows (zeros, ones, and spread values); else ``None``."""
    if len(schema.tensors) != 1:
        return None
    spec = schema.tensors[0]
    if spec.name is not None or spec.dtype != "float64" or len(spec.shape) != 2:
        return None
    width = spec.shape[1]
    compiled = compile_linear(model)
    if compiled is None or width < 1:
        return None
    spread = np.random.default_rng(0).normal(scale=10.0, size=(16, width))
    probe = np.vstack([np.zeros(width), np.ones(width), spread])
    try:
        return compiled if _same_on(model, compiled, probe, probe) else None
    except Exception:  # anything unexpected: the model's own path
        return None


def _empty(columns: Any) -> bool:
    try:
        return len(columns) == 0
    except TypeError:  # a callable or a slice: not a plain list of names
        return False


def _unnamed(transformer: Any) -> Any:
    """A copy of a fitted transformer (or pipeline of them) without ``feature_names_in_``."""
    import copy

    clone = copy.deepcopy(transformer)
    for step in [clone, *(s for _, s in getattr(clone, "steps", []))]:
        if "feature_names_in_" in vars(step):  # a Pipeline's is a property of its first step
            del step.feature_names_in_
    return clone


def _same_answers(model: Any, direct: Any, schema: InputSchema) -> bool:
    """Whether both give the same predictions, and probabilities equal to rounding (an array
    laid out by rows rather than columns may sum in another order), on probe rows:
    training's bounds, zeros, ones, and a missing value in each column."""
    width = len(schema.columns)
    low = [c.minimum if c.minimum is not None else -1.0 for c in schema.columns]
    high = [c.maximum if c.maximum is not None else 1.0 for c in schema.columns]
    rows = [low, high, [0.0] * width, [1.0] * width]
    rows += [[np.nan if i == j else low[i] for i in range(width)] for j in range(width)]
    values = np.array(rows, dtype="float64")
    return _same_on(model, direct, pd.DataFrame(values, columns=schema.names), values)


def _same_on(model: Any, other: Any, data: Any, values: np.ndarray[Any, Any]) -> bool:
    """Whether ``other`` on ``values`` predicts what ``model`` does on ``data`` (the same
    rows), with probabilities equal to rounding."""
    if not np.array_equal(np.asarray(model.predict(data)), np.asarray(other.predict(values))):
        return False
    if hasattr(model, "predict_proba"):
        expected, got = model.predict_proba(data), other.predict_proba(values)
        return bool(np.allclose(expected, got, rtol=1e-9, atol=1e-12))
    return True


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

    def predict_tensors(
        self, columns: dict[str, list[Any]], probabilities: bool = False
    ) -> Prediction:
        return self._call(tensor_input(columns, self.schema), {})

    def predict_with_params(
        self, frame: pd.DataFrame, probabilities: bool, params: dict[str, Any]
    ) -> Prediction:
        data = model_input(frame, self.schema) if self.schema.tensors else typed(frame, self.schema)
        return self._call(data, params)

    def _call(self, data: Any, params: dict[str, Any]) -> Prediction:
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
