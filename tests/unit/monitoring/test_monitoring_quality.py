"""Live quality figures against hand-computed values."""

from __future__ import annotations

import math

import pytest

from lanza.monitoring.quality import classification, regression


def test_classification_scores() -> None:
    truth = [1, 0, 1, 1]
    predicted = [1, 0, 0, 1]
    probabilities = [[0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]
    scores = classification(truth, predicted, probabilities, [0, 1])
    assert scores["accuracy"] == 0.75
    assert scores["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert scores["roc_auc"] == 1.0


def test_roc_auc_left_out_without_probabilities_or_with_one_class() -> None:
    assert "roc_auc" not in classification(["a", "b"], ["a", "a"])
    assert "roc_auc" not in classification([1, 1], [1, 1], [[0.1, 0.9]] * 2, [0, 1])


def test_regression_scores() -> None:
    scores = regression([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert scores["mae"] == pytest.approx(2 / 3)
    assert scores["rmse"] == pytest.approx(math.sqrt(4 / 3))
