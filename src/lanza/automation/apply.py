"""``lanza apply``: make the running state what the file says, one change at a time.

Each change goes through the subsystem that owns the resource (the deployment store,
the alert store, training), so an applied deployment is the same as one made with
``lanza deploy``. Applying twice changes nothing: the second plan is empty. Apply
records each deployment, LLM deployment and alert rule it creates or adopts, so a later
apply deletes only those (or, with ``prune``, everything the file lacks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from lanza.automation.cron import next_time
from lanza.automation.plan import (
    OWNED_KINDS,
    Change,
    Plan,
    desired_state,
    diff,
    managed_state,
    running_state,
)
from lanza.automation.resources import ResourceStore
from lanza.automation.spec import AlertSpec, LanzaFile, ModelSpec, PromptSpec
from lanza.clock import utcnow
from lanza.errors import InvalidInputError, NotFoundError
from lanza.monitoring.alerts import AlertRule, AlertStore
from lanza.serving.spec import DeploymentSpec
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

Report = Callable[[Change], None]


class Applier:
    """Carries out a plan against one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        base: Path,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.workspace = workspace
        self.base = base
        self.clock = clock
        self.resources = ResourceStore(workspace.database)
        self.deployments = DeploymentStore(workspace.database)
        self.alerts = AlertStore(workspace.database)

    def apply(self, spec: LanzaFile, report: Report | None = None, prune: bool = False) -> Plan:
        """Plan, then make every change; returns the plan that was carried out.

        ``prune`` also deletes running resources that the file lacks and apply does
        not manage (made by hand); without it they are kept and listed in the plan.
        """
        desired = desired_state(spec)
        running = running_state(self.workspace)
        plan = diff(desired, running, managed_state(self.workspace, running), prune)
        self._check_data(plan)
        for change in plan.changes:
            self.change(change)
            if report is not None:
                report(change)
        self._forget_gone(desired, running)
        return plan

    def _forget_gone(
        self, desired: dict[tuple[str, str], Any], running: dict[tuple[str, str], Any]
    ) -> None:
        """Drop the marks of managed resources that were deleted by hand since."""
        for kind in OWNED_KINDS:
            for name in self.resources.owned(kind):
                if (kind, name) not in running and (kind, name) not in desired:
                    self.resources.disown(kind, name)

    def _check_data(self, plan: Plan) -> None:
        """Refuse before changing anything when a table to train on is missing."""
        for change in plan.changes:
            if change.kind not in ("model", "pipeline") or change.desired is None:
                continue
            data = self._path(str(change.desired["data"]))
            if "://" not in data and not Path(data).exists():
                raise InvalidInputError(
                    f"{change.kind} '{change.name}': there is no data file {data}; "
                    "nothing was applied."
                )

    def change(self, change: Change) -> None:
        """Make one change, and record whether apply manages the resource now."""
        if change.action != "adopt":
            handler = getattr(self, f"_{change.kind}")
            handler(change)
        if change.kind in OWNED_KINDS:
            if change.action == "delete":
                self.resources.disown(change.kind, change.name)
            else:
                self.resources.own(change.kind, change.name)

    def _model(self, change: Change) -> None:
        if change.action == "delete":
            self.resources.remove("model", change.name)
            return
        assert change.desired is not None
        model = ModelSpec.model_validate(change.desired)
        from lanza.training.service import TrainRequest, train

        request = TrainRequest(
            data=self._path(model.data),
            target=model.target,
            name=model.name,
            task=model.task,
            metric=model.metric,
            time_budget=model.time_budget,
            folds=model.folds,
            candidates=model.candidates,
        )
        train(self.workspace, request)
        self.resources.put("model", change.name, change.desired, str(self.base))

    def _deployment(self, change: Change) -> None:
        if change.action == "delete":
            self.deployments.delete(change.name)
            return
        spec = DeploymentSpec.model_validate(change.desired)
        if change.action == "create":
            self.deployments.create(spec)
        else:
            self.deployments.update(spec)

    def _llm_deployment(self, change: Change) -> None:
        from lanza.llm.gateway.spec import LLMDeploymentSpec
        from lanza.llm.gateway.store import LLMDeploymentStore

        store = LLMDeploymentStore(self.workspace.database)
        if change.action == "delete":
            store.delete(change.name)
            return
        spec = LLMDeploymentSpec.model_validate(change.desired)
        if change.action == "create":
            store.create(spec)
        else:
            store.replace(spec)

    def _evaluator(self, change: Change) -> None:
        from lanza.llm.online.spec import EvaluatorSpec
        from lanza.llm.online.store import EvaluatorStore

        store = EvaluatorStore(self.workspace.database)
        if change.action == "delete":
            store.delete(change.name)
            return
        store.create(EvaluatorSpec.model_validate(change.desired), replace=True)

    def _prompt(self, change: Change) -> None:
        if change.action == "delete":
            self.resources.remove("prompt", change.name)
            return
        from lanza.llm.prompts.registry import PromptStore

        assert change.desired is not None
        store = PromptStore(self.workspace.mlflow)
        prompt = PromptSpec.model_validate(change.desired)
        try:
            latest = store.get(prompt.name)
        except NotFoundError:
            latest = None
        if latest is None or latest.template != prompt.template:
            latest = store.create(prompt.name, prompt.template, "lanza apply")
        for alias in prompt.aliases:
            store.promote(prompt.name, latest.version, alias)
        self.resources.put("prompt", change.name, change.desired, str(self.base))

    def _alert(self, change: Change) -> None:
        deployment, _, _ = change.name.partition(":")
        for rule in self.alerts.rules(deployment):
            if f"{rule.deployment}:{rule.metric}{rule.comparison}" == change.name:
                self.alerts.delete(rule.deployment, rule.id)
        if change.action != "delete":
            alert = AlertSpec.model_validate(change.desired)
            values: dict[str, Any] = alert.model_dump(exclude={"deployment"})
            self.alerts.create(alert.deployment, AlertRule.model_validate(values))

    def _schedule(self, change: Change) -> None:
        self._timed("schedule", change, change.desired)

    def _pipeline(self, change: Change) -> None:
        triggers = (change.desired or {}).get("triggers") or {}
        self._timed("pipeline", change, triggers)

    def _timed(self, kind: str, change: Change, timing: dict[str, Any] | None) -> None:
        key = f"{kind}:{change.name}"
        if change.action == "delete":
            self.resources.remove(kind, change.name)
            return
        assert change.desired is not None
        before = self.resources.get(kind, change.name)
        self.resources.put(kind, change.name, change.desired, str(self.base))
        timing = timing or {}
        cron, every = timing.get("cron"), timing.get("every")
        if cron is None and every is None:
            self.resources.drop_timer(key)
            return
        previous = (before or {}) if kind == "schedule" else (before or {}).get("triggers") or {}
        changed = (previous.get("cron"), previous.get("every")) != (cron, every)
        if changed or self.resources.timer(key) is None:
            self.resources.set_timer(key, next_time(cron, every, self.clock()))

    def _path(self, value: str) -> str:
        if "://" in value or Path(value).is_absolute():
            return value
        return str(self.base / value)
