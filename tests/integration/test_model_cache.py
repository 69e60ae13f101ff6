"""A model lanza trained on this machine loads without the skops check's cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lanza.training import serialization
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
