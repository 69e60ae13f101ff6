"""One model interface, async-first; flavours implement the synchronous core.

Serving, batch jobs and every HTTP face reach a model through this interface, so
validation, batching and device placement wrap it rather than live inside it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from lanza.runtime.schema import InputSchema

Layout = Literal["array", "records", "columns"]


@dataclass
class Prediction:
    """Model outputs for a frame: one prediction per row, and class probabilities if known.

    ``layout`` and ``names`` keep what a pyfunc model returned, so the MLflow face answers
    as ``mlflow models serve`` does: ``records`` for a DataFrame or a named Series (one
    name per column of ``values``), ``columns`` for a dict of arrays, ``array`` otherwise.
    """

    values: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, Any] | None = None
    classes: list[Any] | None = field(default=None)
    layout: Layout = "array"
    names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def slice(self, start: int, stop: int) -> Prediction:
        """The outputs for rows ``start:stop``."""
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        return Prediction(
            self.values[start:stop], probabilities, self.classes, self.layout, self.names
        )

    def to_list(self) -> list[Any]:
        """Predictions as JSON-ready Python values."""
        return [_plain(v) for v in self.values.tolist()]

    def to_mlflow(self) -> Any:
        """Predictions in the shape ``mlflow models serve`` gives them."""
        rows = self.to_list()
        if self.layout == "array" or not self.names:
            return rows
        names = self.names
        if self.values.ndim == 1:
            rows = [[v] for v in rows]
        if self.layout == "records":
            return [dict(zip(names, row, strict=False)) for row in rows]
        return {name: [row[i] for row in rows] for i, name in enumerate(names)}


class ModelRuntime(ABC):
    """A loaded model version that can predict on a validated frame."""

    name: str = ""
    version: str = ""
    schema: InputSchema
    device: str = "cpu"
    # numpy dtype name of the predictions when known before any (metadata describes it)
    output_dtype: str | None = None
    # whether ``predict_block`` takes all-numeric rows as one array, sparing a DataFrame
    takes_block: bool = False

    @abstractmethod
    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        """Predict synchronously on a frame already validated against ``schema``."""

    def predict_block(self, block: np.ndarray[Any, Any], probabilities: bool = False) -> Prediction:
        """Predict on float64 rows whose columns are the schema's, in order (only when
        ``takes_block``)."""
        raise NotImplementedError(f"{self.ref} takes frames only.")

    def predict_tensors(
        self, columns: dict[str, list[Any]], probabilities: bool = False
    ) -> Prediction:
        """Predict on validated rows per tensor of a tensor signature (``schema.tensors``).

        Runtimes that take the arrays straight (``lanza.runtime.tensors.tensor_input``)
        override it; the others get the frame they always had.
        """
        return self.predict_frame(pd.DataFrame(columns), probabilities)

    def predict_with_params(
        self, frame: pd.DataFrame, probabilities: bool, params: dict[str, Any]
    ) -> Prediction:
        """Predict with inference params (checked against the params schema already); only
        pyfunc models take them, others ignore them as MLflow's own flavours do."""
        return self.predict_frame(frame, probabilities)

    def unload(self) -> None:  # noqa: B027 - most runtimes hold nothing to release
        """Release what the model holds (memory, devices)."""

    @property
    def ready(self) -> bool:
        """Whether the model can answer."""
        return True

    @property
    def ref(self) -> str:
        """``NAME/VERSION``."""
        return f"{self.name}/{self.version}"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):  # NaN is not JSON
        return None
    return value
