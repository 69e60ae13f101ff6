"""A registry with a small model, and ``lanza serve`` run as a real process over it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.conftest import CANCER_FEATURES
from tests.pgcluster import PgCluster, available
from tests.servers import free_port, wait_for

FEATURES = CANCER_FEATURES


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory, cancer: pd.DataFrame) -> Path:
    """A home whose registry holds cancer/1 (logistic regression)."""
    home = tmp_path_factory.mktemp("reliability-home")
    ws = Workspace(Settings(home=home))
    train(ws, TrainRequest(cancer, "target", "cancer", candidates=["logistic_regression"], folds=3))
    ws.close()
    return home


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs (root only); skipped with the reason where it cannot be mounted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


SLOW_MODEL = """
import os
import time

import mlflow
import pandas as pd


class Slow(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        return pd.Series([0] * len(model_input))


mlflow.models.set_model(Slow())
"""


@pytest.fixture(scope="session")
def slow_model(model_home: Path, cancer: pd.DataFrame) -> str:
    """Registers slow/1: a pyfunc (code, so pickle-class) that sleeps $SLOW_SECONDS per call."""
    code = model_home / "slow_model.py"
    code.write_text(SLOW_MODEL)
    register_code_model(model_home, code, "slow", cancer[FEATURES].head(2))
    return "slow/1"


def register_code_model(home: Path, code: Path, name: str, example: pd.DataFrame) -> None:
    """Log the pyfunc model the file ``code`` defines and register it as ``name``."""
    import mlflow

    ws = Workspace(Settings(home=home))
    experiment = ws.experiment_id("reliability")
    mlflow.set_tracking_uri(ws.settings.tracking)
    try:
        with mlflow.start_run(experiment_id=experiment):
            mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                input_example=example,
                registered_model_name=name,
            )
    finally:
        mlflow.set_tracking_uri(None)
        ws.close()


@dataclass
class Server:
    """One ``lanza serve`` process; ``start`` again after a kill to restart it."""

    env: dict[str, str]
    log: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        with self.log.open("ab") as sink:
            command = [sys.executable, "-m", "lanza", "serve", "--port", str(self.port)]
            self.process = subprocess.Popen(
                [*command, "--workers", str(self.workers)],
                env=self.env,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
        wait_for(self._up, timeout=90, interval=0.2)

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"lanza serve exited:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, signum: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(30)


@pytest.fixture
def lanza_server(model_home: Path, tmp_path: Path) -> Iterator[Server]:
    """A server (not started) on the shared registry, with its own database and journal."""
    env = {
        **os.environ,
        "LANZA_HOME": str(model_home),
        "LANZA_DATABASE_URL": f"sqlite:///{tmp_path}/lanza.db",
        "LANZA_SERVER__POLL_INTERVAL_S": "0.3",
        "LANZA_TRACING__MLFLOW_EXPORT_INTERVAL_S": "0",
        "LANZA_MONITORING__FLUSH_INTERVAL_S": "5",
    }
    server = Server(env, tmp_path / "server.log")
    yield server
    server.stop()


def deploy(url: str, name: str = "c", model: str = "cancer/1") -> None:
    """Create a deployment and wait until it serves."""
    with httpx.Client(base_url=url, timeout=30) as http:
        made = http.post("/api/v1/deployments", json={"name": name, "model": model})
        assert made.status_code == 201, made.text
        wait_for(lambda: http.get(f"/api/v1/deployments/{name}").json()["status"] == "ready")


@pytest.fixture
def own_postgres() -> Iterator[PgCluster]:
    """A private Postgres cluster this test may stop and start (the shared one stays up)."""
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"a private PostgreSQL cluster cannot be made: {reason}")
        pytest.skip(f"a private PostgreSQL cluster cannot be made: {reason}")
    cluster = PgCluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def renamed_model(model_home: Path, cancer: pd.DataFrame) -> str:
    """Registers renamed/1: cancer/1's task, trained on other column names."""
    frame = cancer.rename(columns={c: f"x_{c}" for c in FEATURES})
    ws = Workspace(Settings(home=model_home))
    try:
        train(
            ws,
            TrainRequest(frame, "target", "renamed", candidates=["logistic_regression"], folds=3),
        )
    finally:
        ws.close()
    return "renamed/1"
