"""A registry holding one small classifier, and input files to score with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace

FEATURES = ["f0", "f1", "f2", "f3"]


def make_rows(rows: int, seed: int = 0) -> pd.DataFrame:
    """``id`` plus four numeric features."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))).round(5), columns=FEATURES)
    frame.insert(0, "id", [f"id{i}" for i in range(rows)])
    return frame


@pytest.fixture(scope="session")
def batch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose registry has ``clf/1`` as champion."""
    home = tmp_path_factory.mktemp("batch-home")
    frame = make_rows(400, seed=1).drop(columns=["id"])
    frame["y"] = (frame["f0"] + frame["f1"] > 0).astype(int)
    workspace = Workspace(Settings(home=home))
    train(workspace, TrainRequest(frame, "y", "clf", candidates=["logistic_regression"], folds=3))
    workspace.close()
    return home


@pytest.fixture
def batch_workspace(batch_home: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on the shared registry with its own lanza database."""
    workspace = Workspace(Settings(home=batch_home, database_url=f"sqlite:///{tmp_path}/l.db"))
    yield workspace
    workspace.close()
