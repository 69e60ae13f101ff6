"""Online evaluators under ``lanza serve --workers 2``: each trace is scored once (one judge
call, one feedback per scorer), not once per worker that saw it settle. The ``openai``
client calls a real two-worker server, whose gateway reaches a stand-in upstream.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import httpx
import openai
import pytest

from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.llm.conftest import Upstream
from tests.reliability.conftest import Server
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow
CALLS = 30


def _counts(database: Path) -> tuple[int, int, int]:
    """Scores, scored traces and judge calls so far."""
    with sqlite3.connect(database) as connection:
        scores, traces = connection.execute(
            "select count(*), count(distinct trace_id) from llm_evaluator_scores"
        ).fetchone()
        (judged,) = connection.execute(
            "select count(*) from traces where name = 'judge grader'"
        ).fetchone()
    return int(scores), int(traces), int(judged)


def test_two_workers_score_each_trace_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    models = {"upstream-model": {"input": 2.0, "output": 8.0}, "grader": {"input": 1, "output": 1}}
    (home / "prices.json").write_text(json.dumps({"models": models}))
    fake = Upstream()
    with running(fake.app()) as upstream:
        workspace = Workspace(Settings(home=home))
        store = LLMDeploymentStore(workspace.database)
        remote = {"provider": "openai", "base_url": upstream + "/v1", "retries": 0}
        for name, model in (("gpt", "upstream-model"), ("grader", "grader")):
            store.create(LLMDeploymentSpec.model_validate({**remote, "name": name, "model": model}))
        # Both workers would migrate a new MLflow database at once (a race of its own).
        workspace.mlflow.search_experiments()
        workspace.close()
        env = {
            **os.environ,
            "LANZA_HOME": str(home),
            "LANZA_LLM__PRICES_PATH": str(home / "prices.json"),
            "LANZA_SERVER__GRPC_PORT": "0",
            "LANZA_TRACING__MLFLOW_EXPORT_INTERVAL_S": "0",
        }
        server = Server(env, tmp_path / "server.log", workers=2)
        server.start()
        try:
            rule = {"name": "q", "filter": "name=gpt", "scorers": ["judge"], "judge": "grader"}
            made = httpx.post(f"{server.url}/api/v1/evaluators", json=rule)
            assert made.status_code == 201, made.text
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)
            for i in range(CALLS):
                client.chat.completions.create(
                    model="gpt", messages=[{"role": "user", "content": f"question {i}"}]
                )
            database = home / "lanza.db"
            wait_for(lambda: _counts(database)[1] == CALLS, timeout=60, interval=0.5)
            time.sleep(3)  # both workers poll every second: a second scoring would show by now
        finally:
            server.stop()
    assert _counts(home / "lanza.db") == (CALLS, CALLS, CALLS)
