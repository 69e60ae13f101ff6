"""One MLflow run per batch job, in the experiment ``lanza-batch``: params, then metrics.

Tracking is a side channel: if MLflow fails, the job goes on and the failure is logged.
Params and metrics each go in one ``log_batch`` call: on a sqlite store every separate
``log_param`` is its own transaction (about 20 ms each on a 2-core machine), which
made a job's eighteen values cost a third of a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlflow.entities import Metric, Param

from lanza.batch.spec import BatchOptions, BatchSummary

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

EXPERIMENT = "lanza-batch"
log = logging.getLogger("lanza.batch")


class JobTracker:
    """Opens a run when a job starts and closes it with the job's figures."""

    def __init__(self, client: MlflowClient, experiment: Callable[[str], str]) -> None:
        """``experiment(name)``: the experiment's id, made under lanza's artifact root."""
        self.client = client
        self.experiment = experiment
        self.run_id: str | None = None

    def start(self, options: BatchOptions, model: str, job_id: str | None = None) -> None:
        """Open the job's run with what it was asked to do."""
        try:
            run = self.client.create_run(self.experiment(EXPERIMENT), tags=_tags(model, job_id))
            self.run_id = run.info.run_id
            params = [
                Param(key, str(value)[:500])
                for key, value in options.to_dict().items()
                if value not in (None, ())
            ]
            self.client.log_batch(self.run_id, params=params)
        except Exception:
            log.warning("could not open the MLflow run of a batch job", exc_info=True)

    def finish(self, summary: BatchSummary | None, status: str) -> None:
        """Log rows, rate, errors and duration, and close the run as FINISHED/FAILED/KILLED."""
        if self.run_id is None:
            return
        try:
            if summary is not None:
                metrics = {
                    "rows": summary.rows,
                    "rows_written": summary.written,
                    "errors": summary.errors,
                    "rows_per_s": summary.rows_per_s,
                    "duration_s": summary.seconds,
                    "parts": summary.parts,
                }
                now = int(time.time() * 1000)
                self.client.log_batch(
                    self.run_id,
                    metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
                )
            self.client.set_terminated(self.run_id, status)
        except Exception:
            log.warning("could not close the MLflow run of a batch job", exc_info=True)


def _tags(model: str, job_id: str | None) -> dict[str, str]:
    tags = {"lanza.model": model, "mlflow.runName": f"batch {model}"}
    if job_id:
        tags["lanza.job_id"] = job_id
    return tags
