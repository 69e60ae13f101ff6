"""Quality estimated without labels, from a model's own outputs on the window.

Fitted once at training time on held-out (out-of-fold) predictions of the picked model
(the ones its cross-validation made), and registered with the version as
``monitoring/estimator.json`` (plus ``monitoring/loss.skops`` for regressors) in its
training run:

- Classifiers: an isotonic calibration of each class's probability (one-vs-rest). On a
  window, calibrated probabilities give the expected accuracy (mean confidence in the
  predicted class), macro F1 (expected true and false positives per class) and ROC AUC
  (each pair of rows weighted by the chance that one is positive and the other not),
  which is confidence-based performance estimation.
- Regressors: a loss model, gradient-boosted trees on the features and the prediction,
  fitted to each held-out row's absolute and squared error; their means on the window
  are the expected MAE and RMSE (direct loss estimation).

``baseline`` holds the same metrics realised on the held-out predictions: the training
score each estimate is compared with, metric for metric. Estimates hold under covariate
shift (the relation between features and target unchanged), not under concept shift.

scikit-learn's estimators are imported where a fit or an estimate needs them: the server
imports this module at start, and a model it serves may need none of them.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lanza.monitoring import quality

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger("lanza.monitoring")
FILE = "estimator.json"
LOSS_FILE = "loss.skops"
FOLDER = "monitoring"
MAX_ROWS = 20_000
FOLDS = 3
PREDICTION = "__prediction__"
# The loss model's trees run on one thread: OpenMP's threads spin, and on a busy machine
# two of them fitting a 3,000-row model took 30 s where one takes 1 s (measured).


@dataclass
class Estimator:
    """What a version needs to estimate its quality on unlabelled rows."""

    task: str
    baseline: dict[str, float]
    classes: list[str] = field(default_factory=list)
    calibration: list[tuple[list[float], list[float]]] = field(default_factory=list)
    loss: Any = None  # regressors: {"abs": model, "squared": model}
    rows: int = 0

    def save(self, folder: Path) -> None:
        """Write the estimator's files into ``folder``."""
        from lanza.runtime.serialization import dump_model

        folder.mkdir(parents=True, exist_ok=True)
        body = {
            "task": self.task,
            "baseline": self.baseline,
            "classes": self.classes,
            "calibration": self.calibration,
            "rows": self.rows,
        }
        (folder / FILE).write_text(json.dumps(body))
        if self.loss is not None:
            (folder / LOSS_FILE).write_bytes(dump_model(self.loss))

    @classmethod
    def load(cls, folder: Path) -> Estimator:
        """Read what ``save`` wrote (the loss model through lanza's trusted skops types)."""
        from lanza.runtime.serialization import load_model

        body = json.loads((folder / FILE).read_text())
        loss_path = folder / LOSS_FILE
        loss = load_model(loss_path.read_bytes()) if loss_path.exists() else None
        calibration = [(list(x), list(y)) for x, y in body.get("calibration", [])]
        return cls(body["task"], body["baseline"], body["classes"], calibration, loss, body["rows"])

    def estimate(
        self,
        features: pd.DataFrame,
        predictions: list[Any],
        probabilities: np.ndarray | None,
        classes: list[Any] | None,
    ) -> dict[str, float]:
        """Expected metrics on these rows (classifiers need their class probabilities)."""
        if self.task == "regression":
            return self._regression(features, predictions)
        if probabilities is None or classes is None:
            return {}
        order = [str(c) for c in classes]
        if sorted(order) != sorted(self.classes):
            return {}
        raw = probabilities[:, [order.index(c) for c in self.classes]]
        predicted = [str(p) for p in predictions]
        return expected_classification(raw, self.calibrate(raw), predicted, self.classes)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (rows sum to 1)."""
        if len(self.classes) == 2:
            x, y = self.calibration[0]
            positive = np.interp(raw[:, 1], x, y)
            return np.column_stack([1 - positive, positive])
        out = np.column_stack(
            [np.interp(raw[:, k], x, y) for k, (x, y) in enumerate(self.calibration)]
        )
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1), 1 / len(self.classes))

    def _regression(self, features: pd.DataFrame, predictions: list[Any]) -> dict[str, float]:
        if self.loss is None or not len(features):
            return {}
        from threadpoolctl import threadpool_limits

        frame = features.assign(**{PREDICTION: np.asarray(predictions, dtype=float)})
        with threadpool_limits(1):
            absolute = np.clip(self.loss["abs"].predict(frame), 0, None)
            squared = np.clip(self.loss["squared"].predict(frame), 0, None)
        return {"rmse": math.sqrt(float(np.mean(squared))), "mae": float(np.mean(absolute))}


def expected_classification(
    raw: np.ndarray, calibrated: np.ndarray, predicted: list[str], classes: list[str]
) -> dict[str, float]:
    """Expected accuracy, macro F1 and ROC AUC from calibrated probabilities."""
    index = {c: k for k, c in enumerate(classes)}
    picked = np.array([index.get(p, -1) for p in predicted])
    rows = np.arange(len(picked))
    hit = np.where(picked >= 0, calibrated[rows, np.clip(picked, 0, None)], 0.0)
    scores = {"accuracy": float(hit.mean())}
    f1s = []
    for k in range(len(classes)):
        chosen = picked == k
        tp = float(calibrated[chosen, k].sum())
        fp = float(chosen.sum()) - tp
        fn = float(calibrated[~chosen, k].sum())
        if tp + fp + fn > 1e-9:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    scores["f1"] = float(np.mean(f1s)) if f1s else 0.0
    if len(classes) == 2:
        auc = _expected_auc(raw[:, 1], calibrated[:, 1])
    else:
        aucs = [_expected_auc(raw[:, k], calibrated[:, k]) for k in range(len(classes))]
        known = [a for a in aucs if a is not None]
        auc = float(np.mean(known)) if len(known) == len(aucs) else None
    if auc is not None:
        scores["roc_auc"] = auc
    return scores


def _expected_auc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """Expected AUC: pairs ranked by ``score``, weighted by P(i positive) P(j negative)."""
    negative = 1.0 - positive
    order = np.argsort(score, kind="stable")
    s, pos, neg = score[order], positive[order], negative[order]
    # negatives' weight strictly below each row's score, and tied with it
    starts = np.searchsorted(s, s, side="left")
    ends = np.searchsorted(s, s, side="right")
    cum_neg = np.concatenate([[0.0], np.cumsum(neg)])
    below = cum_neg[starts]
    tied = cum_neg[ends] - cum_neg[starts] - neg  # other rows with the same score
    wins = float(np.sum(pos * (below + 0.5 * tied)))
    pairs = float(pos.sum() * neg.sum() - np.sum(pos * neg))
    return wins / pairs if pairs > 1e-9 else None


def fit_and_save(
    model: Any,
    features: pd.DataFrame,
    target: pd.Series,
    task: str,
    folder: Path,
    held_out: np.ndarray | None = None,
) -> bool:
    """The training-side hook: fit the estimator and save it; False (logged) if it fails.

    ``held_out`` is the model's out-of-fold output on every row when training already
    has it (class probabilities, or predictions for a regressor): then no fit of the
    model is repeated. A model whose quality cannot be estimated still trains and
    serves; its monitoring then says that no estimate is available.
    """
    try:
        fit(model, features, target, task, held_out=held_out).save(folder)
    except Exception:
        log.warning("no performance estimator for this model", exc_info=True)
        return False
    return True


def fit(
    model: Any,
    features: pd.DataFrame,
    target: pd.Series,
    task: str,
    seed: int = 0,
    held_out: np.ndarray | None = None,
) -> Estimator:
    """The estimator on held-out outputs of ``model``: given, or from ``FOLDS`` folds.

    At most ``MAX_ROWS`` rows, so the cost stays a few fits of the picked model on a
    sample (none when ``held_out`` is given).
    """
    if len(features) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(features), MAX_ROWS, replace=False))
        features, target = features.iloc[rows], target.iloc[rows]
        held_out = None if held_out is None else held_out[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if held_out is None:
            from sklearn.base import clone
            from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

            folds = (KFold if task == "regression" else StratifiedKFold)(
                FOLDS, shuffle=True, random_state=seed
            )
            method = "predict" if task == "regression" else "predict_proba"
            held_out = cross_val_predict(clone(model), features, target, cv=folds, method=method)
        if task == "regression":
            return _fit_regression(held_out, features, target, seed)
        return _fit_classification(held_out, target)


def _fit_classification(raw: np.ndarray, target: pd.Series) -> Estimator:
    from sklearn.isotonic import IsotonicRegression

    classes = [str(c) for c in np.unique(target)]  # the column order of predict_proba
    truth = target.astype(str).to_numpy()
    calibration = []
    for k, label in enumerate(classes[1:] if len(classes) == 2 else classes):
        column = k + 1 if len(classes) == 2 else k
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(raw[:, column], (truth == label).astype(float))
        calibration.append((iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist()))
    predicted = [classes[k] for k in raw.argmax(axis=1)]
    baseline = quality.classification(list(truth), predicted, raw.tolist(), classes)
    return Estimator("classification", baseline, classes, calibration, None, len(truth))


def _fit_regression(
    predicted: np.ndarray, features: pd.DataFrame, target: pd.Series, seed: int
) -> Estimator:
    truth = target.to_numpy(float)
    from threadpoolctl import threadpool_limits

    error = truth - predicted
    frame = features.assign(**{PREDICTION: predicted})
    with threadpool_limits(1):
        loss = {
            "abs": _loss_model(frame, seed).fit(frame, np.abs(error)),
            "squared": _loss_model(frame, seed).fit(frame, error**2),
        }
    baseline = quality.regression(list(truth), list(predicted))
    return Estimator("regression", baseline, [], [], loss, len(truth))


def _loss_model(frame: pd.DataFrame, seed: int) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    other = [c for c in frame.columns if c not in numeric]
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            (
                "categories",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                    dtype=float,
                ),
                other,
            ),
        ]
    )
    trees = HistGradientBoostingRegressor(max_iter=100, random_state=seed)
    return Pipeline([("encode", encode), ("trees", trees)])
