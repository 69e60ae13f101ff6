"""A team back end: two ``lanza serve`` processes on one Postgres database for both stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.integration.cloud.conftest import make_rows
from tests.servers import free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_servers_create_deploy_and_predict_concurrently(
    postgres_url: str, tmp_path: Path
) -> None:
    tracking = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    home = tmp_path / "home"
    workspace = Workspace(Settings(home=home, database_url=postgres_url, tracking_uri=tracking))
    frame = make_rows(200, seed=4)
    frame["y"] = (frame["f1"] > 0).astype(int)
    train(workspace, TrainRequest(frame, "y", "clf", candidates=["logistic_regression"], folds=3))
    workspace.close()

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LANZA_")},
        "LANZA_HOME": str(home),
        "LANZA_DATABASE_URL": postgres_url,
        "LANZA_TRACKING_URI": tracking,
        "LANZA_SERVER__POLL_INTERVAL_S": "0.3",
    }
    ports = [free_port(), free_port()]
    # Logs go to files: a pipe nobody reads fills up and blocks the server.
    logs = [tmp_path / f"server-{index}.log" for index in range(2)]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "lanza", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        wait_for(lambda: all(_ready(u) for u in urls), timeout=120)
        jobs = [(urls[i % 2], f"d{i}") for i in range(6)] + [(u, "shared") for u in urls]
        with ThreadPoolExecutor(8) as pool:
            created = list(
                pool.map(
                    lambda job: httpx.post(
                        f"{job[0]}/api/v1/deployments",
                        json={"name": job[1], "model": "clf@champion", "max_batch_size": 4},
                        timeout=180,
                    ),
                    jobs,
                )
            )
        codes = [answer.status_code for answer in created]
        assert codes[:6] == [201] * 6, [a.text for a in created[:6] if a.status_code != 201]
        assert sorted(codes[6:]) == [201, 409]  # one server wins the name, the other is told
        names = sorted(["shared", *(f"d{i}" for i in range(6))])
        for url in urls:
            listed = httpx.get(f"{url}/api/v1/deployments", timeout=30).json()
            assert sorted(d["name"] for d in listed) == names

        rows = make_rows(2, seed=5).to_dict(orient="records")

        def predict(job: tuple[str, str]) -> tuple[int, str]:
            url, name = job
            answer = httpx.post(
                f"{url}/api/v1/deployments/{name}/predict", json={"instances": rows}, timeout=60
            )
            return answer.status_code, answer.json().get("model", answer.text)

        def loaded(job: tuple[str, str]) -> bool:
            try:
                return predict(job)[0] == 200
            except httpx.HTTPError:
                return False

        # Each server loads the deployments the other created once its poll sees them.
        for job in [(u, n) for u in urls for n in names]:
            wait_for(lambda job=job: loaded(job), timeout=180, interval=0.5)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(predict, [(u, n) for u in urls for n in names] * 2))
        assert answers == [(200, "clf/1")] * len(answers)
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(timeout=60)
        for log in logs:
            assert "Traceback" not in log.read_text(), log.read_text()
