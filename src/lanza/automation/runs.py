"""Pipeline runs as records: the ``automation_runs`` rows and their MLflow runs.

Each step of a run is appended to its row's ``detail`` (what the API and the dashboard
show) and tagged on one MLflow run in the experiment ``lanza-pipelines``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lanza.automation.resources import aware
from lanza.automation.spec import PipelineSpec
from lanza.automation.tables import RunRow
from lanza.clock import utcnow
from lanza.errors import ConflictError, NotFoundError
from lanza.workspace import Workspace

EXPERIMENT = "lanza-pipelines"
ACTIVE = ("running", "trial", "deciding")


class PipelineRuns:
    """Reads and writes pipeline runs; each call is one short transaction."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def recent(self, name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Most recent runs first."""
        query = select(RunRow).where(RunRow.kind == "pipeline").order_by(RunRow.created_at.desc())
        if name is not None:
            query = query.where(RunRow.name == name)
        with self.workspace.database.session() as session:
            return [view(r) for r in session.scalars(query.limit(limit))]

    def get(self, run_id: str) -> dict[str, Any]:
        """One run; 404 if missing."""
        with self.workspace.database.session() as session:
            row = session.get(RunRow, run_id)
            if row is None or row.kind != "pipeline":
                raise NotFoundError(f"There is no pipeline run '{run_id}'.")
            return view(row)

    def new(self, name: str, trigger: str, due: datetime | None) -> str:
        """Record a started run; returns its id."""
        now = utcnow()
        run_id = uuid.uuid4().hex
        try:
            with self.workspace.database.session() as session:
                session.add(
                    RunRow(
                        id=run_id,
                        kind="pipeline",
                        name=name,
                        trigger=trigger,
                        due_at=due,
                        state="running",
                        step="start",
                        detail={
                            "steps": [{"step": "start", "at": now.isoformat(), "trigger": trigger}]
                        },
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"Pipeline '{name}' already has a run for this trigger.") from exc
        return run_id

    def step(self, run_id: str, step: str, info: dict[str, Any], state: str = "running") -> None:
        """Append a step (and move the run's state), in the table and on the MLflow run."""
        now = utcnow()
        with self.workspace.database.session() as session:
            row = session.get(RunRow, run_id, with_for_update=True)
            assert row is not None
            detail = dict(row.detail)
            detail["steps"] = [
                *detail.get("steps", []),
                {"step": step, "at": now.isoformat(), **info},
            ]
            if step == "trial":
                detail["trial"] = info
            row.detail, row.step, row.state, row.updated_at = detail, step, state, now
        self._log_step(run_id, step, state)

    def finish(self, run_id: str, state: str, reason: str, figures: dict[str, Any]) -> None:
        """Record the decision and why, and end the MLflow run."""
        self.step(run_id, "decide", {"decision": state, "reason": reason, **figures}, state)
        with self.workspace.database.session() as session:
            row = session.get(RunRow, run_id)
            assert row is not None
            row.reason = reason
            mlflow_run = row.mlflow_run_id
        if mlflow_run is not None:
            client = self.workspace.mlflow
            client.set_tag(mlflow_run, "decision", state)
            client.set_tag(mlflow_run, "reason", reason)
            for key in ("champion", "challenger", "labelled"):
                if isinstance(figures.get(key), (int, float)):
                    client.log_metric(mlflow_run, key, float(figures[key]))
            client.set_terminated(mlflow_run, "FAILED" if state == "failed" else "FINISHED")

    def attach_mlflow(self, run_id: str, spec: PipelineSpec, version: str, parent: str) -> None:
        """Open the run's MLflow run, tagged with the training run and the challenger."""
        client = self.workspace.mlflow
        found = client.get_experiment_by_name(EXPERIMENT)
        experiment = found.experiment_id if found else client.create_experiment(EXPERIMENT)
        tags = {
            "lanza.pipeline": spec.name,
            "lanza.pipeline_run": run_id,
            "lanza.training_run": parent,
            "lanza.challenger": f"{spec.model}/{version}",
        }
        created = client.create_run(experiment, run_name=f"{spec.name}-{run_id[:8]}", tags=tags)
        for key in ("model", "deployment", "metric", "margin", "window", "rollout", "min_labelled"):
            client.log_param(created.info.run_id, key, getattr(spec, key))
        with self.workspace.database.session() as session:
            row = session.get(RunRow, run_id)
            assert row is not None
            row.mlflow_run_id = created.info.run_id

    def _log_step(self, run_id: str, step: str, state: str) -> None:
        with self.workspace.database.session() as session:
            row = session.get(RunRow, run_id)
            mlflow_run = None if row is None else row.mlflow_run_id
        if mlflow_run is not None:
            self.workspace.mlflow.set_tag(mlflow_run, f"step.{step}", state)

    def claim(self, run_id: str, expected: str, state: str) -> bool:
        """Move a run from ``expected`` to ``state`` unless another worker did first."""
        with self.workspace.database.session() as session:
            result = session.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.state == expected)
                .values(state=state, updated_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def in_state(self, state: str) -> list[RunRow]:
        """Pipeline runs in one state."""
        query = select(RunRow).where(RunRow.kind == "pipeline", RunRow.state == state)
        with self.workspace.database.session() as session:
            return list(session.scalars(query))

    def active(self, name: str) -> bool:
        """Whether a pipeline has a run in progress."""
        query = select(RunRow.id).where(
            RunRow.kind == "pipeline", RunRow.name == name, RunRow.state.in_(ACTIVE)
        )
        with self.workspace.database.session() as session:
            return session.scalars(query).first() is not None

    def last_started(self, name: str) -> datetime | None:
        """When a pipeline's latest run started."""
        query = (
            select(RunRow.created_at)
            .where(RunRow.kind == "pipeline", RunRow.name == name)
            .order_by(RunRow.created_at.desc())
            .limit(1)
        )
        with self.workspace.database.session() as session:
            found = session.scalars(query).first()
        return None if found is None else aware(found)


def view(row: RunRow) -> dict[str, Any]:
    """A run as the API and the CLI show it."""
    return {
        "id": row.id,
        "name": row.name,
        "pipeline": row.name if row.kind == "pipeline" else None,
        "kind": row.kind,
        "trigger": row.trigger,
        "state": row.state,
        "step": row.step,
        "reason": row.reason,
        "due_at": aware(row.due_at).isoformat() if row.due_at else None,
        "job_id": row.job_id,
        "mlflow_run_id": row.mlflow_run_id,
        "detail": row.detail,
        "created_at": aware(row.created_at).isoformat(),
        "updated_at": aware(row.updated_at).isoformat(),
    }
