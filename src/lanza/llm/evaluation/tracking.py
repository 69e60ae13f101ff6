"""Evaluation runs in MLflow: params, aggregate metrics and a per-row table artifact.

Every run lives in the ``lanza-evaluations`` experiment (``LANZA_LLM__EVAL_EXPERIMENT``),
tagged ``lanza.kind=evaluation``; ``eval_results.json`` is MLflow's table format, so the
MLflow UI's evaluation view shows it.

MLflow is imported when a run is read, not with this module: the server imports it with
its routes, and MLflow would add seconds to a start that serves no evaluation.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanza.errors import NotFoundError
from lanza.experiments import experiment_id

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

TABLE = "eval_results.json"


@dataclass(frozen=True)
class LoggedRun:
    """An evaluation run read back from MLflow."""

    run_id: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    rows: list[dict[str, Any]]


class EvaluationLog:
    """Writes and reads evaluation runs with an explicit client."""

    def __init__(self, client: MlflowClient, experiment: str, artifact_root: str) -> None:
        self.client = client
        self.experiment = experiment
        self.artifact_root = artifact_root.rstrip("/")

    def experiment_id(self) -> str:
        """The experiment's id, created on first use."""
        return experiment_id(self.client, self.experiment, self.artifact_root)

    def log(
        self,
        name: str,
        params: dict[str, str],
        metrics: dict[str, float],
        table: dict[str, list[Any]],
    ) -> str:
        """One finished run; returns its id."""
        run = self.client.create_run(
            self.experiment_id(), run_name=name, tags={"lanza.kind": "evaluation"}
        )
        run_id = str(run.info.run_id)
        try:
            for key, value in params.items():
                self.client.log_param(run_id, key, value[:6000])
            for key, number in metrics.items():
                self.client.log_metric(run_id, key, number)
            self.client.log_table(run_id, _frame(table), TABLE)
        except Exception:
            self.client.set_terminated(run_id, "FAILED")
            raise
        self.client.set_terminated(run_id, "FINISHED")
        return run_id

    def load(self, run_id: str) -> LoggedRun:
        """A run's params, metrics and rows; 404 when it is not an evaluation run."""
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            raise NotFoundError(f"There is no MLflow run '{run_id}'.") from exc
        if run.data.tags.get("lanza.kind") != "evaluation":
            raise NotFoundError(f"Run '{run_id}' is not a lanza evaluation.")
        with tempfile.TemporaryDirectory() as folder:
            path = self.client.download_artifacts(run_id, TABLE, folder)
            table = json.loads(Path(path).read_text())
        columns = table["columns"]
        rows = [dict(zip(columns, values, strict=True)) for values in table["data"]]
        name = run.data.tags.get("mlflow.runName", run_id)
        return LoggedRun(run_id, name, dict(run.data.params), dict(run.data.metrics), rows)


def _frame(table: dict[str, list[Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(table)
