"""Linear pipelines as a few NumPy operations: the same answers without scikit-learn's
per-call checks.

A fitted scikit-learn pipeline pays, on every ``predict``, for input validation, feature
name checks, output-container wrapping and tag lookups in each step: for a linear model on
a handful of rows that is several times the arithmetic. ``compile_linear`` turns a pipeline
of numeric steps lanza's trainer builds (``SimpleImputer``, ``StandardScaler``, then a
linear classifier or regressor) into the same arithmetic on a float64 array, in the same
order of operations. It answers ``None`` for anything else. The caller uses the result only
after checking that it gives the model's own answers on probe rows
(``lanza.runtime.flavours.numeric_path``), so a step this module misreads costs speed,
never a wrong prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class _Fill:
    """``SimpleImputer`` on NaN: each column's missing values become its statistic."""

    values: Array

    def __call__(self, x: Array) -> Array:
        missing = np.isnan(x)
        return np.where(missing, self.values, x) if missing.any() else x


@dataclass(frozen=True)
class _Scale:
    """``StandardScaler``: the training mean taken away, then divided by the scale."""

    mean: Array | None
    scale: Array | None

    def __call__(self, x: Array) -> Array:
        if self.mean is not None:
            x = x - self.mean
        if self.scale is not None:
            x = x / self.scale
        return x


@dataclass(frozen=True)
class CompiledLinear:
    """Numeric steps, then a linear model's scores, as ``predict``/``predict_proba``."""

    steps: tuple[_Fill | _Scale, ...]
    coef: Array  # the model's own ``coef_`` (1-D for one output of a regressor)
    intercept: Array | float  # its ``intercept_``
    classes: Array | None  # a classifier's labels; None for a regressor
    logistic: bool  # probabilities by the logistic function (LogisticRegression)

    def _scores(self, x: Array) -> Array:
        for step in self.steps:
            x = step(x)
        scores = np.asarray(x @ self.coef.T + self.intercept)  # scikit-learn's own product
        return scores.reshape(-1, 1) if scores.ndim == 1 else scores

    def predict(self, x: Array) -> Array:
        """Class labels (by the sign of a binary score, else the highest), or values."""
        scores = self._scores(x)
        if self.classes is None:
            return scores.ravel() if scores.shape[1] == 1 else scores
        if scores.shape[1] == 1:
            return np.asarray(self.classes[(scores.ravel() > 0).astype(int)])
        return np.asarray(self.classes[scores.argmax(axis=1)])

    def predict_proba(self, x: Array) -> Array:
        """Class probabilities as ``LogisticRegression`` gives them: the logistic function
        of a binary score, the softmax of several."""
        if not self.logistic:
            raise AttributeError("This model gives no probabilities.")
        scores = self._scores(x)
        if scores.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-scores.ravel()))
            return np.vstack([1 - positive, positive]).T
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def compile_linear(model: Any) -> CompiledLinear | None:
    """The pipeline's arithmetic, when every step is one this module knows; else None."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    flat = _flatten(model, Pipeline)
    if not flat:
        return None
    *transforms, last = flat
    steps: list[_Fill | _Scale] = []
    for step in transforms:
        if isinstance(step, SimpleImputer):
            statistics = np.asarray(getattr(step, "statistics_", None), dtype="float64")
            if (
                step.add_indicator
                or not _is_nan(step.missing_values)
                or statistics.ndim != 1
                or np.isnan(statistics).any()  # an all-missing column is dropped
            ):
                return None
            steps.append(_Fill(statistics))
        elif isinstance(step, StandardScaler):
            mean = getattr(step, "mean_", None) if step.with_mean else None
            scale = getattr(step, "scale_", None) if step.with_std else None
            steps.append(_Scale(_floats(mean), _floats(scale)))
        else:
            return None
    if type(last) is LogisticRegression:
        return _linear(steps, last, np.asarray(last.classes_), logistic=True)
    if type(last) in (LinearRegression, Ridge):
        return _linear(steps, last, None, logistic=False)
    return None


def _linear(
    steps: list[_Fill | _Scale], model: Any, classes: Array | None, logistic: bool
) -> CompiledLinear | None:
    coef = np.asarray(model.coef_)
    if coef.dtype != np.float64 or coef.ndim not in (1, 2):
        return None
    return CompiledLinear(tuple(steps), coef, model.intercept_, classes, logistic)


def _flatten(model: Any, pipeline: type[Any]) -> list[Any]:
    """The estimators of nested pipelines, in order ("passthrough" steps left out)."""
    if not isinstance(model, pipeline):
        return [model]
    out: list[Any] = []
    for _, step in model.steps:
        if step is None or step == "passthrough":
            continue
        out.extend(_flatten(step, pipeline))
    return out


def _floats(values: Any) -> Array | None:
    return None if values is None else np.asarray(values, dtype="float64")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)
