"""Retrain and promote: a pipeline run, step by step, each step recorded.

A run (started by a schedule, a firing alert or a person) goes through:

1. ``train``: the training table plus labelled production rows, registered as
   ``challenger`` (or ``champion`` when the model has none yet);
2. ``trial``: the deployment gets the challenger as its shadow (or a canary route)
   for the pipeline's window;
3. ``decide``: champion and challenger are scored on the same labelled requests; the
   challenger is promoted only if it is better by the margin, otherwise the run says
   why not. The deployment goes back to serving ``champion`` alone either way.

Every step lands in ``automation_runs`` (for the API and the dashboard) and in one
MLflow run; a promotion is an ordinary alias move, undone by ``lanza models rollback``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from lanza.automation import evidence
from lanza.automation.resources import ResourceStore, aware
from lanza.automation.runs import PipelineRuns
from lanza.automation.spec import HIGHER_IS_BETTER, PipelineSpec
from lanza.clock import utcnow
from lanza.errors import ConflictError, NotFoundError
from lanza.monitoring.tables import AlertEventRow
from lanza.serving.spec import DeploymentSpec
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

log = logging.getLogger("lanza.automation")


class PipelineRunner:
    """Starts pipeline runs and moves the ones on trial to a decision."""

    def __init__(
        self, workspace: Workspace, base: Path | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.workspace = workspace
        self.base = base or Path.cwd()
        self.clock = clock
        self.resources = ResourceStore(workspace.database)
        self.deployments = DeploymentStore(workspace.database)
        self.records = PipelineRuns(workspace)

    def spec(self, name: str) -> PipelineSpec:
        """A pipeline as applied; 404 if there is none."""
        found = self.resources.get("pipeline", name)
        if found is None:
            raise NotFoundError(f"There is no pipeline named '{name}'.")
        return PipelineSpec.model_validate(found)

    def start(self, name: str, trigger: str = "manual", due: datetime | None = None) -> str:
        """Run the train and trial steps now; returns the run id."""
        spec = self.spec(name)
        if self.records.active(name):
            raise ConflictError(f"Pipeline '{name}' already has a run in progress.")
        run = self.records.new(spec.name, trigger, due)
        try:
            self._train_and_trial(spec, run)
        except Exception as exc:
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self.records.finish(run, "failed", f"The run failed: {reason}", {})
            log.exception("pipeline %s run %s failed", name, run)
        return run

    def watch(self, now: datetime | None = None) -> None:
        """Start runs for alerts that fired, and decide runs whose window is over."""
        now = now or self.clock()
        for name in self.resources.all("pipeline"):
            try:
                self._on_alert(self.spec(name))
            except Exception:
                log.exception("alert trigger of pipeline %s failed", name)
        for run in self.records.in_state("trial"):
            try:
                self.decide(run.id, now)
            except Exception:
                log.exception("pipeline run %s could not be decided", run.id)

    def decide(self, run_id: str, now: datetime | None = None, force: bool = False) -> str:
        """Promote or keep once the window is over (or ``force``); returns the state."""
        now = now or self.clock()
        run = self.get(run_id)
        if run["state"] != "trial":
            return str(run["state"])
        spec = self.spec(run["pipeline"])
        trial = run["detail"]["trial"]
        if not force and now < datetime.fromisoformat(trial["ends_at"]):
            return "trial"
        if not self.records.claim(run_id, "trial", "deciding"):
            return "deciding"  # another server worker is deciding this run
        try:
            scores = evidence.compare(
                self.workspace.database,
                spec.deployment,
                datetime.fromisoformat(trial["started_at"]),
                spec.metric,
                trial["challenger"],
                spec.rollout == "canary",
                self._replay(trial["challenger"]),
            )
            state, reason = _verdict(spec, scores)
            self._restore(spec, trial["original"])
            version = trial["version"]
            if state == "promoted":
                self.workspace.registry.promote(spec.model, version, "champion", reason)
            figures = {
                "champion": scores.champion,
                "challenger": scores.challenger,
                "labelled": scores.labelled,
                "replayed": scores.replayed,
                "metric": spec.metric,
            }
            self.records.finish(run_id, state, reason, figures)
        except Exception as exc:
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self.records.finish(run_id, "failed", f"The decision failed: {reason}", {})
            raise
        return state

    def runs(self, name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Most recent runs first."""
        return self.records.recent(name, limit)

    def get(self, run_id: str) -> dict[str, Any]:
        """One run; 404 if missing."""
        return self.records.get(run_id)

    # -- steps -------------------------------------------------------------------

    def _train_and_trial(self, spec: PipelineSpec, run: str) -> None:
        from lanza.training.service import TrainRequest, train

        frame = self._training_frame(spec)
        self.records.step(run, "train", {"rows": len(frame)})
        request = TrainRequest(
            data=frame,
            target=spec.target,
            name=spec.model,
            task=spec.task,
            metric=spec.metric,
            time_budget=spec.time_budget,
            folds=spec.folds,
            candidates=spec.candidates,
        )
        trained = train(self.workspace, request).model
        self.records.attach_mlflow(run, spec, trained.version, trained.run_id)
        self.records.step(
            run,
            "register",
            {"version": trained.version, "alias": trained.alias, "training_run": trained.run_id},
        )
        if trained.alias == "champion":
            self.records.finish(
                run, "promoted", "The model had no champion; the first version is it.", {}
            )
            return
        challenger = f"{spec.model}/{trained.version}"
        original = self.deployments.get(spec.deployment).spec
        self.deployments.update(_trial_spec(spec, original, challenger))
        now = self.clock()
        trial = {
            "challenger": challenger,
            "version": trained.version,
            "started_at": now.isoformat(),
            "ends_at": (now + spec.window_delta).isoformat(),
            "original": original.model_dump(mode="json"),
            "rollout": spec.rollout,
        }
        self.records.step(run, "trial", trial, state="trial")

    def _training_frame(self, spec: PipelineSpec) -> pd.DataFrame:
        from lanza.training.data import load_table

        base = self.resources.base("pipeline", spec.name)
        folder = Path(base) if base else self.base
        path = Path(spec.data) if Path(spec.data).is_absolute() else folder / spec.data
        table = load_table(path)
        if not spec.include_feedback:
            return table
        production = evidence.labelled_rows(self.workspace.database, spec.deployment, spec.target)
        usable = [c for c in table.columns if c in production.columns]
        if production.empty or len(usable) != len(table.columns):
            return table
        return pd.concat([table, production[usable]], ignore_index=True)

    def _replay(self, challenger: str) -> evidence.Replay:
        def predict(frame: pd.DataFrame) -> list[Any]:
            loaded = self.workspace.loader.load(challenger)
            try:
                return loaded.runtime.predict_frame(frame).to_list()
            finally:
                loaded.runtime.unload()

        return predict

    def _restore(self, spec: PipelineSpec, original: dict[str, Any]) -> None:
        try:
            self.deployments.update(DeploymentSpec.model_validate(original))
        except NotFoundError:
            log.warning("deployment %s is gone; nothing to restore", spec.deployment)

    def _on_alert(self, spec: PipelineSpec) -> None:
        if not spec.triggers.alerts or self.records.active(spec.name):
            return
        last = self.records.last_started(spec.name)
        query = (
            select(AlertEventRow)
            .where(
                AlertEventRow.deployment == spec.deployment,
                AlertEventRow.metric.in_(spec.triggers.alerts),
            )
            .order_by(AlertEventRow.id.desc())
            .limit(1)
        )
        with self.workspace.database.session() as session:
            event = session.scalars(query).first()
        if event is None or (last is not None and aware(event.created_at) <= last):
            return
        with contextlib.suppress(ConflictError):  # another worker started it
            self.start(spec.name, f"alert:{event.metric}", aware(event.created_at))


