"""A registry with two versions of a small classifier, and a deployment that uses both."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lanza.serving.spec import DeploymentSpec, Route
from lanza.serving.store import DeploymentStore
from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace

FEATURES = ["f0", "f1", "f2"]


def make_rows(rows: int, seed: int = 0) -> pd.DataFrame:
    """Three numeric features."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, len(FEATURES))).round(4), columns=FEATURES)


@pytest.fixture(scope="session")
def cloud_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose registry has ``clf/1`` (champion) and ``clf/2`` (challenger)."""
    home = tmp_path_factory.mktemp("cloud-home")
    frame = make_rows(300, seed=3)
    frame["y"] = (frame["f0"] - frame["f2"] > 0).astype(int)
    workspace = Workspace(Settings(home=home))
    for _ in range(2):
        train(
            workspace, TrainRequest(frame, "y", "clf", candidates=["logistic_regression"], folds=3)
        )
    workspace.close()
    return home


@pytest.fixture
def cloud_env(cloud_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """LANZA_* for the shared registry and a fresh lanza database, set for this test."""
    env = {"LANZA_HOME": str(cloud_home), "LANZA_DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def fraud(cloud_env: dict[str, str]) -> Iterator[Workspace]:
    """The deployment ``fraud``: 90 % clf@champion, 10 % clf@challenger."""
    workspace = Workspace(Settings())
    DeploymentStore(workspace.database).create(
        DeploymentSpec(
            name="fraud",
            traffic=[
                Route(model="clf@champion", weight=90),
                Route(model="clf@challenger", weight=10),
            ],
        )
    )
    yield workspace
    workspace.close()


def lanza_executable() -> str:
    """The ``lanza`` console script of this environment (what the image's CMD calls)."""
    found = Path(sys.executable).parent / "lanza"
    assert found.exists(), found
    return str(found)
