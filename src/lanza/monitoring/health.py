"""One health verdict per deployment, healthy, watch or degraded, with its reasons in words.

The verdict is the worst level any check reaches:

==================  ================================  ==================================
check               watch                             degraded
==================  ================================  ==================================
live quality        half the allowed drop below the   the allowed drop (``quality_drop``)
(labelled rows)     training score                    below the training score
estimated quality   same, on the label-free estimate  same, on the label-free estimate
drift               a feature or the prediction       at least ``dataset_share`` of the
                    drifts (effect size)              features drift
data quality        5 % of rows carry an input        25 % of rows carry one
                    warning (missing, unseen, out of
                    range)
errors              a fifth of the error objective    the error objective
latency (p99)       80 % of the latency objective     the latency objective
==================  ================================  ==================================

Scores where higher is better (accuracy, F1, ROC AUC) drop by an absolute amount; error
metrics (RMSE, MAE) by a relative one. Live quality counts only over ``min_rows``
labelled rows. Every consumer (the dashboard's colours, ``lanza monitor``, the JSON,
``/metrics``, alerts on ``health``) reads the verdict computed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lanza.settings import MonitoringSettings

Status = Literal["healthy", "watch", "degraded"]
LEVELS: dict[str, int] = {"healthy": 0, "watch": 1, "degraded": 2}
LOWER_IS_BETTER = {"rmse", "mae"}
# A training metric -> the live metric it is compared with (live F1 is macro-averaged).
LIVE_NAME = {
    "accuracy": "accuracy",
    "roc_auc": "roc_auc",
    "roc_auc_ovr": "roc_auc",
    "f1_macro": "f1",
    "rmse": "rmse",
    "mae": "mae",
}
DATA_WATCH, DATA_DEGRADED = 0.05, 0.25


@dataclass
class Verdict:
    """The status and the reasons behind it, worst first."""

    reasons: list[tuple[Status, str]] = field(default_factory=list)

    def add(self, level: Status, text: str) -> None:
        """Record one finding."""
        self.reasons.append((level, text))

    @property
    def status(self) -> Status:
        """The worst level found."""
        worst: Status = "healthy"
        for level, _ in self.reasons:
            if LEVELS[level] > LEVELS[worst]:
                worst = level
        return worst

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: status, its numeric level, and the reasons worst first."""
        ordered = sorted(self.reasons, key=lambda r: -LEVELS[r[0]])
        return {
            "status": self.status,
            "level": LEVELS[self.status],
            "reasons": [{"level": level, "text": text} for level, text in ordered],
        }


def judge(report: dict[str, Any], settings: MonitoringSettings) -> dict[str, Any]:
    """The verdict of one monitoring report."""
    verdict = Verdict()
    traffic = report.get("traffic") or {}
    if not traffic.get("requests"):
        verdict.add("healthy", "no requests in the window yet")
        return verdict.to_dict()
    baseline = baseline_scores(report)
    _quality(verdict, report, baseline, settings)
    _drift(verdict, report.get("drift") or {})
    _data(verdict, report.get("data_quality"))
    _errors(verdict, report.get("errors"), settings)
    _latency(verdict, report.get("latency") or {}, settings)
    if not any(level != "healthy" for level, _ in verdict.reasons):
        verdict.add("healthy", "quality, drift, inputs, errors and latency are within bounds")
    return verdict.to_dict()


def baseline_scores(report: dict[str, Any]) -> dict[str, float]:
    """Training's scores under live metric names: held-out scores, else the CV mean."""
    estimated = report.get("estimated") or {}
    scores = dict(estimated.get("baseline") or {})
    training = (report.get("quality") or {}).get("training") or {}
    live = LIVE_NAME.get(str(training.get("metric")))
    if live is not None and live not in scores and training.get("cv_mean") is not None:
        scores[live] = float(training["cv_mean"])
    return scores


def _quality(
    verdict: Verdict,
    report: dict[str, Any],
    baseline: dict[str, float],
    settings: MonitoringSettings,
) -> None:
    quality = report.get("quality") or {}
    labelled = int(quality.get("labelled") or 0)
    if labelled >= settings.min_rows:
        _compare(verdict, "live", quality.get("metrics") or {}, baseline, settings)
    estimated = report.get("estimated") or {}
    if estimated.get("metrics"):
        _compare(verdict, "estimated", estimated["metrics"], baseline, settings)


def _compare(
    verdict: Verdict,
    source: str,
    metrics: dict[str, float],
    baseline: dict[str, float],
    settings: MonitoringSettings,
) -> None:
    allowed = settings.quality_drop
    for name, value in metrics.items():
        base = baseline.get(name)
        if base is None:
            continue
        if name in LOWER_IS_BETTER:
            worse = (value - base) / base if base > 0 else 0.0
            text = f"{source} {name} {value:.3g} is {worse:.0%} above training's {base:.3g}"
        else:
            worse = base - value
            text = f"{source} {name} {value:.3f} is {worse:.3f} below training's {base:.3f}"
        if worse >= allowed:
            verdict.add("degraded", text)
        elif worse >= allowed / 2:
            verdict.add("watch", text)


def _drift(verdict: Verdict, drift: dict[str, Any]) -> None:
    features = drift.get("features") or []
    drifting = [f for f in features if f.get("drifted")]
    words = drift.get("drifting") or []
    if drifting:
        level: Status = "degraded" if drift.get("dataset_drift") else "watch"
        listed = "; ".join(words[:3]) + ("; …" if len(words) > 3 else "")
        verdict.add(level, f"{len(drifting)} of {len(features)} features drift: {listed}")
    prediction = drift.get("prediction")
    if prediction and prediction.get("drifted"):
        verdict.add("watch", "the predictions' distribution drifts from training's target")


def _data(verdict: Verdict, data: dict[str, Any] | None) -> None:
    """Input warnings counted by serving: ``{"rows": N, "counts": {reason: rows}}``."""
    if not data or not data.get("rows"):
        return
    rows = float(data["rows"])
    for reason, count in sorted((data.get("counts") or {}).items()):
        share = min(1.0, float(count) / rows)
        text = f"{share:.0%} of rows had {reason.replace('_', ' ')} input values"
        if share >= DATA_DEGRADED:
            verdict.add("degraded", text)
        elif share >= DATA_WATCH:
            verdict.add("watch", text)


def _errors(verdict: Verdict, errors: dict[str, Any] | None, settings: MonitoringSettings) -> None:
    # lanza's own failures (5xx) count against the objective; a caller's bad request does not.
    errors = errors or {}
    rate = errors.get("server_rate") if "server_rate" in errors else errors.get("rate")
    if rate is None:
        return
    objective = settings.objective_error_rate
    text = f"{rate:.1%} of requests failed (objective {objective:.1%})"
    if rate >= objective:
        verdict.add("degraded", text)
    elif rate >= objective / 5:
        verdict.add("watch", text)


def _latency(verdict: Verdict, latency: dict[str, Any], settings: MonitoringSettings) -> None:
    objective = settings.objective_p99_ms
    p99 = latency.get("p99_ms")
    if objective is None or p99 is None:
        return
    text = f"p99 latency {p99:.1f} ms against an objective of {objective:g} ms"
    if p99 > objective:
        verdict.add("degraded", text)
    elif p99 > 0.8 * objective:
        verdict.add("watch", text)
