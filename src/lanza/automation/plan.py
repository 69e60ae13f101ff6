"""``lanza plan``: the difference between a ``lanza.yaml`` and the running state.

Both sides become plain dicts keyed by (kind, name); a change is a create, an update
with the fields that differ, a delete, or an adoption. Like Terraform, lanza only
deletes what it manages: a resource a previous apply created or adopted and that the
file now lacks is deleted, while one made by hand (``lanza deploy``, the API) is kept
unless the file names it (then it is adopted) or ``--prune`` is given. A model or
prompt the file drops is only forgotten (its versions stay in the registry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lanza.automation.resources import ResourceStore
from lanza.automation.spec import AlertSpec, LanzaFile, PromptSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.online.store import EvaluatorStore
from lanza.monitoring.alerts import AlertStore
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

Action = Literal["create", "update", "delete", "adopt"]
KINDS = (
    *("model", "deployment", "llm_deployment", "prompt", "evaluator"),
    *("alert", "schedule", "pipeline"),
)
SECTIONS = {
    "model": "models",
    "deployment": "deployments",
    "llm_deployment": "llm_deployments",
    "prompt": "prompts",
    "evaluator": "evaluators",
    "alert": "alerts",
    "schedule": "schedules",
    "pipeline": "pipelines",
}
# Kinds that also exist without a file; apply records which of them it manages.
OWNED_KINDS = ("deployment", "llm_deployment", "evaluator", "alert")
PLURALS = {
    "deployment": "deployments",
    "llm_deployment": "LLM deployments",
    "evaluator": "evaluators",
    "alert": "alert rules",
}
ALERT_FIELDS = ("deployment", "metric", "comparison", "threshold", "window", "cooldown_s")


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: dotted path, running value, value in the file."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    """What apply would do to one resource.

    ``adopt`` marks a resource made by hand that the file names: apply records it as
    managed (action ``adopt`` when its fields already match, ``update`` when not).
    """

    action: Action
    kind: str
    name: str
    fields: list[FieldChange] = field(default_factory=list)
    desired: dict[str, Any] | None = None
    adopt: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "adopt": self.adopt,
            "fields": [
                {"field": f.field, "before": f.before, "after": f.after} for f in self.fields
            ],
        }


@dataclass(frozen=True)
class Plan:
    """Every change, in the order apply makes them, and what is kept unmanaged."""

    changes: list[Change]
    unmanaged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the running state already matches the file."""
        return not self.changes

    def counts(self) -> dict[str, int]:
        """How many creates, updates and deletes, and how many resources are adopted."""
        n = {a: sum(c.action == a for c in self.changes) for a in ("create", "update", "delete")}
        n["adopt"] = sum(c.adopt for c in self.changes)
        return n

    def summary(self) -> str:
        """One sentence: "Plan: 1 to create, 2 to update, 0 to delete."."""
        n = self.counts()
        if self.empty:
            return "No changes: the running state matches the file."
        adopted = f", {n['adopt']} to adopt" if n["adopt"] else ""
        return (
            f"Plan: {n['create']} to create, {n['update']} to update, "
            f"{n['delete']} to delete{adopted}."
        )

    def notes(self) -> list[str]:
        """One line per kind with running resources the file neither names nor manages."""
        lines = []
        for kind in OWNED_KINDS:
            names = [n for k, n in self.unmanaged if k == kind]
            if names:
                what = PLURALS[kind] if len(names) > 1 else PLURALS[kind][:-1]
                them = "them" if len(names) > 1 else "it"
                lines.append(
                    f"{len(names)} {what} not managed by lanza.yaml: {', '.join(names)} "
                    f"— kept; --prune deletes {them}."
                )
        return lines


def desired_state(spec: LanzaFile) -> dict[tuple[str, str], dict[str, Any]]:
    """The file as (kind, name) -> plain spec."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for model in spec.models:
        state[("model", model.name)] = model.model_dump(mode="json")
    for deployment in spec.deployments:
        state[("deployment", deployment.name)] = deployment.model_dump(mode="json")
    for llm in spec.llm_deployments:
        state[("llm_deployment", llm.name)] = llm.model_dump(mode="json")
    for prompt in spec.prompts:
        state[("prompt", prompt.name)] = prompt.model_dump(mode="json")
    for evaluator in spec.evaluators:
        state[("evaluator", evaluator.name)] = evaluator.model_dump(mode="json")
    for alert in spec.alerts:
        state[("alert", alert.key)] = alert.model_dump(mode="json")
    for schedule in spec.schedules:
        state[("schedule", schedule.name)] = schedule.model_dump(mode="json")
    for pipeline in spec.pipelines:
        state[("pipeline", pipeline.name)] = pipeline.model_dump(mode="json")
    return state


def running_state(workspace: Workspace) -> dict[tuple[str, str], dict[str, Any]]:
    """What is running now, in the same shape as ``desired_state``."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    resources = ResourceStore(workspace.database)
    for kind in ("model", "schedule", "pipeline"):
        for name, spec in resources.all(kind).items():
            state[(kind, name)] = spec
    for stored in DeploymentStore(workspace.database).list():
        state[("deployment", stored.spec.name)] = stored.spec.model_dump(mode="json")
    state.update(_prompts(workspace, resources.all("prompt")))
    for llm in LLMDeploymentStore(workspace.database).list():
        state[("llm_deployment", llm.name)] = llm.model_dump(mode="json")
    for evaluator in EvaluatorStore(workspace.database).list():
        state[("evaluator", evaluator.name)] = evaluator.model_dump(mode="json")
    for rule in AlertStore(workspace.database).rules():
        values = {f: getattr(rule, f) for f in ALERT_FIELDS}
        alert = AlertSpec.model_validate({**values, "webhook_url": rule.webhook_url})
        state[("alert", alert.key)] = alert.model_dump(mode="json")
    return state


