"""A model lanza trained on this machine loads without the skops check's cost."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lanza.runtime import loader as loader_module
from lanza.runtime import serialization
from lanza.runtime.loader import ModelLoader, local_folder
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace


def test_a_trained_model_loads_from_the_signed_cache(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["y"] = (frame["a"] > 0).astype(int)
    train(workspace, TrainRequest(frame, "y", "cached", candidates=["logistic_regression"]))

    def refuse(_: bytes) -> None:
        raise AssertionError("the skops path ran although training cached the model")

    monkeypatch.setattr(serialization, "load_model", refuse)
    loaded = workspace.loader.load("cached@champion")
    answer = loaded.runtime.predict_frame(frame[["a", "b", "c"]].head(3))
    assert list(answer.to_list()) == frame["y"].head(3).tolist()


def _trained(workspace: Workspace) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["y"] = (frame["a"] > 0).astype(int)
    train(workspace, TrainRequest(frame, "y", "copied", candidates=["logistic_regression"]))
    shutil.rmtree(workspace.settings.model_cache / "copied", ignore_errors=True)  # a first load
    return frame


def test_a_version_in_the_local_artifact_store_is_copied_without_mlflow(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _trained(workspace)

    def refuse(*_: object) -> None:
        raise AssertionError("MLflow fetched a model whose artifacts are on this machine")

    monkeypatch.setattr(ModelLoader, "_fetch", refuse)
    version = workspace.loader.resolve("copied@champion")
    assert workspace.loader.on_this_machine(version)
    loaded = workspace.loader.load_version(version)
    assert (workspace.settings.model_cache / "copied" / version.version / "MLmodel").exists()
    answer = loaded.runtime.predict_frame(frame[["a", "b", "c"]].head(3))
    assert list(answer.to_list()) == frame["y"].head(3).tolist()


def test_a_version_stored_elsewhere_is_fetched_through_mlflow(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _trained(workspace)
    monkeypatch.setattr(loader_module, "local_folder", lambda source: None)
    version = workspace.loader.resolve("copied@champion")
    assert not workspace.loader.on_this_machine(version)
    loaded = workspace.loader.load_version(version)
    answer = loaded.runtime.predict_frame(frame[["a", "b", "c"]].head(3))
    assert list(answer.to_list()) == frame["y"].head(3).tolist()


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("file://{folder}", True),
        ("file://localhost{folder}", True),
        ("{folder}", True),
        ("file://{folder}/missing", False),
        ("file://otherhost{folder}", False),
        ("gs://bucket{folder}", False),
        ("models:/m-0123", False),
    ],
)
def test_local_folders_are_told_from_remote_sources(
    tmp_path: Path, source: str, found: bool
) -> None:
    folder = tmp_path / "a model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    uri = source.format(folder=str(folder).replace(" ", "%20") if "://" in source else folder)
    assert (local_folder(uri) == folder) is found
