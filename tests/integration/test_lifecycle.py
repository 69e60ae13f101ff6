"""Promote, roll back, archive and delete move aliases and record history, on both stores."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from lanza.errors import ConflictError, NotFoundError
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame.iloc[:, -6:]


def _versions(ws: Workspace, frame: pd.DataFrame, count: int) -> None:
    for _ in range(count):
        train(
            ws, TrainRequest(frame, "target", "life", candidates=["logistic_regression"], folds=3)
        )


@pytest.mark.slow
def test_lifecycle(any_workspace: Workspace, frame: pd.DataFrame) -> None:
    ws = any_workspace
    registry = ws.registry
    _versions(ws, frame, 3)
    assert registry.get_model("life").aliases == {"champion": "1", "challenger": "3"}

    registry.promote("life", "2", reason="better recall")
    registry.promote("life", "3")
    assert registry.get_model("life").aliases == {"champion": "3"}  # challenger promoted

    move = registry.rollback("life")
    assert (move.from_version, move.to_version, move.action) == ("3", "2", "rollback")
    assert registry.rollback("life").to_version == "1"
    with pytest.raises(ConflictError, match="no earlier 'champion' version"):
        registry.rollback("life")

    with pytest.raises(ConflictError, match="is the champion"):
        registry.archive("life", "1")
    archived = registry.archive("life", "3")
    assert archived.archived
    assert archived.aliases == []
    with pytest.raises(ConflictError, match="archived"):
        registry.promote("life", "3")

    history = registry.alias_history("life")
    assert [(m.alias, m.from_version, m.to_version, m.action) for m in history] == [
        ("champion", None, "1", "promote"),
        ("challenger", None, "2", "promote"),
        ("challenger", "2", "3", "promote"),
        ("champion", "1", "2", "promote"),
        ("champion", "2", "3", "promote"),
        ("challenger", "3", None, "remove"),
        ("champion", "3", "2", "rollback"),
        ("champion", "2", "1", "rollback"),
    ]
    assert history[3].reason == "better recall"
    assert all(m.actor for m in history)

    with pytest.raises(ConflictError, match="is the champion"):
        registry.delete("life", "1")
    registry.delete("life", "2")
    assert [v.version for v in registry.list_versions("life")] == ["3", "1"]
    registry.delete("life", force=True)
    with pytest.raises(NotFoundError, match="no registered model named 'life'"):
        registry.get_model("life")
    assert registry.alias_history("life") == []


def test_unknown_things_are_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no registered model named 'ghost'"):
        workspace.registry.resolve("ghost@champion")