def _trial_spec(spec: PipelineSpec, original: DeploymentSpec, challenger: str) -> DeploymentSpec:
    values = original.model_dump()
    if spec.rollout == "shadow":
        values["shadow"] = challenger
        return DeploymentSpec.model_validate(values)
    main = original.routes[0].model
    values.update(
        model=None,
        traffic=[
            {"model": main, "weight": 1 - spec.canary_weight},
            {"model": challenger, "weight": spec.canary_weight},
        ],
    )
    return DeploymentSpec.model_validate(values)


def _verdict(spec: PipelineSpec, scores: evidence.Scores) -> tuple[str, str]:
    metric = spec.metric
    if scores.labelled < spec.min_labelled or scores.champion is None or scores.challenger is None:
        return "kept", (
            f"Kept the champion: only {scores.labelled} labelled requests in the window, "
            f"and {spec.min_labelled} are needed to judge."
        )
    gain = scores.challenger - scores.champion
    if metric not in HIGHER_IS_BETTER:
        gain = -gain
    figures = (
        f"{metric} {scores.challenger:.4f} (challenger) vs {scores.champion:.4f} "
        f"(champion) on {scores.labelled} labelled rows"
    )
    if gain > spec.margin:
        return "promoted", f"Promoted the challenger: {figures}, better by more than {spec.margin}."
    return (
        "kept",
        f"Kept the champion: {figures}; the challenger is not better by more than {spec.margin}.",
    )
