"""A registry with a small model, and a monitored server factory over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lanza.server import create_app
from lanza.settings import MonitoringSettings, ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.conftest import CANCER_FEATURES
from tests.servers import running, wait_for

FEATURES = CANCER_FEATURES
Serve = Callable[..., AbstractContextManager[httpx.Client]]


@pytest.fixture(scope="session")
def monitored_home(tmp_path_factory: pytest.TempPathFactory, cancer: pd.DataFrame) -> Path:
    """A home whose registry holds cancer/1 (logistic regression) with its reference sample."""
    home = tmp_path_factory.mktemp("monitoring-home")
    ws = Workspace(Settings(home=home))
    train(
        ws,
        TrainRequest(cancer, "target", "cancer", candidates=["logistic_regression"], folds=3),
    )
    ws.close()
    return home


@pytest.fixture
def monitored_settings(monitored_home: Path, tmp_path: Path) -> Settings:
    """Settings on the shared registry, a fresh lanza database and fast monitoring rounds."""
    return Settings(
        home=monitored_home,
        database_url=f"sqlite:///{tmp_path}/lanza.db",
        server=ServerSettings(poll_interval_s=0.3),
        monitoring=MonitoringSettings(
            flush_interval_s=0.1, interval_s=0.3, window=200, min_rows=30
        ),
    )


@pytest.fixture
def serve(monitored_settings: Settings) -> Serve:
    """Start a server with deployment 'c' on cancer/1; yields an HTTP client on it."""

    @contextmanager
    def start(settings: Settings | None = None, create: bool = True) -> Iterator[httpx.Client]:
        ws = Workspace(settings or monitored_settings)
        try:
            with (
                running(create_app(workspace=ws)) as url,
                httpx.Client(base_url=url, timeout=30) as http,
            ):
                if create:
                    made = http.post("/api/v1/deployments", json={"name": "c", "model": "cancer/1"})
                    assert made.status_code == 201, made.text
                wait_for(lambda: http.get("/api/v1/deployments/c").json()["status"] == "ready")
                yield http
        finally:
            ws.close()

    return start


def predict(
    http: httpx.Client, rows: pd.DataFrame, per_request: int = 1
) -> list[dict[str, object]]:
    """Send ``rows`` in requests of ``per_request`` rows; returns the answers."""
    answers = []
    for start in range(0, len(rows), per_request):
        chunk = rows.iloc[start : start + per_request].to_dict(orient="records")
        answer = http.post(
            "/api/v1/deployments/c/predict", json={"instances": chunk, "probabilities": True}
        )
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    return answers


def report_after(http: httpx.Client, requests: int) -> dict[str, object]:
    """The monitoring report once a round has seen ``requests`` requests."""
    found: dict[str, object] = {}

    def seen() -> bool:
        found.update(http.get("/api/v1/deployments/c/monitoring").json())
        return bool(found.get("history")) and found["traffic"]["requests"] >= requests  # type: ignore[index]

    wait_for(seen, timeout=30, interval=0.2)
    return found
