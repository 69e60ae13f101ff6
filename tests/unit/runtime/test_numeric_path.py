"""A numeric pipeline predicts past its column step with the same answers; others do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lanza.runtime.flavours import numeric_path
from lanza.runtime.schema import Column, InputSchema

NAMES = ["a", "b", "c"]


def _fitted(numeric: list[str], categorical: list[str], frame: pd.DataFrame) -> Pipeline:
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    words = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("encode", OneHotEncoder())]
    )
    prepare = ColumnTransformer(
        [("numeric", numbers, numeric), ("categorical", words, categorical)],
        remainder="drop",
        sparse_threshold=0,
    )
    model = Pipeline([("prepare", prepare), ("model", LogisticRegression())])
    target = (frame["a"] + frame["b"] > 0).astype(int)
    return model.fit(frame, target)


def test_a_numeric_pipeline_gives_the_same_answers_on_arrays() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=NAMES)
    model = _fitted(NAMES, [], frame)
    schema = InputSchema(tuple(Column(n, "double") for n in NAMES))
    direct = numeric_path(model, schema)
    assert direct is not None
    probe = rng.normal(size=(50, 3))
    probe[::7, 1] = np.nan
    expected = model.predict(pd.DataFrame(probe, columns=NAMES))
    assert np.array_equal(direct.predict(probe), expected)
    assert np.allclose(
        direct.predict_proba(probe), model.predict_proba(pd.DataFrame(probe, columns=NAMES))
    )
    assert hasattr(model.steps[0][1].transformers_[0][1], "feature_names_in_")  # untouched


def test_a_pipeline_with_text_columns_or_another_order_keeps_its_frames() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(100, 3)), columns=NAMES).assign(d=["x", "y"] * 50)
    with_text = _fitted(NAMES, ["d"], frame)
    schema = InputSchema((*(Column(n, "double") for n in NAMES), Column("d", "string")))
    assert numeric_path(with_text, schema) is None
    reordered = _fitted(["c", "a", "b"], [], frame[NAMES])
    assert numeric_path(reordered, InputSchema(tuple(Column(n, "double") for n in NAMES))) is None
