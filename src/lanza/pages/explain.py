"""Which inputs pushed one prediction most, computed within a latency budget.

Linear scikit-learn pipelines are explained exactly from their coefficients: each
input's effect is its coefficients times how far its transformed value is from the
transformed typical row (median or most frequent value of the reference sample), in
the model's own units (log-odds for classifiers). Any other model is explained by
occlusion: each input in turn is set to its typical value and the change in the
predicted class's probability (or the predicted value) is its effect. Occluded rows
are scored in batches of ``CHUNK`` (one model call for most models); the budget is
checked between batches, and an explanation cut short says so.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lanza.runtime.base import ModelRuntime
from lanza.serving.batcher import to_frame

CHUNK = 64


@dataclass(frozen=True)
class Contribution:
    """How much one input moved the prediction, and the typical value it was compared with."""

    feature: str
    value: Any
    baseline: Any
    effect: float


@dataclass
class Explanation:
    """Per-input effects on one prediction, largest first."""

    method: str
    unit: str
    contributions: list[Contribution] = field(default_factory=list)
    partial: bool = False
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def explain(
    runtime: ModelRuntime,
    row: dict[str, Any],
    predicted: Any,
    baseline: dict[str, Any],
    budget_s: float = 0.25,
) -> Explanation:
    """Explain the prediction ``predicted`` of one validated ``row``."""
    started = time.perf_counter()
    features = [name for name in row if name in baseline]
    if not features:
        return Explanation("none", "no reference sample to compare with")
    explained = _linear(runtime, row, predicted, baseline, features)
    if explained is None:
        explained = _occlusion(runtime, row, predicted, baseline, features, started, budget_s)
    explained.contributions.sort(key=lambda c: abs(c.effect), reverse=True)
    explained.elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    return explained


def _frame(runtime: ModelRuntime, rows: list[dict[str, Any]]) -> pd.DataFrame:
    numeric = {c.name for c in runtime.schema.columns if c.numeric}
    names = list(rows[0])
    return to_frame({n: [r[n] for r in rows] for n in names}, numeric, runtime.schema.dated)


def _linear(
    runtime: ModelRuntime,
    row: dict[str, Any],
    predicted: Any,
    baseline: dict[str, Any],
    features: list[str],
) -> Explanation | None:
    model = getattr(runtime, "model", None)
    steps = getattr(model, "steps", None)
    if model is None or not steps or len(steps) != 2:
        return None
    prepare, estimator = model[0], model[-1]
    coef = getattr(estimator, "coef_", None)
    if coef is None or not hasattr(prepare, "get_feature_names_out"):
        return None
    try:
        owners = _owners([str(n) for n in prepare.get_feature_names_out()], list(row))
        if owners is None:
            return None
        typical = {**row, **{f: baseline[f] for f in features}}
        both = _dense(prepare.transform(_frame(runtime, [row, typical])))
    except Exception:
        return None
    weights, unit = _weights(np.asarray(coef, dtype="float64"), estimator, predicted)
    if weights is None or weights.shape[0] != both.shape[1]:
        return None
    effects = weights * (both[0] - both[1])
    totals: dict[str, float] = dict.fromkeys(features, 0.0)
    for index, owner in enumerate(owners):
        if owner in totals:
            totals[owner] += float(effects[index])
    contributions = [Contribution(f, row[f], baseline[f], totals[f]) for f in features]
    return Explanation("coefficients", unit, contributions)


def _weights(
    coef: np.ndarray[Any, Any], estimator: Any, predicted: Any
) -> tuple[np.ndarray[Any, Any] | None, str]:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return (coef.ravel() if coef.ndim == 1 or coef.shape[0] == 1 else None), "predicted value"
    labels = [str(c) for c in classes]
    if str(predicted) not in labels:
        return None, ""
    k = labels.index(str(predicted))
    unit = f"log-odds of {predicted}"
    if coef.shape[0] == 1:
        return (coef[0] if k == 1 else -coef[0]), unit
    return coef[k], unit


def _owners(names: list[str], columns: list[str]) -> list[str] | None:
    """The input column behind each transformed feature (``num__x``, ``cat__color_red``)."""
    ordered = sorted(columns, key=len, reverse=True)
    owners = []
    for name in names:
        rest = name.split("__", 1)[-1]
        owner = next((c for c in ordered if rest == c or rest.startswith(c + "_")), None)
        if owner is None:
            return None
        owners.append(owner)
    return owners


def _dense(matrix: Any) -> np.ndarray[Any, Any]:
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype="float64")


def _occlusion(
    runtime: ModelRuntime,
    row: dict[str, Any],
    predicted: Any,
    baseline: dict[str, Any],
    features: list[str],
    started: float,
    budget_s: float,
) -> Explanation:
    classes = getattr(runtime, "classes", None)
    unit = f"probability of {predicted}" if classes else "predicted value"
    contributions: list[Contribution] = []
    partial = False
    base: float | None = None
    for start in range(0, len(features), CHUNK):
        if time.perf_counter() - started > budget_s:
            partial = True
            break
        chunk = features[start : start + CHUNK]
        rows = [{**row, name: baseline[name]} for name in chunk]
        # A model call costs about the same for one row as for dozens: the row itself
        # rides along with the first batch of occluded rows.
        scores = _scores(runtime, rows if base is not None else [row, *rows], predicted)
        if base is None:
            base, scores = scores[0], scores[1:]
        contributions += [
            Contribution(name, row[name], baseline[name], base - score)
            for name, score in zip(chunk, scores, strict=True)
        ]
    return Explanation("occlusion", unit, contributions, partial)


def _scores(runtime: ModelRuntime, rows: list[dict[str, Any]], predicted: Any) -> list[float]:
    """The predicted class's probability per row, or the predicted value for regression."""
    classes = getattr(runtime, "classes", None)
    result = runtime.predict_frame(_frame(runtime, rows), probabilities=bool(classes))
    if result.probabilities is not None and result.classes is not None:
        labels = [str(c) for c in result.classes]
        if str(predicted) in labels:
            k = labels.index(str(predicted))
            return [float(p[k]) for p in result.probabilities]
    values = result.to_list()
    if classes:
        return [1.0 if str(v) == str(predicted) else 0.0 for v in values]
    return [float(v) if v is not None else float("nan") for v in values]
