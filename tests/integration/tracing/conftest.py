"""A real lanza server on a free port, with its workspace, for the tracing tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lanza.server import create_app
from lanza.settings import Settings, TracingSettings
from lanza.workspace import Workspace
from tests.servers import running


@dataclass
class Server:
    """Where the server listens and the workspace it serves."""

    url: str
    workspace: Workspace


def serve(home: Path, export_interval_s: float = 0.0) -> Iterator[Server]:
    """Run a server on ``home``; MLflow export off unless an interval is given."""
    settings = Settings(
        home=home, tracing=TracingSettings(mlflow_export_interval_s=export_interval_s)
    )
    workspace = Workspace(settings)
    with running(create_app(workspace=workspace)) as url:
        yield Server(url, workspace)


@pytest.fixture
def server(home: Path) -> Iterator[Server]:
    """A server of its own, with the MLflow export turned off."""
    yield from serve(home)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole module (starting one costs seconds); tests use distinct names."""
    yield from serve(tmp_path_factory.mktemp("tracing") / "home")
