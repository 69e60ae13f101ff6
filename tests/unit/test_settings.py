"""Settings: defaults need no server; environment variables override."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanza.settings import Settings


def test_defaults_live_under_home(home: Path) -> None:
    settings = Settings()
    assert settings.home == home.resolve()
    assert settings.tracking == f"sqlite:///{home.resolve()}/mlflow.db"
    assert settings.database == f"sqlite:///{home.resolve()}/lanza.db"
    assert settings.artifact_root == (home.resolve() / "artifacts").as_uri()


def test_mlflow_tracking_uri_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert Settings().tracking == "http://mlflow:5000"
    monkeypatch.setenv("LANZA_TRACKING_URI", "http://other:5000")
    assert Settings().tracking == "http://other:5000"


def test_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANZA_TRAINING__CV_FOLDS", "7")
    assert Settings().training.cv_folds == 7
