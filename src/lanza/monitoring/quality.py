"""Live quality: predictions that received ground truth, scored like training scored them.

Classification: accuracy, macro F1, and ROC AUC when probabilities were logged.
Regression: RMSE and MAE.

``sklearn.metrics`` is imported when a score is computed, not with this module: it costs
a second of a server's start, and the server imports this module before any feedback.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def classification(
    truth: list[Any],
    predicted: list[Any],
    probabilities: list[list[float]] | None = None,
    classes: list[Any] | None = None,
) -> dict[str, float]:
    """Accuracy and macro F1 (labels compared as text), plus ROC AUC when it can be scored."""
    from sklearn.metrics import accuracy_score, f1_score

    y_true = [str(v) for v in truth]
    y_pred = [str(v) for v in predicted]
    scores = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    auc = _roc_auc(y_true, probabilities, classes)
    if auc is not None:
        scores["roc_auc"] = auc
    return scores


def regression(truth: list[Any], predicted: list[Any]) -> dict[str, float]:
    """Root mean squared error and mean absolute error."""
    from sklearn.metrics import mean_absolute_error

    y_true = np.asarray(truth, dtype=float)
    y_pred = np.asarray(predicted, dtype=float)
    return {
        "rmse": math.sqrt(float(np.mean((y_true - y_pred) ** 2))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
    }


def _roc_auc(
    y_true: list[str], probabilities: list[list[float]] | None, classes: list[Any] | None
) -> float | None:
    from sklearn.metrics import roc_auc_score

    if probabilities is None or classes is None or len(probabilities) != len(y_true):
        return None
    labels = [str(c) for c in classes]
    if len(set(y_true)) < 2 or not set(y_true) <= set(labels):
        return None
    matrix = np.asarray(probabilities, dtype=float)
    if len(labels) == 2:
        positive = [1 if v == labels[1] else 0 for v in y_true]
        return float(roc_auc_score(positive, matrix[:, 1]))
    if len(set(y_true)) != len(labels):
        return None
    return float(roc_auc_score(y_true, matrix, multi_class="ovr", labels=labels))
