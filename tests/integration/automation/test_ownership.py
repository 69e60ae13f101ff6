"""Which resources lanza.yaml manages: hand-made ones are kept, adopted when named,
deleted only with --prune; managed ones are deleted when the file drops them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanza.automation.apply import Applier
from lanza.automation.export import export_state, to_yaml
from lanza.automation.loader import load_file, load_text
from lanza.automation.plan import make_plan, render
from lanza.automation.resources import ResourceStore
from lanza.monitoring.alerts import AlertRule, AlertStore
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

LANZA = [sys.executable, "-m", "lanza"]


def apply(workspace: Workspace, project: Path) -> list[tuple[str, str, str]]:
    plan = Applier(workspace, project).apply(load_file(project / "lanza.yaml"))
    return [(c.action, c.kind, c.name) for c in plan.changes]


def hand_made(workspace: Workspace, name: str = "handmade") -> None:
    """A deployment made with the store, as ``lanza deploy`` makes it: no file involved."""
    from lanza.serving.spec import DeploymentSpec

    DeploymentStore(workspace.database).create(DeploymentSpec(name=name, model="churn@champion"))


def deployment_names(workspace: Workspace) -> list[str]:
    return sorted(d.spec.name for d in DeploymentStore(workspace.database).list())


def test_a_hand_made_deployment_survives_an_apply_without_it(
    workspace: Workspace, light_project: Path
) -> None:
    hand_made(workspace)
    plan = make_plan(load_file(light_project / "lanza.yaml"), workspace)
    assert all(c.action == "create" for c in plan.changes)
    assert render(plan)[-1] == (
        "1 deployment not managed by lanza.yaml: handmade — kept; --prune deletes it."
    )
    apply(workspace, light_project)
    assert deployment_names(workspace) == ["churn", "handmade"]
    (light_project / "lanza.yaml").write_text("version: 1\npipelines: []\n")
    assert apply(workspace, light_project) == [
        ("delete", "pipeline", "retrain"),
        ("delete", "schedule", "nightly"),
        ("delete", "alert", "churn:drift_share>"),
        ("delete", "deployment", "churn"),
    ]
    assert deployment_names(workspace) == ["handmade"]
    assert apply(workspace, light_project) == []


def test_removing_a_managed_deployment_deletes_only_it(
    workspace: Workspace, light_project: Path
) -> None:
    path = light_project / "lanza.yaml"
    path.write_text(
        path.read_text().replace(
            "deployments:\n", "deployments:\n  - name: extra\n    model: churn@champion\n"
        )
    )
    hand_made(workspace)
    apply(workspace, light_project)
    assert deployment_names(workspace) == ["churn", "extra", "handmade"]
    path.write_text(path.read_text().replace("  - name: extra\n    model: churn@champion\n", ""))
    plan = make_plan(load_file(path), workspace)
    assert render(plan)[:2] == [
        "- deployment extra",
        "Plan: 0 to create, 0 to update, 1 to delete.",
    ]
    apply(workspace, light_project)
    assert deployment_names(workspace) == ["churn", "handmade"]


def test_prune_deletes_the_hand_made_deployment(workspace: Workspace, light_project: Path) -> None:
    hand_made(workspace)
    spec = load_file(light_project / "lanza.yaml")
    plan = make_plan(spec, workspace, prune=True)
    assert ("delete", "deployment", "handmade") in [
        (c.action, c.kind, c.name) for c in plan.changes
    ]
    assert plan.unmanaged == []
    Applier(workspace, light_project).apply(spec, prune=True)
    assert deployment_names(workspace) == ["churn"]


def test_applying_an_export_adopts_what_was_made_by_hand(
    workspace: Workspace, tmp_path: Path
) -> None:
    hand_made(workspace, "one")
    hand_made(workspace, "two")
    rule = AlertRule(metric="drift_share", threshold=0.3)
    AlertStore(workspace.database).create("one", rule)
    exported = load_text(to_yaml(export_state(workspace)))
    plan = make_plan(exported, workspace)
    assert render(plan) == [
        "= deployment one (adopt)",
        "= deployment two (adopt)",
        "= alert one:drift_share> (adopt)",
        "Plan: 0 to create, 0 to update, 0 to delete, 3 to adopt.",
    ]
    applier = Applier(workspace, tmp_path)
    applier.apply(exported)
    assert deployment_names(workspace) == ["one", "two"]  # adopting changes nothing running
    assert applier.apply(exported).empty
    without_two = load_text(to_yaml(exported).replace("- name: two", "- name: three"))
    assert [(c.action, c.name) for c in make_plan(without_two, workspace).changes] == [
        ("delete", "two"),
        ("create", "three"),
    ]


@pytest.mark.slow
def test_cli_keeps_hand_made_deployments_unless_pruned(
    light_project: Path, home: Path, workspace: Workspace
) -> None:
    env = {**os.environ, "LANZA_HOME": str(home)}
    hand_made(workspace)  # as `lanza deploy` stores it, without a model to check against

    def lanza(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LANZA, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=light_project,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    applied = lanza("apply")
    assert applied.returncode == 0, applied.stderr
    note = "1 deployment not managed by lanza.yaml: handmade — kept; --prune deletes it."
    assert note in applied.stdout
    plan = lanza("plan", "--json")
    assert json.loads(plan.stdout)["unmanaged"] == [{"kind": "deployment", "name": "handmade"}]
    assert lanza("apply", "--check").returncode == 0
    assert lanza("apply", "--check", "--prune").returncode == 1
    pruned = lanza("apply", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "deleted deployment handmade" in pruned.stdout
    listed = lanza("deployments", "list", "--json")
    assert [d["name"] for d in json.loads(listed.stdout)] == ["churn"]


def test_ownership_marks_fit_the_table_on_sqlite_and_postgres(any_workspace: Workspace) -> None:
    """An alert key may be longer than the name column; its mark still round-trips."""
    store = ResourceStore(any_workspace.database)
    long_key = f"{'d' * 63}:drift.{'f' * 40}>="
    store.own("alert", long_key)
    store.own("deployment", "churn")
    assert store.owned("alert") == {long_key}
    assert store.owned("deployment") == {"churn"}
    store.disown("alert", long_key)
    assert store.owned("alert") == set()
