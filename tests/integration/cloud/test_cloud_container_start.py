"""The image's entry command, run as the Dockerfile says, outside a container.

No container engine runs here, so each test reads ``ENV`` and ``CMD`` from the written
Dockerfile and runs that command from the build context, as ``WORKDIR /app`` would,
with a fresh ``LANZA_HOME`` standing in for the container's disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lanza.cli.app import app
from lanza.workspace import Workspace
from tests.integration.cloud.conftest import lanza_executable, make_rows
from tests.servers import free_port, wait_for

pytestmark = pytest.mark.slow


def _package(*args: str) -> Path:
    result = CliRunner().invoke(app, ["package", "fraud", *args])
    assert result.exit_code == 0, result.output
    return Path("build/fraud").resolve()


def _image(folder: Path) -> tuple[list[str], dict[str, str]]:
    """The CMD and the ENV lines of the Dockerfile."""
    lines = (folder / "Dockerfile").read_text().splitlines()
    env = dict(line.removeprefix("ENV ").split("=", 1) for line in lines if line.startswith("ENV "))
    cmd = json.loads(next(line for line in lines if line.startswith("CMD [")).removeprefix("CMD "))
    return cmd, env


@contextmanager
def _container(folder: Path, state: Path, **env: str) -> Iterator[subprocess.Popen[str]]:
    cmd, image_env = _image(folder)
    assert cmd[0] == "lanza"
    host_env = {k: v for k, v in os.environ.items() if not k.startswith(("LANZA_", "AIP_"))}
    host_env.pop("PORT", None)
    log = state.parent / "container.log"
    with log.open("w") as sink:
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server.
        process = subprocess.Popen(
            [lanza_executable(), *cmd[1:]],
            cwd=folder,
            env={**host_env, **image_env, "LANZA_HOME": str(state), **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            print(log.read_text())


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _rows() -> list[dict[str, float]]:
    return make_rows(3, seed=9).to_dict(orient="records")  # type: ignore[return-value]


def test_bundle_serves_on_port_with_the_original_versions(fraud: Workspace, tmp_path: Path) -> None:
    folder = _package()
    port = free_port()
    with _container(folder, tmp_path / "state", PORT=str(port)) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: process.poll() is not None or _ok(f"{url}/readyz"), timeout=120)
        assert process.poll() is None, "the entry command exited"
        answer = httpx.post(
            f"{url}/api/v1/deployments/fraud/predict", json={"instances": _rows()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
        assert answer.json()["model"] in {"clf/1", "clf/2"}
        model = httpx.get(f"{url}/api/v1/models/clf", timeout=30).json()
        assert model["aliases"] == {"champion": "1", "challenger": "2"}
        assert [v["version"] for v in model["versions"]] == ["2", "1"]
        mlflow = httpx.post(f"{url}/invocations", json={"dataframe_records": _rows()}, timeout=30)
        assert mlflow.status_code == 200, mlflow.text
    # The container's own stores, not the packaging machine's, hold what it registered.
    assert (tmp_path / "state" / "mlflow.db").exists()
    assert (tmp_path / "state" / "lanza.db").exists()


def test_bundle_answers_vertex_ai_on_its_routes_and_port(fraud: Workspace, tmp_path: Path) -> None:
    folder = _package()
    port, other = free_port(), free_port()
    routes = {"AIP_HEALTH_ROUTE": "/v1/health", "AIP_PREDICT_ROUTE": "/v1/models/fraud:predict"}
    with _container(
        folder, tmp_path / "state", AIP_HTTP_PORT=str(port), PORT=str(other), **routes
    ) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: process.poll() is not None or _ok(f"{url}/v1/health"), timeout=120)
        assert process.poll() is None, "the entry command exited"
        answer = httpx.post(
            f"{url}/v1/models/fraud:predict", json={"instances": _rows()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
        assert answer.json()["deployedModelId"] in {"clf/1", "clf/2"}
        assert not _ok(f"http://127.0.0.1:{other}/healthz")


def test_registry_source_pulls_from_the_shared_stores(
    fraud: Workspace, cloud_home: Path, tmp_path: Path
) -> None:
    folder = _package("--source", "registry")
    port = free_port()
    shared = {
        "LANZA_TRACKING_URI": f"sqlite:///{cloud_home}/mlflow.db",
        "LANZA_DATABASE_URL": f"sqlite:///{tmp_path}/team.db",
        "PORT": str(port),
    }
    with _container(folder, tmp_path / "state", **shared) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: process.poll() is not None or _ok(f"{url}/readyz"), timeout=120)
        assert process.poll() is None, "the entry command exited"
        answer = httpx.post(
            f"{url}/api/v1/deployments/fraud/predict", json={"instances": _rows()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
    assert not (tmp_path / "state" / "mlflow.db").exists()
    assert (tmp_path / "team.db").exists()
