"""A small table and a lanza.yaml over it, shared by the automation tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

MODELS = """\
models:
  - name: churn
    data: churn.csv
    target: churned
    candidates: [logistic_regression]
    folds: 2
"""
FILE = """\
version: 1
deployments:
  - name: churn
    model: churn@champion
    max_batch_size: 16
alerts:
  - deployment: churn
    metric: drift_share
    threshold: 0.3
schedules:
  - name: nightly
    model: churn@champion
    input: {folder}/in/{{date}}/*.csv
    output: {folder}/out/{{date}}
    cron: "0 2 * * *"
pipelines:
  - name: retrain
    model: churn
    deployment: churn
    data: churn.csv
    target: churned
    candidates: [logistic_regression]
    folds: 2
    margin: 0.01
    triggers:
      every: 1d
"""


def churn_frame(rows: int = 80, seed: int = 0) -> pd.DataFrame:
    """Two features; the label is whether their sum is positive."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    return pd.DataFrame(x, columns=["a", "b"]).assign(churned=(x.sum(axis=1) > 0).astype(int))


def write_project(folder: Path, models: bool) -> Path:
    """churn.csv and a lanza.yaml (with or without a model to train) in ``folder``."""
    folder.mkdir()
    churn_frame().to_csv(folder / "churn.csv", index=False)
    text = FILE.format(folder=folder)
    if models:
        text = text.replace("version: 1\n", "version: 1\n" + MODELS)
    (folder / "lanza.yaml").write_text(text)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with churn.csv and a lanza.yaml describing the whole setup."""
    return write_project(tmp_path / "project", models=True)


@pytest.fixture
def light_project(tmp_path: Path) -> Path:
    """The same setup without a model to train, for tests about the rest of it."""
    return write_project(tmp_path / "light", models=False)
