"""The monitor: periodic reports per deployment, with gauges, MLflow steps and alerts.

``tick`` runs in a worker thread on the server's schedule (never on the prediction
path); ``report`` is what ``lanza monitor`` and the API compute from the database.
Every server process computes reports for its own dashboard and gauges, but only the
holder of the ``monitoring`` lease logs the MLflow step and fires alerts, so a server
with several workers writes each round and each alert once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from lanza.monitoring import health, snapshot
from lanza.monitoring.alerts import AlertStore
from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.reference import Reference, ReferenceCache
from lanza.monitoring.tracking import MonitoringRuns
from lanza.monitoring.window import WindowReader, logged_deployments
from lanza.runtime.base import ModelRuntime
from lanza.serving.metrics import ServingMetrics
from lanza.store.lease import Lease
from lanza.workspace import Workspace

log = logging.getLogger("lanza.monitoring")
HISTORY = 200
BATCH_SOURCE = "batch"  # the source label of the batch jobs' data-quality series


class Monitor:
    """Computes reports and keeps the latest one and a short history per deployment."""

    def __init__(
        self,
        workspace: Workspace,
        metrics: MonitoringMetrics | None = None,
        serving: ServingMetrics | None = None,
        runtimes: Callable[[str], ModelRuntime | None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = workspace.settings.monitoring
        self.metrics = metrics or MonitoringMetrics()
        self.serving = serving
        self.references = ReferenceCache(workspace)
        self.windows = WindowReader(workspace.database)
        self.alerts = AlertStore(workspace.database)
        self.lease = Lease(workspace.database, "monitoring", ttl_s=3 * self.settings.interval_s)
        self._leading = False
        self.latest: dict[str, dict[str, Any]] = {}
        self.history: dict[str, deque[dict[str, Any]]] = {}
        self._counts: dict[str, tuple[int, int, int]] = {}  # requests, errors, server errors
        self._runtimes = runtimes
        self._loaded: dict[str, ModelRuntime] = {}
        self._charted: set[str] = set()  # deployments whose logged past joined the history
        self._history_lock = threading.Lock()

    @cached_property
    def runs(self) -> MonitoringRuns:
        """The deployments' MLflow runs, connected on first use: a server imports MLflow
        when it first logs a step or reads a history, not while it starts."""
        ws = self.workspace
        return MonitoringRuns(ws.mlflow, ws.registry, self.settings.mlflow_experiment)

    def report(self, deployment: str, window: int | None = None) -> dict[str, Any]:
        """A fresh report of one deployment's window, with its alert history."""
        size = window or self.settings.window
        seconds = self.settings.window_s if window is None else None
        current = self.windows.read(deployment, size, seconds)
        model = current.main_model()
        built = snapshot.build(current, self._reference(model), self.settings, self.score)
        built["errors"] = self._errors(deployment)
        built["data_quality"] = self._data_quality(deployment)
        built["alerts"] = self.alerts.history(deployment)
        built["health"] = health.judge(built, self.settings)
        return built

    def score(self, model: str, frame: pd.DataFrame) -> tuple[np.ndarray, list[Any]]:
        """Class probabilities of ``frame`` by ``model``: the serving copy, else one loaded.

        A server passes ``runtimes`` (its loaded versions); ``lanza monitor`` loads the
        version once per process.
        """
        runtime = self._runtimes(model) if self._runtimes is not None else None
        if runtime is None:
            if model not in self._loaded:
                self._loaded.clear()  # one spare model in memory at most
                self._loaded[model] = self.workspace.loader.load(model).runtime
            runtime = self._loaded[model]
        prediction = runtime.predict_frame(frame, probabilities=True)
        if prediction.probabilities is None or prediction.classes is None:
            raise ValueError(f"{model} gives no class probabilities")
        return prediction.probabilities, list(prediction.classes)

    def tick(self) -> None:
        """One round: report, gauges, MLflow and alerts for every watched deployment."""
        try:
            leader = self.lease.acquire()
        except Exception:
            log.exception("the monitoring lease could not be read; this round only reports")
            leader = False
        if leader and not self._leading and "runs" in self.__dict__:
            self.runs.forget()  # steps may have moved on while another process led
        self._leading = leader
        for deployment in self.watched():
            try:
                self._round(deployment, leader)
            except Exception:
                log.exception("monitoring of deployment %s failed this round", deployment)

    def watched(self) -> list[str]:
        """Deployments with logged traffic or alert rules."""
        names = set(logged_deployments(self.workspace.database))
        names.update(rule.deployment for rule in self.alerts.rules())
        return sorted(names)

    def _round(self, deployment: str, leader: bool = True) -> None:
        report = self.report(deployment)
        self._error_rate(deployment, report)
        report["health"] = health.judge(report, self.settings)  # with this round's error rate
        self.latest[deployment] = report
        with self._history_lock:
            self.history.setdefault(deployment, deque(maxlen=HISTORY)).append(_point(report))
        self._gauges(report)
        if not leader:
            return
        try:
            report["mlflow_run"] = self.runs.log(report)
        except Exception:
            log.exception("monitoring figures of %s could not be logged to MLflow", deployment)
        self._alerts(deployment, report)

    def _alerts(self, deployment: str, report: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        by_window: dict[int, dict[str, Any]] = {self.settings.window: report}
        fired = False
        for rule in self.alerts.rules(deployment):
            if rule.window not in by_window:
                by_window[rule.window] = self.report(deployment, rule.window)
            fired = self.alerts.evaluate(rule, by_window[rule.window], now) or fired
        if fired:
            report["alerts"] = self.alerts.history(deployment)

    def chart(self, deployment: str) -> list[dict[str, Any]]:
        """The rounds the dashboard charts: those logged to MLflow before this process's
        first round (read on the first ask, so a worker that is never asked never imports
        MLflow for them), then this process's own."""
        with self._history_lock:
            charted = deployment in self._charted
        if not charted:
            past = self._logged(deployment)
            with self._history_lock:
                if deployment not in self._charted:
                    own = self.history.get(deployment, deque())
                    if own:  # the leader's own rounds are in MLflow too: not twice
                        first = datetime.fromisoformat(own[0]["t"])
                        past = [p for p in past if datetime.fromisoformat(p["t"]) < first]
                    merged = deque([*past, *own], maxlen=HISTORY)
                    self.history[deployment] = merged
                    self._charted.add(deployment)
        with self._history_lock:
            return list(self.history.get(deployment, ()))

    def _logged(self, deployment: str) -> list[dict[str, Any]]:
        """Earlier rounds from MLflow, so charts keep their past across restarts."""
        try:
            return self.runs.history(deployment, HISTORY)
        except Exception:
            log.exception("earlier monitoring rounds of %s could not be read", deployment)
            return []

    def _reference(self, model: str | None) -> Reference | None:
        if model is None:
            return None
        try:
            return self.references.get(model)
        except Exception as exc:
            log.info("no reference for %s: %s", model, exc)
            return None

    def _errors(self, deployment: str) -> dict[str, Any] | None:
        """Requests and errors so far, from the serving counters of this process.

        ``total`` counts every answer that was not a prediction; ``server`` only those that
        were lanza's failure (5xx: the model raised, a deadline passed, a load failed), not
        the caller's (4xx: a wrong column, too many rows), which the health verdict weighs.
        """
        if self.serving is None:
            return None
        total = errors = server = 0.0
        for family in self.serving.requests.collect():
            for sample in family.samples:
                labels = sample.labels
                if not sample.name.endswith("_total") or labels.get("deployment") != deployment:
                    continue
                if labels.get("face") == "shadow":
                    continue
                total += sample.value
                status = labels.get("status", "")
                errors += sample.value if status != "ok" else 0.0
                server += sample.value if status == "error" or status.startswith("5") else 0.0
        return {
            "total": int(errors),
            "requests": int(total),
            "server": int(server),
            "rate": None,
            "server_rate": None,
        }

    def _data_quality(self, deployment: str) -> dict[str, Any] | None:
        """Rows answered on flagged inputs so far (missing, unseen, out of range), per
        feature and reason: serving's counters of this process plus the rows of watched
        batch jobs (``lanza batch --log-rate``); with the totals per reason and the rows
        answered, which the health verdict weighs, and the batch jobs' share alone under
        ``batch``. None when neither answered a row."""
        from lanza.monitoring.batchlog import batch_flags

        batch_rows, batch = batch_flags(self.workspace.database, deployment)
        if self.serving is None and not batch_rows:
            return None
        rows, flags = batch_rows, dict(batch)
        if self.serving is not None:
            rows += int(self._rows(deployment))
            for family in self.serving.input_warnings.collect():
                for sample in family.samples:
                    labels = sample.labels
                    if sample.name.endswith("_total") and labels.get("deployment") == deployment:
                        key = (labels["feature"], labels["reason"])
                        flags[key] = flags.get(key, 0) + int(sample.value)
        counts = _by_feature(flags)
        per_reason: dict[str, int] = {}
        for item in counts:
            per_reason[item["reason"]] = per_reason.get(item["reason"], 0) + item["rows"]
        return {
            "flagged": sum(per_reason.values()),
            "by_feature": counts,
            "counts": per_reason,
            "rows": rows,
            "batch": {"rows": batch_rows, "by_feature": _by_feature(batch)},
        }

    def _rows(self, deployment: str) -> float:
        """Rows the deployment's model answered so far (the sum of its batch sizes)."""
        assert self.serving is not None
        return sum(
            sample.value
            for family in self.serving.batch_size.collect()
            for sample in family.samples
            if sample.name.endswith("_sum") and sample.labels.get("deployment") == deployment
        )

    def _error_rate(self, deployment: str, report: dict[str, Any]) -> None:
        """Errors per request since the previous round, into the report."""
        errors = report.get("errors")
        if errors is None:
            return
        last_total, last_errors, last_server = self._counts.get(deployment, (0, 0, 0))
        self._counts[deployment] = (errors["requests"], errors["total"], errors["server"])
        seen = errors["requests"] - last_total
        errors["rate"] = (errors["total"] - last_errors) / seen if seen > 0 else None
        errors["server_rate"] = (errors["server"] - last_server) / seen if seen > 0 else None

    def _gauges(self, report: dict[str, Any]) -> None:
        name = report["deployment"]
        drift = report["drift"]
        for item in [*drift["features"], drift["prediction"]]:
            if item:
                column = item["column"]
                self.metrics.drift.labels(name, column, item["effect"]).set(item["effect_size"])
                if item["p_value"] is not None:
                    self.metrics.p_value.labels(name, column, item["test"]).set(item["p_value"])
                self.metrics.drifted.labels(name, column).set(float(item["drifted"]))
        if drift["share"] is not None:
            self.metrics.dataset_drift.labels(name).set(drift["share"])
        for metric, value in report["quality"]["metrics"].items():
            self.metrics.quality.labels(name, metric).set(value)
        for metric, value in (report.get("estimated") or {}).get("metrics", {}).items():
            self.metrics.estimated.labels(name, metric).set(value)
        self.metrics.health.labels(name).set(report["health"]["level"])
        batch = (report.get("data_quality") or {}).get("batch") or {}
        if batch.get("rows"):
            self.metrics.batch_rows.labels(name, BATCH_SOURCE).set(batch["rows"])
            for item in batch["by_feature"]:
                labels = (name, item["feature"], item["reason"], BATCH_SOURCE)
                self.metrics.batch_input_warnings.labels(*labels).set(item["rows"])


def _by_feature(flags: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """Flagged rows per feature and reason, most first; none for a count of 0."""
    ordered = sorted((k for k, n in flags.items() if n), key=lambda k: (-flags[k], k))
    return [{"feature": f, "reason": r, "rows": flags[(f, r)]} for f, r in ordered]


def _point(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of one round that the dashboard charts over time."""
    errors = report.get("errors") or {}
    return {
        "t": report["generated_at"],
        "requests": report["traffic"]["requests"],
        "per_second": report["traffic"]["per_second"],
        "p50_ms": report["latency"]["p50_ms"],
        "p99_ms": report["latency"]["p99_ms"],
        "errors": errors.get("total"),
        "error_rate": errors.get("rate"),
        "drift_share": report["drift"]["share"],
        "quality": report["quality"]["metrics"],
        "estimated": (report.get("estimated") or {}).get("metrics", {}),
        "health": report["health"]["level"],
    }
