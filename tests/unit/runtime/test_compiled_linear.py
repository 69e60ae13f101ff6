"""Linear pipelines compiled to NumPy give scikit-learn's own answers, or are not compiled."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from lanza.runtime.compiled import CompiledLinear, compile_linear
from lanza.runtime.flavours import SklearnRuntime
from lanza.runtime.schema import Column, InputSchema, TensorSpec


def _with_gaps(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    x = x.astype("float64").copy()
    x[::7, 0] = np.nan
    x[3::11, -1] = np.nan
    return x


def _binary() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x, y = load_wine(return_X_y=True)
    return x, np.where(y == 0, "first", "other")


@pytest.mark.parametrize(
    ("data", "estimator"),
    [
        (_binary, LogisticRegression(max_iter=2000)),
        (lambda: load_iris(return_X_y=True), LogisticRegression(max_iter=2000)),
        (lambda: load_diabetes(return_X_y=True), Ridge()),
        (lambda: load_diabetes(return_X_y=True), LinearRegression()),
    ],
)
@pytest.mark.parametrize("strategy", ["median", "mean"])
def test_compiled_answers_are_scikit_learns(data: Any, estimator: Any, strategy: str) -> None:
    x, y = data()
    x = _with_gaps(x)
    model = make_pipeline(SimpleImputer(strategy=strategy), StandardScaler(), estimator)
    model.fit(x, y)
    compiled = compile_linear(model)
    assert isinstance(compiled, CompiledLinear)
    if hasattr(estimator, "classes_"):
        assert np.array_equal(compiled.predict(x), model.predict(x))
        assert np.allclose(compiled.predict_proba(x), model.predict_proba(x), rtol=1e-9)
    else:
        assert np.allclose(compiled.predict(x), model.predict(x), rtol=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        make_pipeline(SimpleImputer(add_indicator=True), LogisticRegression()),
        make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3)),
        make_pipeline(SimpleImputer(missing_values=-1.0), LogisticRegression()),
    ],
)
def test_other_pipelines_are_not_compiled(model: Any) -> None:
    x, y = _binary()
    model.fit(x, y)
    assert compile_linear(model) is None


def test_lanzas_numeric_pipeline_serves_through_the_compiled_path() -> None:
    """The shape lanza's trainer builds: a column step routing every column to one numeric
    pipeline, then the model. The runtime predicts on NumPy arithmetic, with the same
    answers as the pipeline on a frame."""
    x, y = _binary()
    names = [f"c{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(_with_gaps(x), columns=names)
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    model = Pipeline(
        [
            ("prepare", ColumnTransformer([("numeric", numeric, names)], sparse_threshold=0)),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    ).fit(frame, y)
    schema = InputSchema(tuple(Column(n, "double") for n in names))
    runtime = SklearnRuntime("wine", "1", model, schema)
    assert isinstance(runtime.direct, CompiledLinear)
    got = runtime.predict_frame(frame, probabilities=True)
    assert got.values.tolist() == model.predict(frame).tolist()
    assert got.probabilities is not None
    assert np.allclose(got.probabilities, model.predict_proba(frame), rtol=1e-9)


def test_a_tensor_signature_model_serves_through_the_compiled_path() -> None:
    """A plain logistic regression logged with a numpy example (one float64 tensor of rows)
    predicts from arrays by the same arithmetic, with scikit-learn's answers."""
    x, y = _binary()
    model = LogisticRegression(max_iter=5000).fit(x, y)
    schema = InputSchema((), (TensorSpec(None, "float64", (-1, x.shape[1])),))
    runtime = SklearnRuntime("wine", "1", model, schema)
    assert isinstance(runtime.tensor_path, CompiledLinear)
    got = runtime.predict_tensors({"input": x.tolist()}, probabilities=True)
    assert got.values.tolist() == model.predict(x).tolist()
    assert got.probabilities is not None
    assert np.allclose(got.probabilities, model.predict_proba(x), rtol=1e-9)


def test_a_float32_tensor_keeps_scikit_learns_own_path() -> None:
    x, y = _binary()
    model = LogisticRegression(max_iter=5000).fit(x.astype("float32"), y)
    schema = InputSchema((), (TensorSpec(None, "float32", (-1, x.shape[1])),))
    assert SklearnRuntime("wine", "1", model, schema).tensor_path is None
