"""Evaluators, guardrails and default prompt experiments as code: ``lanza apply`` makes
them, ``lanza plan`` then sees nothing to do, ``lanza export`` writes them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lanza.cli.app import app as cli
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.online.store import EvaluatorStore
from lanza.settings import Settings
from lanza.workspace import Workspace

FILE = """
version: 1
llm_deployments:
  - name: gpt
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: gpt-4o-mini
    prompt: support@production=90,support@candidate=10
    guardrails:
      pii: [email, iban]
      banned_words: [acme]
      max_chars: 4000
evaluators:
  - name: support-quality
    filter: name=support run_type=chain
    sample: 0.1
    scorers: [judge, regex]
    judge: gpt
    pattern: thank
    alert_below: 3.5
    alert_window: 200
"""


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("LANZA_HOME", str(home))
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_apply_plan_export_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    spec = tmp_path / "lanza.yaml"
    spec.write_text(FILE)
    _run(home, monkeypatch, "apply", "-f", str(spec))
    workspace = Workspace(Settings(home=home))
    try:
        evaluator = EvaluatorStore(workspace.database).get("support-quality")
        assert evaluator.terms == {"name": "support", "run_type": "chain"}
        assert evaluator.alert_below == 3.5
        gpt = LLMDeploymentStore(workspace.database).get("gpt")
        assert gpt.guardrails.pii == ["email", "iban"]
        assert gpt.prompt == "support@production=90,support@candidate=10"
    finally:
        workspace.close()
    plan = json.loads(_run(home, monkeypatch, "plan", "-f", str(spec), "--json"))
    assert plan["changes"] == []
    exported = yaml.safe_load(_run(home, monkeypatch, "export"))
    assert exported["evaluators"][0]["name"] == "support-quality"
    assert exported["llm_deployments"][0]["guardrails"]["banned_words"] == ["acme"]
    spec.write_text(FILE.replace("sample: 0.1", "sample: 0.5"))
    changed = json.loads(_run(home, monkeypatch, "plan", "-f", str(spec), "--json"))
    assert [(c["kind"], c["action"]) for c in changed["changes"]] == [("evaluator", "update")]


def test_queue_and_evaluator_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _run(
        home, monkeypatch, "evaluators", "add", "tone", "--scorers", "regex", "--pattern", "thanks"
    )
    out = _run(
        home,
        monkeypatch,
        "evaluators",
        "queues",
        "add",
        "rude",
        "--evaluator",
        "tone",
        "--scorer",
        "regex",
        "--below",
        "0.5",
    )
    assert "review it at http://127.0.0.1:8000/annotate/rude" in out
    listed = json.loads(_run(home, monkeypatch, "evaluators", "queues", "list", "--json"))
    assert listed[0]["name"] == "rude"
    assert listed[0]["below"] == 0.5
    agreement = json.loads(
        _run(home, monkeypatch, "evaluators", "queues", "agreement", "rude", "--json")
    )
    assert agreement == {"queue": "rude", "reviews": 0, "evaluators": []}
    assert "Queue rude deleted." in _run(
        home, monkeypatch, "evaluators", "queues", "delete", "rude"
    )
    assert json.loads(_run(home, monkeypatch, "evaluators", "queues", "list", "--json")) == []
    monkeypatch.setenv("LANZA_HOME", str(home))
    bad = CliRunner().invoke(cli, ["evaluators", "add", "x", "--scorers", "judge,psychic"])
    assert bad.exit_code != 0
    assert str(bad.exception) == (
        "Evaluator field 'scorers.1': Input should be 'judge', 'regex' or 'similarity'."
    )
