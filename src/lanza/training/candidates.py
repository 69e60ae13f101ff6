"""The candidate models, ordered from simplest to most complex.

Order is what the simplest-adequate rule walks: when two candidates score within one
standard error, the one earlier in this list wins, because it is cheaper to run,
easier to explain and less likely to break. Every candidate is a scikit-learn
``Pipeline`` whose first step turns raw columns into numbers, so the registered model
takes the table as users have it.

Classification (regression twin in brackets):

 0. majority baseline            (mean baseline)
 1. logistic regression          (ridge regression)
 2. k-nearest neighbours         (same)
 3. linear SVM                   (linear SVR)
 4. RBF SVM                      (RBF SVR)           skipped above 20,000 rows
 5. decision tree                (same)
 6. random forest                (same)
 7. histogram gradient boosting  (same)
 8. XGBoost                      (same)              when xgboost is installed
 9. small MLP                    (same)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from lanza.training.data import Task, TrainingData
from lanza.training.features import ONE_HOT_MAX, DateParts, TextVectors

RBF_MAX_ROWS = 20_000
KNN_MAX_ROWS = 200_000


@dataclass(frozen=True)
class Candidate:
    """One kind of model lanza may train, with its place in the complexity order."""

    name: str
    complexity: int
    description: str
    build: Callable[[int], Any]
    max_rows: int | None = None
    requires: str | None = None
    value: float = 1.0
    """Prior worth, relative: how often this kind of model wins on tables like users'."""
    scaling: float = 1.0
    """How its cross-validation time grows with rows: time ∝ rows ** scaling."""

    def available(self) -> bool:
        """Whether the package it needs is installed."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def _xgb_classifier(seed: int) -> Any:
    """XGBoost behind a soft vote of one, which encodes the labels inside the model.

    XGBoost takes only the classes 0..n-1; scikit-learn's ``VotingClassifier`` fits its
    estimators on encoded labels and answers (and keys its probabilities) with the
    original ones, in pure scikit-learn types that load anywhere.
    """
    from xgboost import XGBClassifier

    booster = XGBClassifier(
        n_estimators=200, max_depth=4, learning_rate=0.1, random_state=seed, n_jobs=1, verbosity=0
    )
    return VotingClassifier([("xgboost", booster)], voting="soft", flatten_transform=False)


def _xgb_regressor(seed: int) -> Any:
    from xgboost import XGBRegressor

    return XGBRegressor(
        n_estimators=200, max_depth=4, learning_rate=0.1, random_state=seed, n_jobs=1, verbosity=0
    )


CLASSIFIERS: list[Candidate] = [
    Candidate(
        "majority_baseline",
        0,
        "predicts the class frequencies seen in training",
        lambda s: DummyClassifier(strategy="prior"),
    ),
    Candidate(
        "logistic_regression",
        1,
        "linear model on scaled features",
        lambda s: LogisticRegression(max_iter=2000, random_state=s),
    ),
    Candidate(
        "knn",
        2,
        "k-nearest neighbours (k=15, distance-weighted)",
        lambda s: KNeighborsClassifier(n_neighbors=15, weights="distance"),
        max_rows=KNN_MAX_ROWS,
    ),
    Candidate(
        "linear_svm", 3, "linear support vector machine", lambda s: LinearSVC(random_state=s)
    ),
    Candidate(
        "rbf_svm",
        4,
        "support vector machine with an RBF kernel",
        lambda s: SVC(kernel="rbf", random_state=s),
        max_rows=RBF_MAX_ROWS,
    ),
    Candidate(
        "decision_tree",
        5,
        "one decision tree (min 5 rows per leaf)",
        lambda s: DecisionTreeClassifier(min_samples_leaf=5, random_state=s),
    ),
    Candidate(
        "random_forest",
        6,
        "100 trees, bagged",
        lambda s: RandomForestClassifier(n_estimators=100, random_state=s, n_jobs=1),
    ),
    Candidate(
        "hist_gradient_boosting",
        7,
        "histogram gradient boosting",
        lambda s: HistGradientBoostingClassifier(random_state=s),
    ),
    Candidate("xgboost", 8, "XGBoost, 200 trees of depth 4", _xgb_classifier, requires="xgboost"),
    Candidate(
        "mlp",
        9,
        "small neural network (64, 32)",
        lambda s: MLPClassifier(
            hidden_layer_sizes=(64, 32), max_iter=300, early_stopping=True, random_state=s
        ),
    ),
]

REGRESSORS: list[Candidate] = [
    Candidate(
        "mean_baseline", 0, "predicts the training mean", lambda s: DummyRegressor(strategy="mean")
    ),
    Candidate("ridge_regression", 1, "linear model on scaled features", lambda s: Ridge(alpha=1.0)),
    Candidate(
        "knn",
        2,
        "k-nearest neighbours (k=15, distance-weighted)",
        lambda s: KNeighborsRegressor(n_neighbors=15, weights="distance"),
        max_rows=KNN_MAX_ROWS,
    ),
    Candidate(
        "linear_svr",
        3,
        "linear support vector regression",
        lambda s: LinearSVR(random_state=s, max_iter=5000),
    ),
    Candidate(
        "rbf_svr",
        4,
        "support vector regression with an RBF kernel",
        lambda s: SVR(kernel="rbf"),
        max_rows=RBF_MAX_ROWS,
    ),
    Candidate(
        "decision_tree",
        5,
        "one decision tree (min 5 rows per leaf)",
        lambda s: DecisionTreeRegressor(min_samples_leaf=5, random_state=s),
    ),
    Candidate(
        "random_forest",
        6,
        "100 trees, bagged",
        lambda s: RandomForestRegressor(n_estimators=100, random_state=s, n_jobs=1),
    ),
    Candidate(
        "hist_gradient_boosting",
        7,
        "histogram gradient boosting",
        lambda s: HistGradientBoostingRegressor(random_state=s),
    ),
    Candidate("xgboost", 8, "XGBoost, 200 trees of depth 4", _xgb_regressor, requires="xgboost"),
    Candidate(
        "mlp",
        9,
        "small neural network (64, 32)",
        lambda s: MLPRegressor(
            hidden_layer_sizes=(64, 32), max_iter=300, early_stopping=True, random_state=s
        ),
    ),
]


# (value, scaling) per name: the trainer orders by value per second under a time budget.
COSTS: dict[str, tuple[float, float]] = {
    "majority_baseline": (0.1, 0.5),
    "mean_baseline": (0.1, 0.5),
    "logistic_regression": (3.0, 1.0),
    "ridge_regression": (3.0, 1.0),
    "knn": (1.0, 1.6),
    "linear_svm": (1.0, 1.2),
    "linear_svr": (1.0, 1.2),
    "rbf_svm": (2.0, 2.0),
    "rbf_svr": (2.0, 2.0),
    "decision_tree": (1.0, 1.1),
    "random_forest": (3.0, 1.1),
    "hist_gradient_boosting": (5.0, 0.75),
    "xgboost": (4.0, 1.0),
    "mlp": (1.5, 1.0),
}
LARGE_TABLE = 10_000
"""Rows from which boosting is worth twice as much: it wins most large tabular problems."""


def candidates_for(task: Task, only: list[str] | None = None) -> list[Candidate]:
    """The candidates for a task in complexity order, optionally restricted by name."""
    pool = CLASSIFIERS if task == "classification" else REGRESSORS
    pool = [replace(c, value=COSTS[c.name][0], scaling=COSTS[c.name][1]) for c in pool]
    if only:
        return [c for c in pool if c.name in only]
    return pool


def worth(candidate: Candidate, rows: int) -> float:
    """The candidate's prior value on a table of ``rows`` rows."""
    boosting = candidate.name in ("hist_gradient_boosting", "xgboost")
    return candidate.value * (2.0 if boosting and rows >= LARGE_TABLE else 1.0)


