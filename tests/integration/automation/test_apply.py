"""lanza.yaml against a real workspace: apply, apply again, edit, export, delete."""

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
from lanza.errors import InvalidInputError
from lanza.monitoring.alerts import AlertStore
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

LANZA = [sys.executable, "-m", "lanza"]


def apply(workspace: Workspace, project: Path) -> list[tuple[str, str, str]]:
    plan = Applier(workspace, project).apply(load_file(project / "lanza.yaml"))
    return [(c.action, c.kind, c.name) for c in plan.changes]


def test_apply_twice_without_training_is_a_no_op(workspace: Workspace, light_project: Path) -> None:
    assert len(apply(workspace, light_project)) == 4
    assert apply(workspace, light_project) == []
    assert make_plan(load_file(light_project / "lanza.yaml"), workspace).empty


@pytest.mark.slow
def test_apply_twice_is_a_no_op(workspace: Workspace, project: Path) -> None:
    first = apply(workspace, project)
    assert first == [
        ("create", "model", "churn"),
        ("create", "deployment", "churn"),
        ("create", "alert", "churn:drift_share>"),
        ("create", "schedule", "nightly"),
        ("create", "pipeline", "retrain"),
    ]
    assert workspace.registry.resolve("churn@champion").version == "1"
    assert DeploymentStore(workspace.database).get("churn").spec.max_batch_size == 16
    assert ResourceStore(workspace.database).timer("schedule:nightly") is not None
    generation = DeploymentStore(workspace.database).get("churn").generation
    rules = [r.id for r in AlertStore(workspace.database).rules()]

    assert apply(workspace, project) == []
    assert make_plan(load_file(project / "lanza.yaml"), workspace).empty
    assert DeploymentStore(workspace.database).get("churn").generation == generation
    assert [r.id for r in AlertStore(workspace.database).rules()] == rules
    assert len(workspace.registry.list_versions("churn")) == 1


def test_plan_shows_exactly_the_edit(workspace: Workspace, light_project: Path) -> None:
    apply(workspace, light_project)
    path = light_project / "lanza.yaml"
    path.write_text(
        path.read_text()
        .replace("max_batch_size: 16", "max_batch_size: 64\n    max_delay_ms: 5")
        .replace("threshold: 0.3", "threshold: 0.5")
        .replace("every: 1d", 'cron: "0 3 * * 1"')
    )
    plan = make_plan(load_file(path), workspace)
    assert render(plan) == [
        "~ deployment churn",
        "    max_batch_size: 16 -> 64",
        "    max_delay_ms: 2.0 -> 5.0",
        "~ alert churn:drift_share>",
        "    threshold: 0.3 -> 0.5",
        "~ pipeline retrain",
        "    triggers.cron: (unset) -> '0 3 * * 1'",
        "    triggers.every: '1d' -> (unset)",
        "Plan: 0 to create, 3 to update, 0 to delete.",
    ]
    apply(workspace, light_project)
    assert make_plan(load_file(path), workspace).empty
    assert DeploymentStore(workspace.database).get("churn").spec.max_batch_size == 64
    (rule,) = AlertStore(workspace.database).rules("churn")
    assert rule.threshold == 0.5


def test_removing_from_the_file_deletes(workspace: Workspace, light_project: Path) -> None:
    apply(workspace, light_project)
    text = (light_project / "lanza.yaml").read_text()
    trimmed = text.split("alerts:")[0]
    (light_project / "lanza.yaml").write_text(trimmed.replace("max_batch_size: 16", ""))
    assert apply(workspace, light_project) == [
        ("delete", "pipeline", "retrain"),
        ("delete", "schedule", "nightly"),
        ("delete", "alert", "churn:drift_share>"),
        ("update", "deployment", "churn"),
    ]
    assert AlertStore(workspace.database).rules() == []
    assert ResourceStore(workspace.database).timer("schedule:nightly") is None


def test_a_missing_table_stops_apply_before_any_change(workspace: Workspace, project: Path) -> None:
    (project / "churn.csv").unlink()
    with pytest.raises(
        InvalidInputError, match=r"model 'churn': there is no data file .*churn.csv"
    ):
        apply(workspace, project)
    assert DeploymentStore(workspace.database).list() == []


def test_export_round_trips(workspace: Workspace, light_project: Path) -> None:
    apply(workspace, light_project)
    text = to_yaml(export_state(workspace))
    assert "max_batch_size: 16" in text
    assert "traffic" not in text  # defaults are left out
    exported = load_text(text)
    assert make_plan(exported, workspace).empty
    assert [d.name for d in exported.deployments] == ["churn"]


