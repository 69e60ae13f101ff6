"""Batch predictions into the prediction log, so a nightly job is watched like live traffic.

``lanza batch … --log-rate 0.01`` samples about 1 % of the scored rows (the same rows
whenever a chunk is scored again) and writes each as one logged prediction with face
``batch`` under the deployment named by ``--log-as`` (the model's name by default). The
monitor then computes drift on them against the model's reference sample, and ground
truth posted for a request id ``batch-<job>-<row>`` counts towards live quality. The
log is a sample, written after each committed part: a job killed and resumed may log a
part's sample twice, which a statistical sample tolerates; the job's output stays exactly
once.

Every scored row, not only the sample, counts towards data quality: each part's rows
answered on a flagged value (missing, unseen, out of range), per feature and reason,
are written once per part, and the monitor adds them to what serving counted, so
``lanza monitor`` and the MLflow monitoring run show batch flags as they show live ones.
"""

from __future__ import annotations

import json
import logging
import time

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import BATCH_FACE, BatchFlagsRow
from lanza.monitoring.writer import PredictionLog
from lanza.records import PredictionRecord, SampledRow
from lanza.runtime.base import ModelRuntime
from lanza.store.database import Database
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
        self.database = workspace.database
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

    def count(self, part: int, rows: int, flags: dict[tuple[str, str], int]) -> None:
        """Record a committed part's scored rows and flagged ones; once per part.

        A failure is logged, never raised into the job.
        """
        counts: dict[str, dict[str, int]] = {}
        for (feature, reason), flagged in flags.items():
            counts.setdefault(feature, {})[reason] = flagged
        try:
            with self.database.session() as session:
                done = session.scalar(
                    select(BatchFlagsRow.id).where(
                        BatchFlagsRow.deployment == self.deployment,
                        BatchFlagsRow.job == self.job,
                        BatchFlagsRow.part == part,
                    )
                )
                if done is None:
                    session.add(
                        BatchFlagsRow(
                            deployment=self.deployment,
                            job=self.job,
                            part=part,
                            rows=rows,
                            counts=json.dumps(counts, sort_keys=True),
                        )
                    )
        except Exception:
            log.exception("the flagged inputs of a batch part could not be counted")


def batch_flags(database: Database, deployment: str) -> tuple[int, dict[tuple[str, str], int]]:
    """Rows scored by the deployment's watched batch jobs, and rows flagged per reason."""
    rows = 0
    flags: dict[tuple[str, str], int] = {}
    with database.session() as session:
        for scored, counts in session.execute(
            select(BatchFlagsRow.rows, BatchFlagsRow.counts).where(
                BatchFlagsRow.deployment == deployment
            )
        ):
            rows += int(scored)
            for feature, reasons in json.loads(counts).items():
                for reason, flagged in reasons.items():
                    flags[(feature, reason)] = flags.get((feature, reason), 0) + int(flagged)
    return rows, flags
