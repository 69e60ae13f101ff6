"""Each deployment's monitoring run in MLflow: one step per window, charted over time.

The run lives in the ``lanza-monitoring`` experiment with tag ``lanza.deployment``; every
model version that serves gets the tag ``lanza.monitoring_run`` pointing at it.

MLflow is imported when a window is logged, not with this module, which the server
imports at start.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from lanza.registry import Registry

DEPLOYMENT_TAG = "lanza.deployment"
RUN_TAG = "lanza.monitoring_run"


class MonitoringRuns:
    """Finds or creates the run of a deployment and logs report figures to it."""

    def __init__(self, client: MlflowClient, registry: Registry, experiment: str) -> None:
        self.client = client
        self.registry = registry
        self.experiment = experiment
        self._runs: dict[str, tuple[str, int]] = {}
        self._tagged: set[tuple[str, str]] = set()

    def log(self, report: dict[str, Any]) -> str:
        """Log one window's figures as the next step; returns the run id."""
        from mlflow.entities import Metric

        deployment = report["deployment"]
        run_id, step = self.run_of(deployment)
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in figures(report).items()]
        if metrics:
            self.client.log_batch(run_id, metrics=metrics)
        self._runs[deployment] = (run_id, step + 1)
        for model in report.get("serving") or {}:
            self._tag(model, run_id)
        return run_id

    def history(self, deployment: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` logged rounds of a deployment, as the dashboard charts them."""
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            return []
        runs = self.client.search_runs(
            [found.experiment_id], f"tags.`{DEPLOYMENT_TAG}` = '{deployment}'", max_results=1
        )
        if not runs:
            return []
        run = runs[0]
        rounds: dict[int, dict[str, Any]] = {}
        for key in run.data.metrics:
            group = next((g for g in GROUPED if key.startswith(f"{g}_")), None)
            field = CHARTED.get(key)
            if field is None and group is None:
                continue
            for metric in self.client.get_metric_history(run.info.run_id, key):
                point = rounds.setdefault(metric.step, {"quality": {}, "estimated": {}})
                point.setdefault("t", _iso(metric.timestamp))
                if group is not None:
                    point[group][key.removeprefix(f"{group}_")] = metric.value
                elif field is not None:
                    point[field] = metric.value
        return [rounds[step] for step in sorted(rounds)[-limit:]]

    def forget(self) -> None:
        """Drop the cached runs and steps: another process may have logged since."""
        self._runs.clear()

    def run_of(self, deployment: str) -> tuple[str, int]:
        """The deployment's monitoring run (created when missing) and its next round's step."""
        if deployment in self._runs:
            return self._runs[deployment]
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = (
            found.experiment_id if found else self.client.create_experiment(self.experiment)
        )
        runs = self.client.search_runs(
            [experiment_id], f"tags.`{DEPLOYMENT_TAG}` = '{deployment}'", max_results=1
        )
        if runs:
            run_id = runs[0].info.run_id
            history = self.client.get_metric_history(run_id, "requests")
            step = max((m.step for m in history), default=-1) + 1
        else:
            run = self.client.create_run(
                experiment_id,
                run_name=f"monitor-{deployment}",
                tags={DEPLOYMENT_TAG: deployment, "lanza.kind": "monitoring"},
            )
            run_id, step = run.info.run_id, 0
        self._runs[deployment] = (run_id, step)
        return run_id, step

    def _tag(self, model: str, run_id: str) -> None:
        if (model, run_id) in self._tagged:
            return
        name, version = model.rsplit("/", 1)
        self.registry.set_tags(name, version, {RUN_TAG: run_id})
        self._tagged.add((model, run_id))


# MLflow metric -> the field of a dashboard history point.
CHARTED = {
    "requests": "requests",
    "throughput_rps": "per_second",
    "latency_p50_ms": "p50_ms",
    "latency_p99_ms": "p99_ms",
    "error_rate": "error_rate",
    "drift_share": "drift_share",
    "health": "health",
}
# MLflow metrics ``<group>_<name>`` -> ``point[group][name]``.
GROUPED = ("quality", "estimated")


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat()


def figures(report: dict[str, Any]) -> dict[str, float]:
    """The numbers of a report, flat, under MLflow-safe keys."""
    out: dict[str, float] = {"requests": float(report["traffic"]["requests"])}
    per_second = report["traffic"].get("per_second")
    if per_second is not None:
        out["throughput_rps"] = float(per_second)
    for key in ("p50_ms", "p99_ms"):
        if report["latency"].get(key) is not None:
            out[f"latency_{key}"] = float(report["latency"][key])
    errors = report.get("errors") or {}
    if errors.get("rate") is not None:
        out["error_rate"] = float(errors["rate"])
    drift = report["drift"]
    if drift.get("share") is not None:
        out["drift_share"] = float(drift["share"])
    for item in [*drift.get("features", []), drift.get("prediction")]:
        if item:
            out[f"drift_{_safe(item['column'])}"] = float(item["effect_size"])
            if item.get("p_value") is not None:
                out[f"drift_p_{_safe(item['column'])}"] = float(item["p_value"])
            if item.get("psi") is not None:
                out[f"psi_{_safe(item['column'])}"] = float(item["psi"])
    out.update(_quality_figures(report))
    return out


def _quality_figures(report: dict[str, Any]) -> dict[str, float]:
    """Live and estimated quality, flagged inputs per feature and reason, and the verdict."""
    out = {f"quality_{k}": float(v) for k, v in report["quality"]["metrics"].items()}
    flagged = report.get("data_quality") or {}
    for item in flagged.get("by_feature", []):
        out[f"flagged_{item['reason']}_{_safe(item['feature'])}"] = float(item["rows"])
    for key, value in (report.get("estimated") or {}).get("metrics", {}).items():
        out[f"estimated_{key}"] = float(value)
    if report.get("health"):
        out["health"] = float(report["health"]["level"])
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in name)
