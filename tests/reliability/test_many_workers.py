"""On-demand models under ``lanza serve --workers 2``: each worker within its share of the
memory budget, an alias moved both ways under traffic with no failed request, and a worker
killed while it loads a model."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from lanza.serving.residency import folder_bytes
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.reliability.conftest import FEATURES, Server, register_code_model
from tests.servers import wait_for

pytestmark = pytest.mark.slow

SLOW_LOADING = """
import os
import time

import mlflow
import pandas as pd

time.sleep(float(os.environ.get("SLOW_LOAD_SECONDS", "0")))  # runs when the model loads


class Zeros(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return pd.Series([0] * len(model_input))


mlflow.models.set_model(Zeros())
"""


def _server(home: Path, tmp_path: Path, **env: str) -> Server:
    """Two workers over ``home`` (not started)."""
    every = {
        **os.environ,
        "LANZA_HOME": str(home),
        "LANZA_SERVER__POLL_INTERVAL_S": "0.3",
        "LANZA_SERVER__GRPC_PORT": "0",
        "LANZA_TRACING__MLFLOW_EXPORT_INTERVAL_S": "0",
        **env,
    }
    return Server(every, tmp_path / "server.log", workers=2)


def _home(model_home: Path, tmp_path: Path) -> Path:
    """A copy of the shared home this test may add versions and move aliases in."""
    home = tmp_path / "home"
    shutil.copytree(model_home, home)
    (home / "lanza.db").unlink(missing_ok=True)
    return home


def _workers(server: Server) -> list[psutil.Process]:
    """The server's worker processes (those holding the listening socket, not the parent)."""
    assert server.process is not None
    parent = psutil.Process(server.process.pid)
    found = []
    for child in parent.children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == server.port for c in child.net_connections()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _resident_bytes(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    match = re.search(r"^lanza_models_resident_bytes (\S+)$", text, re.MULTILINE)
    assert match is not None
    return float(match[1])


def test_two_workers_keep_their_share_and_swap_on_alias_moves_without_a_failed_request(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    home = _home(model_home, tmp_path)
    ws = Workspace(Settings(home=home))
    first = ws.registry.resolve("cancer/1")
    ws.registry.register("cancer", first.source, first.run_id)  # cancer/2: same artifacts
    ws.registry.promote("cancer", "1")
    size = folder_bytes(ws.loader.download(first))
    ws.close()
    # Room for one model and a half in each worker: three deployments cannot all stay.
    budget_mb = 2 * 1.5 * size / 2**20
    server = _server(home, tmp_path, LANZA_SERVER__MODEL_MEMORY_MB=f"{budget_mb:.4f}")
    server.start()
    row = cancer[FEATURES].iloc[0].to_dict()
    names = ["a", "b", "c"]
    statuses: Counter[int] = Counter()
    served: dict[str, list[str]] = {name: [] for name in names}
    stop = threading.Event()
    refusals: list[str] = []

    def traffic(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            i = offset
            while not stop.is_set():
                name = names[i % len(names)]
                i += 1
                answer = client.post(
                    f"/api/v1/deployments/{name}/predict", json={"instances": [row]}
                )
                statuses[answer.status_code] += 1
                if answer.status_code != 200:
                    refusals.append(answer.text[:300])
                if answer.status_code == 200:
                    served[name].append(answer.json()["model"])

    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for name in names:
                spec = {"name": name, "model": "cancer@champion", "residency": "on_demand"}
                made = http.post("/api/v1/deployments", json=spec)
                assert made.status_code == 201, made.text
            threads = [threading.Thread(target=traffic, args=(i,)) for i in range(4)]
            for thread in threads:
                thread.start()
            try:
                wait_for(lambda: all(len(v) >= 10 for v in served.values()), timeout=120)
                assert {m for v in served.values() for m in v} == {"cancer/1"}
                workspace = Workspace(Settings(home=home))
                try:
                    for target in ("2", "1"):  # promoted, then rolled back
                        if target == "2":
                            workspace.registry.promote("cancer", "2")
                        else:
                            workspace.registry.rollback("cancer")
                        marks = {n: len(served[n]) for n in names}

                        def moved(
                            want: str = f"cancer/{target}", marks: dict[str, int] = marks
                        ) -> bool:
                            # Every deployment answered from the new version 20 times in a
                            # row: both workers, wherever it was resident, swapped.
                            return all(
                                len(served[n]) > marks[n] + 20 and set(served[n][-20:]) == {want}
                                for n in names
                            )

                        wait_for(moved, timeout=120)
                finally:
                    workspace.close()
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
            assert set(statuses) == {200}, (statuses, refusals[:3])
            # Back under each worker's share once requests stop; ask several times, as each
            # answer comes from whichever worker took the connection.
            share = budget_mb * 2**20 / 2
            for _ in range(8):
                wait_for(lambda: _resident_bytes(server.url) <= share)
    finally:
        server.stop()


def test_a_worker_killed_while_loading_a_model_leaves_a_server_that_answers(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    home = _home(model_home, tmp_path)
    code = tmp_path / "slow_loading.py"
    code.write_text(SLOW_LOADING)
    register_code_model(home, code, "slowload", cancer[FEATURES].head(2))
    server = _server(home, tmp_path, SLOW_LOAD_SECONDS="4", LANZA_ALLOW_PICKLE="true")
    server.start()
    row = cancer[FEATURES].iloc[0].to_dict()
    body = {"instances": [row]}
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            spec = {"name": "s", "model": "slowload/1", "residency": "on_demand"}
            assert http.post("/api/v1/deployments", json=spec).status_code == 201
        before = {p.pid for p in _workers(server)}
        assert len(before) == 2
        outcome: list[object] = []

        def first_request() -> None:
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    outcome.append(client.post("/api/v1/deployments/s/predict", json=body))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        pending = threading.Thread(target=first_request)
        pending.start()

        def loading() -> psutil.Process | None:
            # The worker that took the request holds its connection while it loads.
            for worker in _workers(server):
                for connection in worker.net_connections():
                    if (
                        connection.status == psutil.CONN_ESTABLISHED
                        and connection.laddr.port == server.port
                    ):
                        return worker
            return None

        deadline = time.monotonic() + 20
        victim = loading()
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.02)
            victim = loading()
        assert victim is not None, ("no worker took the first request", outcome)
        time.sleep(0.5)  # well inside the 4 s load
        assert pending.is_alive(), "the load ended before the worker was killed"
        victim.send_signal(signal.SIGKILL)
        pending.join(timeout=60)
        (result,) = outcome
        answered = isinstance(result, httpx.Response) and result.status_code == 200
        assert not answered, "the killed worker answered"

        with httpx.Client(base_url=server.url, timeout=60) as http:
            answer = http.post("/api/v1/deployments/s/predict", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == [0]
            # The dead worker is replaced, and the server answers from both.
            wait_for(
                lambda: (
                    len(_workers(server)) == 2
                    and victim.pid not in {p.pid for p in _workers(server)}
                ),
                timeout=60,
            )
            for _ in range(6):
                again = http.post("/api/v1/deployments/s/predict", json=body)
                assert again.status_code == 200, again.text
    finally:
        server.stop()


def test_two_workers_start_together_on_a_brand_new_home(tmp_path: Path) -> None:
    """Neither worker dies setting up a new home's stores while the other does the same."""
    home = tmp_path / "new-home"
    server = _server(home, tmp_path)
    server.start()
    try:
        wait_for(lambda: len(_workers(server)) == 2, timeout=60, interval=0.2)
        first = {p.pid for p in _workers(server)}
        for _ in range(10):
            assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
        assert {p.pid for p in _workers(server)} == first  # no worker died and was replaced
        log = server.log.read_text()
        assert "Traceback" not in log, log[-3000:]
        assert "duplicate column" not in log, log[-3000:]
        assert (home / "mlflow.db").exists()
        assert (home / "lanza.db").exists()
    finally:
        server.stop()
