"""Metrics users may pick with ``--metric``, in their natural sign."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sklearn.metrics import (
    average_precision_score,
    f1_score,
    get_scorer,
    make_scorer,
    precision_score,
    recall_score,
)

from lanza.errors import InvalidInputError
from lanza.training.data import Task


@dataclass(frozen=True)
class Metric:
    """A metric: its name, the sklearn scorer behind it, and which way is better."""

    name: str
    scorer: str
    greater_is_better: bool
    tasks: tuple[Task, ...]
    positive: Any = None
    """The class a binary metric counts as positive (None: scikit-learn's default)."""

    def scoring(self) -> Any:
        """The scorer for ``cross_validate``: by name, or built for the positive class."""
        if self.positive is None or self.name not in POSITIVE_SCORERS:
            return get_scorer(self.scorer)
        score, response = POSITIVE_SCORERS[self.name]
        return make_scorer(score, response_method=response, pos_label=self.positive)

    def natural(self, score: float) -> float:
        """sklearn's scorers negate losses; undo that for display."""
        return score if self.greater_is_better else -score

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` beats ``b``."""
        return a > b if self.greater_is_better else a < b


_C: tuple[Task, ...] = ("classification",)
_R: tuple[Task, ...] = ("regression",)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", "roc_auc", True, _C),
        Metric("roc_auc_ovr", "roc_auc_ovr", True, _C),
        Metric("accuracy", "accuracy", True, _C),
        Metric("balanced_accuracy", "balanced_accuracy", True, _C),
        Metric("f1", "f1", True, _C),
        Metric("f1_macro", "f1_macro", True, _C),
        Metric("f1_weighted", "f1_weighted", True, _C),
        Metric("precision", "precision", True, _C),
        Metric("recall", "recall", True, _C),
        Metric("average_precision", "average_precision", True, _C),
        Metric("log_loss", "neg_log_loss", False, _C),
        Metric("rmse", "neg_root_mean_squared_error", False, _R),
        Metric("mae", "neg_mean_absolute_error", False, _R),
        Metric("mape", "neg_mean_absolute_percentage_error", False, _R),
        Metric("r2", "r2", True, _R),
    ]
}
BINARY_ONLY = {"roc_auc", "f1", "precision", "recall", "average_precision"}
POSITIVE_SCORERS: dict[str, tuple[Any, Any]] = {
    "f1": (f1_score, "predict"),
    "precision": (precision_score, "predict"),
    "recall": (recall_score, "predict"),
    "average_precision": (average_precision_score, ("decision_function", "predict_proba")),
}


def default_metric(task: Task, n_classes: int, imbalanced: bool = False) -> str:
    """ROC AUC for binary (average precision when imbalanced), macro F1 for multiclass, RMSE.

    On imbalanced binary data ROC AUC flatters a model by its easy negatives; average
    precision scores how well it finds the rare class.
    """
    if task == "regression":
        return "rmse"
    if n_classes == 2:
        return "average_precision" if imbalanced else "roc_auc"
    return "f1_macro"


def resolve_metric(
    name: str | None,
    task: Task,
    n_classes: int,
    imbalanced: bool = False,
    positive: Any = None,
) -> Metric:
    """The metric to optimise, checked against the task, with the positive class when binary."""
    name = name or default_metric(task, n_classes, imbalanced)
    metric = METRICS.get(name.lower())
    if metric is None:
        known = ", ".join(sorted(m for m in METRICS if task in METRICS[m].tasks))
        raise InvalidInputError(f"Unknown metric '{name}'; for {task} use one of: {known}.")
    if task not in metric.tasks:
        raise InvalidInputError(f"The metric '{name}' does not apply to {task}.")
    if metric.name in BINARY_ONLY and n_classes > 2:
        raise InvalidInputError(
            f"The metric '{name}' needs two classes but the target has {n_classes}; "
            f"try {name}_macro or roc_auc_ovr."
            if metric.name in ("f1",)
            else f"The metric '{name}' needs two classes but the target has {n_classes}."
        )
    if n_classes == 2 and positive is not None:
        return replace(metric, positive=positive)
    return metric
