"""The monitoring component: the prediction log on the data plane, and a periodic monitor.

It joins the serving component's data plane as an observer (so it must be built after
it), writes the log in its own thread, and every ``interval_s`` computes each
deployment's report in a worker thread: Prometheus gauges, an MLflow step, alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lanza.api.component import Component
from lanza.errors import NotFoundError
from lanza.monitoring.feedback import FeedbackStore
from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.service import Monitor
from lanza.monitoring.writer import PredictionLog
from lanza.runtime.base import ModelRuntime
from lanza.serving.component import ServingComponent
from lanza.workspace import Workspace

log = logging.getLogger("lanza.monitoring")


class MonitoringComponent(Component):
    """Prediction log, ground truth, drift, quality, alerts and the dashboard."""

    name = "monitoring"

    def __init__(
        self, workspace: Workspace, registry: CollectorRegistry, serving: ServingComponent
    ) -> None:
        self.settings = workspace.settings.monitoring
        self.serving = serving
        self.metrics = MonitoringMetrics(registry)
        self.prediction_log = PredictionLog(
            workspace.database,
            self.settings,
            self.metrics,
            journal=workspace.settings.home / "journal" / "predictions",
        )
        self.feedback = FeedbackStore(workspace.database)
        self.monitor = Monitor(workspace, self.metrics, serving.metrics, self._runtime)
        self._task: asyncio.Task[None] | None = None

    def install(self, app: FastAPI) -> None:
        from lanza.monitoring import dashboard
        from lanza.monitoring.routes import router

        app.state.monitoring = self
        app.include_router(router(), prefix="/api/v1")
        dashboard.install(app)

    async def start(self) -> None:
        if not self.settings.enabled:
            log.info("monitoring is off (LANZA_MONITORING__ENABLED=false)")
            return
        self.prediction_log.start()
        self.serving.dataplane.observers.append(self.prediction_log)
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self.prediction_log in self.serving.dataplane.observers:
            self.serving.dataplane.observers.remove(self.prediction_log)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.prediction_log.stop)
        try:
            await asyncio.to_thread(self.monitor.lease.release)
        except Exception:
            log.exception("the monitoring lease could not be released; it expires by itself")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_s)
            try:
                await asyncio.to_thread(self._round)
            except Exception:
                log.exception("a monitoring round failed")

    def _round(self) -> None:
        """One monitoring round over every prediction answered before it began.

        The log's writer inserts on its own clock, so without the flush a round could
        miss the last requests of a burst, and its report (which the dashboard shows
        until the next round) would count one request fewer than were answered.
        """
        self.prediction_log.flush()
        self.monitor.tick()

    def _runtime(self, model: str) -> ModelRuntime | None:
        """The runtime a deployment of this process serves ``model`` with, if any."""
        for live in self.serving.manager.all():
            for variant in [*live.variants, *([live.shadow] if live.shadow else [])]:
                if variant.version == model:
                    return variant.loaded.runtime
        return None

    def known(self, name: str) -> None:
        """404 unless the deployment is configured or has logged traffic."""
        try:
            self.serving.store.get(name)
        except NotFoundError:
            if name not in self.monitor.watched():
                raise

    def configured(self, name: str) -> None:
        """404 unless the deployment is configured now (alert rules belong to one)."""
        self.serving.store.get(name)

    def view(self, name: str) -> dict[str, Any]:
        """The latest periodic report (or a fresh one before the first round), with history."""
        report = self.monitor.latest.get(name) or self.monitor.report(name)
        history = self.monitor.chart(name)
        return {**report, "history": history, "rules": self.monitor.alerts.describe(name)}

    def overview(self) -> list[dict[str, Any]]:
        """Every deployment with its headline figures, for the dashboard's list."""
        names = {d.spec.name for d in self.serving.store.list()} | set(self.monitor.latest)
        out = []
        for name in sorted(names):
            report = self.monitor.latest.get(name)
            out.append(
                {
                    "name": name,
                    "serving": report["serving"] if report else {},
                    "requests": report["traffic"]["requests"] if report else 0,
                    "latency": report["latency"] if report else None,
                    "drift_share": report["drift"]["share"] if report else None,
                    "dataset_drift": report["drift"]["dataset_drift"] if report else None,
                    "quality": report["quality"]["metrics"] if report else {},
                    "estimated": (report.get("estimated") or {}).get("metrics", {})
                    if report
                    else {},
                    "health": report.get("health") if report else None,
                    "errors": report.get("errors") if report else None,
                }
            )
        return out
