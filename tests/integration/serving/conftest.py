"""A registry with two versions of a small model, and a server factory over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from lanza.settings import ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.conftest import CANCER_FEATURES

FEATURES = CANCER_FEATURES


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory, cancer: pd.DataFrame) -> Path:
    """A home whose registry holds cancer/1 (champion, linear) and cancer/2 (challenger, tree)."""
    home = tmp_path_factory.mktemp("serving-home")
    ws = Workspace(Settings(home=home))
    train(ws, TrainRequest(cancer, "target", "cancer", candidates=["logistic_regression"], folds=3))
    train(ws, TrainRequest(cancer, "target", "cancer", candidates=["decision_tree"], folds=3))
    ws.close()
    return home


@pytest.fixture
def serving_workspace(model_home: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on the shared registry with its own fresh lanza database."""
    settings = Settings(
        home=model_home,
        database_url=f"sqlite:///{tmp_path}/lanza.db",
        server=ServerSettings(poll_interval_s=0.3),
    )
    ws = Workspace(settings)
    yield ws
    ws.close()
