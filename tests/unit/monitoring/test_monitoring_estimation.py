"""Performance estimation: expected metrics, the saved estimator, the regression loss model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

from lanza.monitoring import estimation, quality
from lanza.monitoring.estimation import Estimator, _expected_auc, expected_classification


def test_expected_metrics_equal_realised_ones_when_probabilities_are_certain() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 500)
    score = truth * 0.3 + rng.random(500)
    certain = truth.astype(float)  # "calibrated" probabilities that know the label
    assert _expected_auc(score, certain) == pytest.approx(roc_auc_score(truth, score))
    raw = np.column_stack([1 - score / 2, score / 2])
    predicted = ["1" if s > 0.65 else "0" for s in score]
    got = expected_classification(raw, np.column_stack([1 - certain, certain]), predicted,
                                  ["0", "1"])  # fmt: skip
    real = quality.classification([str(t) for t in truth], predicted)
    assert got["accuracy"] == pytest.approx(real["accuracy"])
    assert got["f1"] == pytest.approx(real["f1"])


def _logistic(rng: np.random.Generator, rows: int, scale: float) -> tuple[pd.DataFrame, pd.Series]:
    x = pd.DataFrame(rng.normal(0, scale, (rows, 3)), columns=["a", "b", "c"])
    p = 1 / (1 + np.exp(-(2 * x.a - x.b)))
    return x, pd.Series(np.where(rng.random(rows) < p, "yes", "no"))


def test_classifier_estimate_follows_a_shift_and_survives_a_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x, y = _logistic(rng, 3000, 1.0)
    fitted = Estimator.load(_saved(LogisticRegression(), x, y, "classification", tmp_path))
    assert fitted.baseline["accuracy"] > 0.75
    model = LogisticRegression().fit(x, y)
    shifted, truth = _logistic(rng, 20_000, 0.3)
    probabilities = model.predict_proba(shifted)
    predicted = list(model.predict(shifted))
    got = fitted.estimate(shifted, predicted, probabilities, list(model.classes_))
    real = quality.classification(list(truth), predicted)
    assert fitted.baseline["accuracy"] - real["accuracy"] > 0.1
    assert got["accuracy"] == pytest.approx(real["accuracy"], abs=0.03)
    assert fitted.estimate(shifted, predicted, None, None) == {}


def test_regression_loss_model_sees_rows_where_the_model_errs_more(tmp_path: Path) -> None:
    """The window keeps rows where |b| is large, within training's range: errors grow."""
    rng = np.random.default_rng(2)

    def draw(rows: int) -> tuple[pd.DataFrame, pd.Series]:
        x = pd.DataFrame({"a": rng.normal(0, 1, rows), "b": rng.normal(0, 1, rows)})
        return x, 2 * x.a + rng.normal(0, 1, rows) * (1 + 2 * np.abs(x.b))

    x, y = draw(3000)
    fitted = Estimator.load(_saved(Ridge(), x, y, "regression", tmp_path))
    model = Ridge().fit(x, y)
    window, truth = draw(20_000)
    kept = (window.b.abs() > 1.0).to_numpy()
    window, truth = window[kept], truth[kept]
    predicted = model.predict(window)
    got = fitted.estimate(window, list(predicted), None, None)
    real = quality.regression(list(truth), list(predicted))
    assert real["mae"] > 1.4 * fitted.baseline["mae"]  # the shift costs accuracy
    assert got["mae"] == pytest.approx(real["mae"], rel=0.1)
    assert got["rmse"] == pytest.approx(real["rmse"], rel=0.1)


def _saved(model: object, x: pd.DataFrame, y: pd.Series, task: str, folder: Path) -> Path:
    assert estimation.fit_and_save(model, x, y, task, folder)
    return folder


def test_a_model_that_cannot_be_estimated_is_reported_not_raised(tmp_path: Path) -> None:
    x = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0]})  # Ridge refuses missing values
    y = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert estimation.fit_and_save(Ridge(), x, y, "regression", tmp_path) is False
