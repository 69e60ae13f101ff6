"""Which inputs pushed one prediction most, computed within a latency budget.

Effects are in units a person reads: the target's own units for regression, points of
probability (0 to 100) of the predicted class for classification. Linear scikit-learn
regressors are explained exactly from their coefficients: each input's effect is its
coefficients times how far its transformed value is from the transformed typical row
(median or most frequent value of the reference sample). Any other model, classifiers
included (their coefficients speak log-odds), is explained by occlusion: each input in
turn is set to its typical value and the change in the predicted class's probability
(or the predicted value) is its effect. Occluded rows
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
    target: str | None = None,
) -> Explanation:
    """Explain the prediction ``predicted`` of one validated ``row``; ``target`` names the
    unit of a regression's effects."""
    started = time.perf_counter()
    features = [name for name in row if name in baseline]
    if not features:
        return Explanation("none", "no reference sample to compare with")
    unit = target or "predicted value"
    explained = _linear(runtime, row, baseline, features, unit)
    if explained is None:
        explained = _occlusion(
            runtime, row, predicted, baseline, features, (started, budget_s), unit
        )
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
    baseline: dict[str, Any],
    features: list[str],
    unit: str,
) -> Explanation | None:
    model = getattr(runtime, "model", None)
    steps = getattr(model, "steps", None)
    if model is None or not steps or len(steps) != 2:
        return None
    prepare, estimator = model[0], model[-1]
    coef = getattr(estimator, "coef_", None)
    if getattr(estimator, "classes_", None) is not None:
        return None  # coefficients of a classifier are log-odds: occlusion gives probability
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
    matrix = np.asarray(coef, dtype="float64")
    if matrix.ndim > 1 and matrix.shape[0] != 1:  # several outputs: not one predicted value
        return None
    weights = matrix.ravel()
    if weights.shape[0] != both.shape[1]:
        return None
    effects = weights * (both[0] - both[1])
    totals: dict[str, float] = dict.fromkeys(features, 0.0)
    for index, owner in enumerate(owners):
        if owner in totals:
            totals[owner] += float(effects[index])
    contributions = [Contribution(f, row[f], baseline[f], totals[f]) for f in features]
    return Explanation("coefficients", unit, contributions)


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
    budget: tuple[float, float],
    unit: str,
) -> Explanation:
    """``budget``: when the explanation started, and the seconds it may take."""
    started, budget_s = budget
    classes = getattr(runtime, "classes", None)
    if classes:
        unit = f"points of probability of {predicted}"
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
    """The predicted class's probability per row in points (0 to 100), or the predicted
    value for regression."""
    classes = getattr(runtime, "classes", None)
    result = runtime.predict_frame(_frame(runtime, rows), probabilities=bool(classes))
    if result.probabilities is not None and result.classes is not None:
        labels = [str(c) for c in result.classes]
        if str(predicted) in labels:
            k = labels.index(str(predicted))
            return [100.0 * float(p[k]) for p in result.probabilities]
    values = result.to_list()
    if classes:
        return [100.0 if str(v) == str(predicted) else 0.0 for v in values]
    return [float(v) if v is not None else float("nan") for v in values]
