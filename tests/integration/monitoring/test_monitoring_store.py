"""The log, ground truth and windows on both databases lanza supports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanza.monitoring.feedback import FeedbackItem, FeedbackStore
from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.window import logged_deployments, read_window
from lanza.monitoring.writer import PredictionLog
from lanza.serving.dataplane import PredictionRecord
from lanza.settings import MonitoringSettings
from lanza.store import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/lanza.db"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    db.migrate()
    yield db
    db.dispose()


def _record(i: int) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"r{i}",
        deployment="d",
        model="m/1",
        face="native",
        columns={"x": [float(i), float("nan")], "k": ["a", "b"]},
        predictions=[1, 0],
        probabilities=[[0.2, 0.8], [0.7, 0.3]],
        classes=[0, 1],
        latency_ms=float(i),
        created_at=time.time(),
    )


def test_log_feedback_and_window_round_trip(database: Database) -> None:
    writer = PredictionLog(database, MonitoringSettings(), MonitoringMetrics())
    for i in range(12):
        writer.observe(_record(i))
    assert writer.flush() is True
    store = FeedbackStore(database)
    assert store.record("d", [FeedbackItem(request_id="r11", value=[1, 1])]) == 1
    assert store.record("d", [FeedbackItem(request_id="r11", value=[1, 0])]) == 1  # replaced
    assert store.missing("d", ["r1", "zz"]) == ["zz"]
    assert logged_deployments(database) == ["d"]

    window = read_window(database, "d", size=5)
    assert [r.request_id for r in window.logs] == ["r7", "r8", "r9", "r10", "r11"]
    frame = window.frame()
    assert len(frame) == 10
    assert frame["x"].isna().sum() == 5  # NaN was logged as null
    assert window.labelled() == ([1, 0], [1, 0], [[0.2, 0.8], [0.7, 0.3]], [0, 1])
    assert window.logs[0].created_at.tzinfo is not None
