"""One monitoring report of a deployment's window: traffic, latency, drift and quality.

The server computes it periodically (never on the prediction path) and ``lanza
monitor`` computes it from the database; both give the same JSON shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from lanza.monitoring import quality
from lanza.monitoring.drift import Thresholds, column_drift, dataset_drift
from lanza.monitoring.reference import Reference
from lanza.monitoring.window import LABELS_COUNTED, Window
from lanza.settings import MonitoringSettings

log = logging.getLogger("lanza.monitoring")
# (model, feature frame) -> class probabilities and their classes, from the model itself
Scorer = Callable[[str, pd.DataFrame], tuple[np.ndarray, list[Any]]]
PREDICTION = "__prediction__"
TIMELINE_BUCKETS = 30


def thresholds(settings: MonitoringSettings) -> Thresholds:
    """Drift thresholds from settings."""
    return Thresholds(
        p_value=settings.p_value,
        distance=settings.distance,
        category_share=settings.category_share,
        dataset_share=settings.dataset_share,
        significance=settings.significance,
    )


def build(
    window: Window,
    reference: Reference | None,
    settings: MonitoringSettings,
    scorer: Scorer | None = None,
) -> dict[str, Any]:
    """The report of one window against the reference of its main serving version.

    ``scorer`` computes class probabilities the log lacks (callers asked for labels
    only), so the quality of a classifier can be estimated on every window.
    """
    model = window.main_model()
    return {
        "deployment": window.deployment,
        "generated_at": datetime.now(UTC).isoformat(),
        "window": _window(window, settings),
        "traffic": _traffic(window),
        "latency": _latency([row.latency_ms for row in window.logs if row.timed]),
        "serving": window.models,
        "drift": _drift(window, model, reference, settings),
        "quality": _quality(window, model, reference),
        "estimated": _estimated(window, model, reference, scorer),
    }


def _window(window: Window, settings: MonitoringSettings) -> dict[str, Any]:
    logs = window.logs
    return {
        "requests": settings.window if settings.window_s is None else None,
        "seconds": settings.window_s,
        "since": logs[0].created_at.isoformat() if logs else None,
        "until": logs[-1].created_at.isoformat() if logs else None,
    }


def _traffic(window: Window) -> dict[str, Any]:
    logs = window.logs
    rows = sum(len(r.prediction) for r in logs)
    span = (logs[-1].created_at - logs[0].created_at).total_seconds() if len(logs) > 1 else 0.0
    return {
        "requests": len(logs),
        "rows": rows,
        "per_second": len(logs) / span if span > 0 else None,
        "timeline": _timeline(window),
    }


def _timeline(window: Window) -> list[dict[str, Any]]:
    """Requests and latency per time bucket across the window, for charts."""
    logs = window.logs
    if not logs:
        return []
    times = np.array([r.created_at.timestamp() for r in logs])
    edges = np.linspace(times[0], times[-1] + 1e-6, TIMELINE_BUCKETS + 1)
    index = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, TIMELINE_BUCKETS - 1)
    latencies = np.array([r.latency_ms for r in logs])
    timed = np.array([r.timed for r in logs])
    out = []
    for bucket in range(TIMELINE_BUCKETS):
        inside = index == bucket
        out.append(
            {
                "t": datetime.fromtimestamp(float(edges[bucket]), UTC).isoformat(),
                "requests": int(inside.sum()),
                **_latency(latencies[inside & timed].tolist()),
            }
        )
    return out


def _latency(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99)}


def _drift(
    window: Window, model: str | None, reference: Reference | None, settings: MonitoringSettings
) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "model": model,
        "features": [],
        "prediction": None,
        "share": None,
        "drifting": [],
    }
    profile = reference.profile if reference is not None else None
    if model is None or reference is None or reference.frame is None or profile is None:
        return {**empty, "dataset_drift": None, "reason": "no reference sample for this version"}
    frame = window.frame(model)
    if len(frame) < settings.min_rows:
        reason = f"{len(frame)} rows in the window; drift needs {settings.min_rows}"
        return {**empty, "dataset_drift": None, "reason": reason}
    t = thresholds(settings)
    found = dataset_drift(profile, frame, reference.features, t)
    prediction = None
    if reference.target is not None and reference.target in reference.frame.columns:
        target = reference.frame[reference.target]
        if reference.task == "classification":
            target = target.astype(str)
            frame[PREDICTION] = frame[PREDICTION].astype(str)
        prediction = column_drift("prediction", target, frame[PREDICTION], t).to_dict()
    return {
        "model": model,
        "rows": len(frame),
        "features": [f.to_dict() for f in found.features],
        "prediction": prediction,
        "share": found.share,
        "dataset_drift": found.drifted,
        "drifting": [f.why() for f in found.features if f.drifted],
        "reason": None,
    }


def _quality(window: Window, model: str | None, reference: Reference | None) -> dict[str, Any]:
    truth, predicted, probabilities, classes = window.labelled()
    training = None
    if reference is not None and reference.cv_mean is not None:
        training = {"metric": reference.metric, "cv_mean": reference.cv_mean, "model": model}
    metrics: dict[str, float] = {}
    task = reference.task if reference is not None else None
    try:
        if truth and task == "regression":
            metrics = quality.regression(truth, predicted)
        elif truth:
            metrics = quality.classification(truth, predicted, probabilities or None, classes)
    except (TypeError, ValueError) as exc:
        log.info("live quality of %s cannot be scored: %s", window.deployment, exc)
    return {
        "labelled": len(truth),
        "labels_total": window.labels_total,
        "labels_text": labels_text(window),
        "metrics": metrics,
        "training": training,
    }


def labels_text(window: Window) -> str:
    """Where the labels are, e.g. ``300 labelled requests, none in this window's 1,000``."""
    requests = len(window.logs)
    inside = sum(1 for row in window.logs if row.request_id in window.feedback)
    if window.labels_total == 0:
        return "no labels received yet"
    total = f"{window.labels_total:,}"
    if window.labels_total >= LABELS_COUNTED:
        total = f"over {LABELS_COUNTED:,}"
    if inside == 0:
        return f"{total} labelled requests, none among the {requests:,} requests of this window"
    return f"{inside:,} of the {requests:,} requests of this window labelled"


def _estimated(
    window: Window, model: str | None, reference: Reference | None, scorer: Scorer | None
) -> dict[str, Any]:
    """Quality expected on the window from the model's outputs, before any label."""
    out: dict[str, Any] = {"rows": 0, "metrics": {}, "baseline": {}, "reason": None}
    if model is None or reference is None or reference.estimator is None:
        return {**out, "reason": "no performance estimator registered with this version"}
    estimator = reference.estimator
    out["baseline"] = estimator.baseline
    frame = window.frame(model)
    features = frame[[c for c in reference.features if c in frame.columns]]
    predictions = frame[PREDICTION].tolist()
    probabilities = classes = None
    try:
        if estimator.task == "classification":
            logged = window.probabilities(model)
            if logged is not None:
                probabilities, classes = np.asarray(logged[0], dtype=float), logged[1]
            elif scorer is not None and len(features):
                probabilities, classes = scorer(model, features)
        metrics = estimator.estimate(features, predictions, probabilities, classes)
    except Exception as exc:
        log.info("quality of %s cannot be estimated: %s", window.deployment, exc)
        return {**out, "reason": f"cannot be estimated: {exc}"}
    if not metrics:
        return {**out, "reason": "no class probabilities for this window"}
    return {**out, "rows": len(frame), "metrics": metrics}
