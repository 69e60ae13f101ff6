"""The serving CLI as users run it: deploy, serve (with Cloud Run's PORT), predict, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.servers import free_port, wait_for

pytestmark = pytest.mark.slow
LANZA = [sys.executable, "-m", "lanza"]


def _env(home: Path, db: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LANZA_HOME": str(home),
        "LANZA_DATABASE_URL": f"sqlite:///{db}",
        "LANZA_SERVER__POLL_INTERVAL_S": "0.3",
        **extra,
    }


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LANZA, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_refuses_a_public_interface_without_keys(model_home: Path, tmp_path: Path) -> None:
    result = _run(_env(model_home, tmp_path / "l.db"), "serve", "--host", "0.0.0.0")
    assert result.returncode == 1
    assert "Refusing to listen on 0.0.0.0 with no API keys" in result.stderr


def test_deploy_serve_predict_and_sigterm(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    port = free_port()
    env = _env(model_home, tmp_path / "l.db", PORT=str(port))
    bad = _run(env, "deploy", "c", "--model", "cancer@nope")
    assert bad.returncode == 1
    assert "has no alias 'nope'" in bad.stderr
    created = _run(env, "deploy", "c", "--model", "cancer@champion", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["model"] == "cancer@champion"
    assert _run(env, "deploy", "c", "--model", "cancer/1").returncode == 1
    listed = json.loads(_run(env, "deployments", "list", "--json").stdout)
    assert [d["name"] for d in listed] == ["c"]

    server = subprocess.Popen(
        [*LANZA, "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: all(_ok(f"{url}/readyz") for _ in range(10)), timeout=90)
        rows = cancer.drop(columns="target").head(2).to_dict(orient="records")
        predicted = _run({**env, "LANZA_URL": url}, "predict", "c", "--input", json.dumps(rows))
        assert predicted.returncode == 0, predicted.stderr
        assert json.loads(predicted.stdout)["model"] == "cancer/1"
        updated = _run(env, "deployments", "update", "c", "--model", "cancer/2")
        assert updated.returncode == 0, updated.stderr
        # Two worker processes share deployments through the database: every answer,
        # whichever worker gives it, soon comes from the new version.
        wait_for(lambda: all(_served(url, rows) == "cancer/2" for _ in range(10)), timeout=60)
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        # uvicorn finishes in-flight requests, then re-raises the signal it caught.
        assert server.wait(timeout=15) in (0, -signal.SIGTERM)
        assert time.monotonic() - began < 10
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()


def _served(url: str, rows: list[dict[str, object]]) -> str:
    answer = httpx.post(f"{url}/api/v1/deployments/c/predict", json={"instances": rows})
    model: str = answer.json()["model"]
    return model


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_on_demand_from_the_cli_under_a_memory_budget(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    port = free_port()
    env = _env(model_home, tmp_path / "l.db", PORT=str(port), LANZA_SERVER__MODEL_MEMORY_MB="64")
    created = _run(env, "deploy", "od", "--model", "cancer/1", "--residency", "on_demand", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["residency"] == "on_demand"
    bad = _run(env, "deploy", "x", "--model", "cancer/1", "--residency", "sometimes")
    assert bad.returncode == 1
    assert "residency" in bad.stderr
    tight = {**env, "LANZA_SERVER__MODEL_MEMORY_MB": "0.001"}
    refused = _run(tight, "deploy", "big", "--model", "cancer/1", "--residency", "on_demand")
    assert refused.returncode == 1
    assert "Deployment 'big' needs" in refused.stderr
    assert "LANZA_SERVER__MODEL_MEMORY_MB" in refused.stderr

    server = subprocess.Popen(
        [*LANZA, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{url}/readyz"), timeout=90)
        state = httpx.get(f"{url}/api/v1/deployments/od").json()["residency"]
        assert state["state"] == "unloaded"
        rows = cancer.drop(columns="target").head(2).to_dict(orient="records")
        answer = httpx.post(f"{url}/api/v1/deployments/od/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        state = httpx.get(f"{url}/api/v1/deployments/od").json()["residency"]
        assert (state["state"], state["loads"]) == ("loaded", 1)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
