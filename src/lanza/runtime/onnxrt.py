"""ONNX models (MLflow's ``onnx`` flavour) run with ONNX Runtime, on the CPU.

A model converted by ``lanza optimize`` takes one input per column, named after the
column: numbers as float32 (or whatever type the graph declares) and text as strings,
where a missing text value travels as ``MISSING`` (ONNX strings cannot be null; the
converted imputer treats that marker as missing). A graph with a single input takes
every column as one float32 matrix. The first output is the prediction, a second one
(when the model is a classifier) the class probabilities. An ONNX file holds no code,
so loading one is safe without ``LANZA_ALLOW_PICKLE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import PredictionError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.schema import InputSchema
from lanza.runtime.tensors import model_input

MISSING = "__lanza_missing__"
INSTALL = "ONNX models need ONNX Runtime: pip install 'lanza[onnx]'."
NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


class OnnxRuntime(ModelRuntime):
    """One ONNX Runtime session, ``threads`` threads per call (lanza's workers add more)."""

    def __init__(
        self,
        name: str,
        version: str,
        model_file: Path,
        schema: InputSchema | None,
        classes: list[Any] | None = None,
        threads: int = 1,
    ) -> None:
        self.name, self.version = name, version
        self.model_bytes = model_file.read_bytes()
        self.threads = threads
        self.session = open_session(self.model_bytes, threads)
        self.schema = schema or InputSchema(())
        self.classes = classes
        self.output_dtype = None if classes is None else np.asarray(classes).dtype.name
        self.inputs = [(i.name, i.type) for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        try:
            results = self.session.run(None, self.feeds(frame))
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        values = np.asarray(results[0])
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        proba = None
        if probabilities and self.classes is not None and len(results) > 1:
            proba = np.asarray(results[1], dtype=np.float64)
        return Prediction(values, proba, self.classes)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the session (Ray and process pools), which is rebuilt on arrival."""
        return {k: v for k, v in self.__dict__.items() if k != "session"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.session = open_session(self.model_bytes, self.threads)

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        """The graph's inputs from a frame: a column per input, or one float32 matrix."""
        tensors = self.schema.tensors
        if len(self.inputs) == 1 and len(tensors) == 1 and tensors[0].label in frame.columns:
            # A model logged with one tensor (fitted on a NumPy matrix): the frame carries
            # each row's array in the tensor's column, as requests bring it.
            matrix = np.asarray(model_input(frame, self.schema), dtype=np.float32)
            return {self.inputs[0][0]: matrix.reshape(len(frame), -1)}
        if len(self.inputs) == 1 and self.inputs[0][0] not in frame.columns:
            return {self.inputs[0][0]: frame.to_numpy(dtype=np.float32)}
        feeds = {}
        for name, kind in self.inputs:
            if name not in frame.columns:
                raise PredictionError(f"{self.ref} needs column '{name}'.")
            feeds[name] = _column(frame[name], kind).reshape(-1, 1)
        return feeds


def open_session(model: bytes, threads: int = 1) -> Any:
    """An ONNX Runtime session on the CPU."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise PredictionError(INSTALL) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def _column(series: pd.Series, kind: str) -> np.ndarray[Any, Any]:
    if kind == "tensor(string)":
        text = series.astype(object)
        return np.asarray(text.where(text.notna(), MISSING).map(str), dtype=object)
    dtype = NUMPY_TYPES.get(kind)
    if dtype is None:
        raise PredictionError(f"ONNX input type {kind} is not supported.")
    return series.to_numpy(dtype=dtype)