def managed_state(
    workspace: Workspace, running: dict[tuple[str, str], dict[str, Any]]
) -> set[tuple[str, str]]:
    """The running resources that an apply created or adopted.

    Models, prompts, schedules and pipelines exist in lanza's running state only
    through apply, so all of them are managed; deployments, LLM deployments and alert
    rules are managed when apply recorded them.
    """
    owned = ResourceStore(workspace.database)
    marked = {(kind, name) for kind in OWNED_KINDS for name in owned.owned(kind)}
    return {key for key in running if key[0] not in OWNED_KINDS or key in marked}


def make_plan(spec: LanzaFile, workspace: Workspace, prune: bool = False) -> Plan:
    """Compare the file with the running state; ``prune`` also deletes unmanaged ones."""
    running = running_state(workspace)
    return diff(desired_state(spec), running, managed_state(workspace, running), prune)


def _prompts(
    workspace: Workspace, managed: dict[str, dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Prompts applied from a file, as their newest version reads now.

    Like models, prompts keep their history: only those a file applied are compared,
    and dropping one from the file only stops lanza managing it.
    """
    from lanza.errors import NotFoundError
    from lanza.llm.prompts.registry import PromptStore

    store = PromptStore(workspace.mlflow)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in managed:
        try:
            latest = store.get(name)
        except NotFoundError:
            continue
        spec = PromptSpec(name=name, template=latest.template, aliases=latest.aliases)
        found[("prompt", name)] = spec.model_dump(mode="json")
    return found


def diff(
    desired: dict[tuple[str, str], dict[str, Any]],
    running: dict[tuple[str, str], dict[str, Any]],
    managed: set[tuple[str, str]] | None = None,
    prune: bool = False,
) -> Plan:
    """Changes that turn ``running`` into ``desired``: deletes first, then in kind order.

    ``managed`` is what an earlier apply created or adopted (None: everything running);
    only those, or with ``prune`` everything, are deleted when the file lacks them.
    """
    owned = set(running) if managed is None else managed
    changes: list[Change] = []
    absent = [k for k in running if k not in desired]
    kept = sorted(k for k in absent if k not in owned and not prune)
    for kind in reversed(KINDS):
        gone = [k for k in absent if k[0] == kind and k not in kept]
        for key in sorted(gone, key=lambda k: (_is_fallback(k, gone, running), k)):
            changes.append(Change("delete", kind, key[1]))
    for kind in KINDS:
        for key in sorted((k for k in desired if k[0] == kind), key=_fallbacks_first(desired)):
            want = desired[key]
            if key not in running:
                changes.append(Change("create", kind, key[1], desired=want))
                continue
            fields = field_changes(running[key], want)
            adopt = key not in owned
            if fields:
                changes.append(Change("update", kind, key[1], fields, want, adopt))
            elif adopt:
                changes.append(Change("adopt", kind, key[1], desired=want, adopt=True))
    return Plan(changes, kept)


def _is_fallback(
    key: tuple[str, str], among: list[tuple[str, str]], state: dict[tuple[str, str], dict[str, Any]]
) -> bool:
    """Whether another resource in ``among`` falls back to ``key`` (delete it later)."""
    return any(state[k].get("fallback") == key[1] for k in among if k[0] == key[0])


def _fallbacks_first(
    state: dict[tuple[str, str], dict[str, Any]],
) -> Callable[[tuple[str, str]], tuple[bool, tuple[str, str]]]:
    """Sort key: LLM deployments without a fallback are created before those with one."""
    return lambda key: (bool(state[key].get("fallback")), key)


def field_changes(
    before: dict[str, Any], after: dict[str, Any], prefix: str = ""
) -> list[FieldChange]:
    """Fields that differ, nested mappings compared key by key."""
    found: list[FieldChange] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            found.extend(field_changes(old, new, f"{path}."))
        elif old != new:
            found.append(FieldChange(path, old, new))
    return found


def render(plan: Plan) -> list[str]:
    """Lines for people: ``+`` create, ``~`` update (with each field), ``-`` delete,
    ``=`` adopt; then the summary and a note on unmanaged resources that are kept."""
    marks = {"create": "+", "update": "~", "delete": "-", "adopt": "="}
    lines: list[str] = []
    for change in plan.changes:
        adopted = " (adopt)" if change.adopt else ""
        lines.append(f"{marks[change.action]} {change.kind} {change.name}{adopted}")
        for item in change.fields:
            lines.append(f"    {item.field}: {_show(item.before)} -> {_show(item.after)}")
    lines.append(plan.summary())
    lines.extend(plan.notes())
    return lines


def _show(value: Any) -> str:
    return "(unset)" if value is None else repr(value)
