"""A registry with a small model that has a category input, and a server factory over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from lanza.server import create_app
from lanza.settings import MonitoringSettings, ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.servers import running, wait_for

FEATURES = ["mean_radius", "mean_texture", "worst_area"]
Serve = Callable[..., AbstractContextManager[httpx.Client]]


@pytest.fixture(scope="session")
def clinic_frame() -> pd.DataFrame:
    """Three cancer measurements, a category column and the target."""
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    out = frame[[*FEATURES, "target"]].copy()
    out.insert(3, "clinic", np.random.default_rng(0).choice(["north", "south", "east"], len(out)))
    return out


@pytest.fixture(scope="session")
def pages_home(tmp_path_factory: pytest.TempPathFactory, clinic_frame: pd.DataFrame) -> Path:
    """A home whose registry holds cancer/1 (logistic regression) with its reference sample."""
    home = tmp_path_factory.mktemp("pages-home")
    ws = Workspace(Settings(home=home))
    request = TrainRequest(
        clinic_frame, "target", "cancer", candidates=["logistic_regression"], folds=3
    )
    train(ws, request)
    ws.close()
    return home


@pytest.fixture
def pages_settings(pages_home: Path, tmp_path: Path) -> Settings:
    """Settings on the shared registry, a fresh lanza database and fast monitoring rounds."""
    return Settings(
        home=pages_home,
        database_url=f"sqlite:///{tmp_path}/lanza.db",
        server=ServerSettings(poll_interval_s=0.3),
        monitoring=MonitoringSettings(flush_interval_s=0.1, interval_s=0.3, window=200, min_rows=5),
    )


@pytest.fixture
def serve(pages_settings: Settings) -> Serve:
    """Start a server with deployment 'c' on cancer/1; yields an HTTP client on it."""

    @contextmanager
    def start(settings: Settings | None = None) -> Iterator[httpx.Client]:
        ws = Workspace(settings or pages_settings)
        try:
            with (
                running(create_app(workspace=ws)) as url,
                httpx.Client(base_url=url, timeout=30) as http,
            ):
                made = http.post("/api/v1/deployments", json={"name": "c", "model": "cancer/1"})
                assert made.status_code == 201, made.text
                wait_for(lambda: http.get("/api/v1/deployments/c").json()["status"] == "ready")
                yield http
        finally:
            ws.close()

    return start


def record(row: pd.Series) -> dict[str, object]:
    """A frame row as the JSON a client sends (no target)."""
    return {
        "mean_radius": float(row["mean_radius"]),
        "mean_texture": float(row["mean_texture"]),
        "worst_area": float(row["worst_area"]),
        "clinic": str(row["clinic"]),
    }