def candidate_names(task: Task) -> list[str]:
    """Names users may pass to ``--candidates``."""
    return [c.name for c in candidates_for(task)]


def preprocessor(data: TrainingData) -> ColumnTransformer:
    """Raw columns to numbers, following the data's column plan.

    Numbers are imputed and scaled; categories imputed and one-hot encoded (rare ones
    pooled); categories with many values target-encoded (cross-fitted), so width stays
    small; dates split into parts; free text weighted by its most telling words.
    """
    plan = data.plan
    parts: list[tuple[str, Any, Any]] = [
        ("numeric", _numbers(), plan.numeric),
        ("categorical", _categories(), plan.categorical),
    ]
    if plan.high_cardinality:
        encode = TargetEncoder(random_state=0)
        parts.append(
            (
                "high_cardinality",
                Pipeline([("impute", _mode()), ("encode", encode)]),
                plan.high_cardinality,
            )
        )
    if plan.dates:
        parts.append(("dates", Pipeline([("parts", DateParts()), *_numbers().steps]), plan.dates))
    parts += [(f"text_{i}", TextVectors(), [c]) for i, c in enumerate(plan.text)]
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0)


def _numbers() -> Pipeline:
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])


def _mode() -> SimpleImputer:
    return SimpleImputer(strategy="most_frequent")


def _categories() -> Pipeline:
    encode = OneHotEncoder(
        handle_unknown="infrequent_if_exist", max_categories=ONE_HOT_MAX, sparse_output=False
    )
    return Pipeline([("impute", _mode()), ("encode", encode)])


def build_pipeline(candidate: Candidate, data: TrainingData, seed: int) -> Pipeline:
    """The candidate's estimator behind lanza's preprocessing."""
    return Pipeline([("prepare", preprocessor(data)), ("model", candidate.build(seed))])


def final_estimator(model: Any) -> Any:
    """The estimator that does the learning: a pipeline's last step, unwrapped from a vote."""
    steps = getattr(model, "steps", None)
    last = steps[-1][1] if steps else model
    if isinstance(last, VotingClassifier) and len(last.estimators) == 1:
        fitted = getattr(last, "estimators_", None)
        return fitted[0] if fitted else last.estimators[0][1]
    return last
