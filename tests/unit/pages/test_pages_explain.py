"""Per-prediction explanations: exact for linear pipelines, occlusion otherwise, budgeted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from lanza.pages.explain import explain
from lanza.runtime.flavours import SklearnRuntime
from lanza.runtime.schema import Column, InputSchema
from lanza.training.candidates import preprocessor
from lanza.training.data import prepare

SCHEMA = InputSchema((Column("a", "double"), Column("b", "double"), Column("color", "string")))
BASELINE = {"a": 0.0, "b": 0.0, "color": "red"}
ROW = {"a": 2.0, "b": -1.0, "color": "blue"}


class Runtime(SklearnRuntime):
    """A fitted pipeline behind lanza's scikit-learn runtime, without a file to load."""

    def __init__(self, model: Any) -> None:
        super().__init__("m", "1", model, SCHEMA)


def _fitted(estimator: Any, target: str) -> Pipeline:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "b": rng.normal(size=200),
            "color": rng.choice(["red", "blue", "green"], 200),
        }
    )
    signal = 2 * frame["a"] - frame["b"] + (frame["color"] == "blue") * 1.5
    frame["y"] = (signal > 0).astype(int) if target == "class" else signal
    data = prepare(frame, "y", "classification" if target == "class" else "regression", 3)
    model = Pipeline([("prepare", preprocessor(data)), ("model", estimator)])
    return model.fit(data.features, data.target)


def test_a_linear_classifier_is_explained_in_points_of_probability() -> None:
    model = _fitted(LogisticRegression(), "class")
    runtime = Runtime(model)
    predicted = runtime.predict_frame(pd.DataFrame([ROW])).to_list()[0]
    explained = explain(runtime, ROW, predicted, BASELINE)
    assert explained.method == "occlusion"
    assert explained.unit == f"points of probability of {predicted}"
    k = list(model.classes_).index(predicted)
    proba = model.predict_proba(pd.DataFrame([ROW, {**ROW, "a": BASELINE["a"]}]))
    a = next(c for c in explained.contributions if c.feature == "a")
    assert a.effect == pytest.approx(100 * (proba[0, k] - proba[1, k]))
    effects = [abs(c.effect) for c in explained.contributions]
    assert effects == sorted(effects, reverse=True)
    assert explained.contributions[0].feature == "a"


def test_linear_regressor_effects_add_up_to_the_prediction_change() -> None:
    model = _fitted(Ridge(), "value")
    runtime = Runtime(model)
    values = model.predict(pd.DataFrame([ROW, BASELINE]))
    explained = explain(runtime, ROW, float(values[0]), BASELINE, target="price")
    assert explained.method == "coefficients"
    assert explained.unit == "price"  # effects in the target's own units
    assert sum(c.effect for c in explained.contributions) == pytest.approx(values[0] - values[1])
    color = next(c for c in explained.contributions if c.feature == "color")
    assert (color.value, color.baseline) == ("blue", "red")


def test_other_models_are_explained_by_occlusion_within_the_budget() -> None:
    runtime = Runtime(_fitted(RandomForestClassifier(n_estimators=20, random_state=0), "class"))
    predicted = runtime.predict_frame(pd.DataFrame([ROW])).to_list()[0]
    explained = explain(runtime, ROW, predicted, BASELINE)
    assert explained.method == "occlusion"
    assert explained.unit == f"points of probability of {predicted}"
    assert {c.feature for c in explained.contributions} == {"a", "b", "color"}
    assert explained.partial is False
    occluded = {**ROW, "a": 0.0}
    proba = runtime.predict_frame(pd.DataFrame([ROW, occluded]), probabilities=True)
    k = runtime.classes.index(predicted)  # type: ignore[union-attr]
    a = next(c for c in explained.contributions if c.feature == "a")
    points = 100 * (proba.probabilities[0, k] - proba.probabilities[1, k])  # type: ignore[index]
    assert a.effect == pytest.approx(points)
    spent = explain(runtime, ROW, predicted, BASELINE, budget_s=0.0)
    assert spent.partial is True
    assert spent.contributions == []


def test_without_a_reference_there_is_nothing_to_compare_with() -> None:
    runtime = Runtime(_fitted(LogisticRegression(), "class"))
    assert explain(runtime, ROW, 1, {}).method == "none"