@pytest.mark.slow
def test_cli_plan_apply_check_and_export(project: Path, home: Path) -> None:
    env = {**os.environ, "LANZA_HOME": str(home)}

    def lanza(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LANZA, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=project,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    check = lanza("apply", "--check")
    assert check.returncode == 1
    assert "+ deployment churn" in check.stdout
    assert "Plan: 5 to create, 0 to update, 0 to delete." in check.stdout
    applied = lanza("apply")
    assert applied.returncode == 0, applied.stderr
    assert "Applied: 5 created, 0 updated, 0 deleted." in applied.stdout
    again = lanza("apply", "--check", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["empty"] is True
    pipelines = lanza("pipelines", "list", "--json")
    assert pipelines.returncode == 0, pipelines.stderr
    assert [p["name"] for p in json.loads(pipelines.stdout)] == ["retrain"]
    assert json.loads(lanza("pipelines", "show", "retrain", "--json").stdout) == []
    missing = lanza("pipelines", "show", "nope")
    assert missing.returncode == 1
    assert "There is no pipeline named 'nope'." in missing.stderr
    once = lanza("scheduler", "--once")
    assert once.returncode == 0, once.stderr
    exported = lanza("export", "-o", "exported.yaml")
    assert exported.returncode == 0, exported.stderr
    assert lanza("plan", "-f", "exported.yaml").stdout.strip() == (
        "No changes: the running state matches the file."
    )
    (project / "bad.yaml").write_text(
        "deployments:\n  - name: churn\n    model: churn@champion\n    device: tpu\n"
    )
    bad = lanza("plan", "-f", "bad.yaml")
    assert bad.returncode == 1
    assert "bad.yaml line 4: deployments[0].device: Input should be 'cpu', 'cuda' or 'auto'." in (
        " ".join(bad.stderr.split())
    )
    assert "Traceback" not in bad.stderr


LLM = """
llm_deployments:
  - name: chat
    provider: openai
    model: gpt-4o-mini
    base_url: https://api.example.com/v1
    api_key_env: EXAMPLE_KEY
    fallback: zz-backup
  - name: zz-backup
    provider: openai
    model: small
    base_url: https://backup.example.com/v1
"""


def test_llm_deployments_with_a_fallback(workspace: Workspace, tmp_path: Path) -> None:
    from lanza.llm.gateway.store import LLMDeploymentStore

    applier = Applier(workspace, tmp_path)
    created = applier.apply(load_text(LLM))
    # the fallback target is created first, whatever the names' order
    assert [c.name for c in created.changes] == ["zz-backup", "chat"]
    assert LLMDeploymentStore(workspace.database).get("chat").fallback == "zz-backup"
    assert applier.apply(load_text(LLM)).empty
    plan = make_plan(load_text(LLM.replace("model: small", "model: medium")), workspace)
    assert render(plan) == [
        "~ llm_deployment zz-backup",
        "    model: 'small' -> 'medium'",
        "Plan: 0 to create, 1 to update, 0 to delete.",
    ]
    assert "llm_deployments:" in to_yaml(export_state(workspace))
    removed = applier.apply(load_text("version: 1\n"))
    # the deployment that falls back to another is deleted before it
    assert [(c.action, c.name) for c in removed.changes] == [
        ("delete", "chat"),
        ("delete", "zz-backup"),
    ]
    assert LLMDeploymentStore(workspace.database).list() == []


PROMPTS = """
prompts:
  - name: greet
    template: "Hello {{name}}, how can I help?"
    aliases: [production]
"""


def test_prompts_become_versions_and_aliases(workspace: Workspace, tmp_path: Path) -> None:
    from lanza.llm.prompts.registry import PromptStore

    applier = Applier(workspace, tmp_path)
    assert [c.action for c in applier.apply(load_text(PROMPTS)).changes] == ["create"]
    store = PromptStore(workspace.mlflow)
    assert store.get("greet@production").version == 1
    assert applier.apply(load_text(PROMPTS)).empty
    edited = PROMPTS.replace("how can I help?", "what do you need?")
    plan = make_plan(load_text(edited), workspace)
    assert render(plan) == [
        "~ prompt greet",
        "    template: 'Hello {{name}}, how can I help?' -> 'Hello {{name}}, what do you need?'",
        "Plan: 0 to create, 1 to update, 0 to delete.",
    ]
    applier.apply(load_text(edited))
    assert store.get("greet@production").version == 2
    assert applier.apply(load_text(edited)).empty
    assert "prompts:" in to_yaml(export_state(workspace))
    assert [c.action for c in applier.apply(load_text("version: 1\n")).changes] == ["delete"]
    assert store.get("greet@production").version == 2  # history stays in the registry
