"""Batch predictions into the prediction log, so a nightly job is watched like live traffic.

``lanza batch … --log-rate 0.01`` samples about 1 % of the scored rows (the same rows
whenever a chunk is scored again) and writes each as one logged prediction with face
``batch`` under the deployment named by ``--log-as`` (the model's name by default). The
monitor then computes drift on them against the model's reference sample, and ground
truth posted for a request id ``batch-<job>-<row>`` counts towards live quality. The
log is a sample, written after each committed part: a job killed and resumed may log a
part's sample twice, which a statistical sample tolerates; the job's output stays exactly
once.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry

from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import BATCH_FACE
from lanza.monitoring.writer import PredictionLog
from lanza.records import SampledRow
from lanza.runtime.base import ModelRuntime
from lanza.serving.dataplane import PredictionRecord
from lanza.workspace import Workspace

log = logging.getLogger("lanza.monitoring")


class BatchPredictionLog:
    """Writes a batch job's sampled rows to the prediction log, one part at a time."""

    def __init__(
        self, workspace: Workspace, runtime: ModelRuntime, deployment: str, job: str
    ) -> None:
        settings = workspace.settings.monitoring.model_copy(update={"sample_rate": 1.0})
        metrics = MonitoringMetrics(CollectorRegistry())
        self.log = PredictionLog(workspace.database, settings, metrics)
        self.runtime = runtime
        self.deployment = deployment
        self.job = job
        self.written = 0

    def add(self, sample: list[SampledRow]) -> None:
        """Log one part's sampled rows; a failure is logged, never raised into the job."""
        if not sample:
            return
        now = time.time()
        for row in sample:
            self.log.observe(
                PredictionRecord(
                    request_id=f"batch-{self.job}-{row.row}",
                    deployment=self.deployment,
                    model=self.runtime.ref,
                    face=BATCH_FACE,
                    columns={name: [value] for name, value in row.features.items()},
                    predictions=[row.prediction],
                    probabilities=None if row.probabilities is None else [row.probabilities],
                    classes=row.classes,
                    latency_ms=0.0,
                    created_at=now,
                )
            )
        try:
            if self.log.flush():
                self.written += len(sample)
        except Exception:
            log.exception("sampled batch predictions could not be logged")
