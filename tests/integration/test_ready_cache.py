"""The ready-to-load form of registered models: read on the next load, rebuilt when its
entry is corrupted, never read for another version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier

from lanza.runtime import loader as loader_module
from lanza.runtime.ready import SUFFIX
from lanza.runtime.serialization import dump_model, trusted_types
from lanza.settings import Settings
from lanza.workspace import Workspace

FLAVOURS = {"sklearn": "checked", "xgboost": "load_xgboost"}  # what builds each on a miss


def _table(seed: int) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = ((x["a"] + (seed % 3 - 1) * x["b"]) > 0).astype(int).to_numpy()
    return x, y


def _register(workspace: Workspace, flavour: str, seed: int) -> pd.DataFrame:
    """Log and register a version of model ``m`` trained on table ``seed``; its inputs."""
    x, y = _table(seed)
    mlflow.set_tracking_uri(workspace.settings.tracking)
    try:
        with mlflow.start_run():
            signature = infer_signature(x, y)
            if flavour == "sklearn":
                model: Any = RandomForestClassifier(n_estimators=5, random_state=seed).fit(x, y)
                mlflow.sklearn.log_model(
                    model,
                    name="m",
                    serialization_format="skops",
                    skops_trusted_types=trusted_types(dump_model(model)),
                    signature=signature,
                    registered_model_name="m",
                    pip_requirements=[],
                )
            else:
                model = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(x, y)
                mlflow.xgboost.log_model(
                    model,
                    name="m",
                    signature=signature,
                    registered_model_name="m",
                    pip_requirements=[],
                )
    finally:
        mlflow.set_tracking_uri(None)
    return x


def _counting(monkeypatch: pytest.MonkeyPatch, flavour: str) -> Counter[str]:
    """Counts the loads that built the model from its artifacts (cache misses)."""
    name = FLAVOURS[flavour]
    real: Callable[..., Any] = getattr(loader_module, name)
    built: Counter[str] = Counter()

    def build(*args: Any) -> Any:
        built[flavour] += 1
        return real(*args)

    monkeypatch.setattr(loader_module, name, build)
    return built


def _fresh(workspace: Workspace) -> Workspace:
    """Another process's view of the same home: a new loader, the same disk."""
    return Workspace(Settings(home=workspace.settings.home))


def _entries(workspace: Workspace) -> list[Path]:
    return sorted((workspace.settings.model_cache / ".ready").glob(f"*{SUFFIX}"))


def _predict(workspace: Workspace, ref: str, x: pd.DataFrame) -> list[Any]:
    loaded = workspace.loader.load(ref)
    return list(loaded.runtime.predict_frame(x.head(20)).to_list())


@pytest.fixture(params=["sklearn", "xgboost"])
def flavour(request: pytest.FixtureRequest) -> str:
    """Each flavour with a ready-to-load form."""
    return str(request.param)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, flavour: str) -> Counter[str]:
    """Loads of the flavour that built the model from its artifacts (cache misses)."""
    return _counting(monkeypatch, flavour)


def test_the_second_load_reads_the_ready_form(
    workspace: Workspace, flavour: str, built: Counter[str]
) -> None:
    x = _register(workspace, flavour, 0)
    first = _predict(workspace, "m/1", x)
    assert built[flavour] == 1
    assert len(_entries(workspace)) == 1
    other = _fresh(workspace)
    try:
        assert _predict(other, "m/1", x) == first
    finally:
        other.close()
    assert built[flavour] == 1  # read from the entry, not built again


def test_a_corrupted_entry_is_detected_and_rebuilt(
    workspace: Workspace, flavour: str, built: Counter[str]
) -> None:
    x = _register(workspace, flavour, 0)
    first = _predict(workspace, "m/1", x)
    (entry,) = _entries(workspace)
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern in the middle of the pickle
    entry.write_bytes(bytes(data))
    assert _predict(workspace, "m/1", x) == first
    assert built[flavour] == 2  # the bad entry was refused and the model built again
    assert entry.read_bytes() != bytes(data)  # and written anew
    assert _predict(workspace, "m/1", x) == first
    assert built[flavour] == 2  # the rebuilt entry is used


def test_a_new_version_does_not_read_the_old_entry(
    workspace: Workspace, flavour: str, built: Counter[str]
) -> None:
    x = _register(workspace, flavour, 0)
    _register(workspace, flavour, 2)  # trained on other labels: answers differently
    one = _predict(workspace, "m/1", x)
    two = _predict(workspace, "m/2", x)
    assert built[flavour] == 2
    assert len(_entries(workspace)) == 2
    assert one != two
    expected = workspace.loader.load("m/2").runtime.predict_frame(x.head(20)).to_list()
    assert two == expected
    assert built[flavour] == 2
