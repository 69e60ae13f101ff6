"""Pyfunc models of the MLflow conformance corpus: params, datetimes and each output shape.

They live in an importable module so MLflow pickles them by reference, and both
``mlflow models serve`` and lanza load the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class ScaledFrame(PythonModel):  # type: ignore[misc]
    """Returns a DataFrame; its values depend on the ``scale``, ``label`` and ``k`` params."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        scale = float(params.get("scale", 1.0))
        k = int(params.get("k", 1))
        total = model_input["x"].astype(float) * scale + k
        label = str(params.get("label", "none"))
        return pd.DataFrame({"total": total, "label": [label] * len(model_input)})


class DayOfYear(PythonModel):  # type: ignore[misc]
    """Takes a datetime column; returns a named Series (``mlflow models serve`` answers records)."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.Series:
        when = pd.to_datetime(model_input["when"])
        days = when.dt.dayofyear.astype("int64") + model_input["n"].astype("int64")
        return pd.Series(days.to_numpy(), name="day")


class Columns(PythonModel):  # type: ignore[misc]
    """Returns a dict of columns."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        x = model_input["x"].astype(float).to_numpy()
        return {"double": (x * 2).tolist(), "square": np.square(x).tolist()}
