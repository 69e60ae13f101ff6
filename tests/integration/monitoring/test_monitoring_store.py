"""The log, ground truth and windows on both databases lanza supports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from lanza.monitoring.feedback import FeedbackItem, FeedbackStore
from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import PredictionLogRow
from lanza.monitoring.window import Window, WindowReader, logged_deployments, read_window
from lanza.monitoring.writer import PredictionLog
from lanza.records import PredictionRecord
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


def _record(i: int, deployment: str = "d", shadow: bool = False) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"{deployment}{i}" if deployment != "d" else f"r{i}",
        deployment=deployment,
        model="m/1",
        face="native",
        columns={"x": [float(i), float("nan")], "k": ["a", "b"]},
        predictions=[1, 0],
        probabilities=[[0.2, 0.8], [0.7, 0.3]],
        classes=[0, 1],
        latency_ms=float(i),
        created_at=time.time(),
        shadow=shadow,
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


def _seen(window: Window) -> tuple[list[tuple[int, str]], dict[str, object], int]:
    return [(r.id, r.request_id) for r in window.logs], window.feedback, window.labels_total


def test_incremental_windows_match_whole_reads_round_after_round(database: Database) -> None:
    """Each round reads only new rows, and gives what a whole read of the window gives:
    with other deployments and shadow rows in between, late labels for older requests,
    more new rows than the window holds, a row that becomes visible after higher ids
    (a late commit), and the retention purge reaching into the window."""
    writer = PredictionLog(database, MonitoringSettings(), MonitoringMetrics())
    store = FeedbackStore(database)
    reader = WindowReader(database)
    logged = 0

    def traffic(count: int) -> None:
        nonlocal logged
        for _ in range(count):
            writer.observe(_record(logged))
            writer.observe(_record(logged, deployment="e"))
            writer.observe(_record(logged, shadow=True))
            logged += 1
        assert writer.flush() is True

    def same(size: int = 5, seconds: float | None = None) -> Window:
        window = reader.read("d", size, seconds)
        assert _seen(window) == _seen(read_window(database, "d", size, seconds))
        return window

    traffic(8)
    assert len(same().logs) == 5
    for count, labelled in [(2, ["r3"]), (0, ["r9"]), (7, ["r12", "r5"]), (1, [])]:
        traffic(count)
        if labelled:
            store.record("d", [FeedbackItem(request_id=r, value=[1, 0]) for r in labelled])
        same()
        same(size=1000, seconds=3600)
    assert logged_deployments(database) == ["d", "e"]

    # a row whose id is below others already read becomes visible late
    traffic(3)
    with database.session() as session:
        newest = session.scalars(
            select(PredictionLogRow)
            .where(PredictionLogRow.deployment == "d", PredictionLogRow.shadow.is_(False))
            .order_by(PredictionLogRow.id.desc())
            .limit(2)
        ).all()
        late = {c.name: getattr(newest[1], c.name) for c in PredictionLogRow.__table__.columns}
        session.delete(newest[1])
    window = same()
    assert late["request_id"] not in [r.request_id for r in window.logs]
    with database.session() as session:
        session.add(PredictionLogRow(**late))
    window = same()
    assert late["request_id"] in [r.request_id for r in window.logs]

    # the purge deletes the oldest rows, some of them in the window
    oldest = same().logs[1].id
    with database.session() as session:
        session.execute(delete(PredictionLogRow).where(PredictionLogRow.id <= oldest))
    assert len(same().logs) == 3
    traffic(2)
    assert len(same().logs) == 5


def test_deployments_are_found_by_skipping_through_the_index(database: Database) -> None:
    writer = PredictionLog(database, MonitoringSettings(), MonitoringMetrics())
    assert logged_deployments(database) == []
    for i, deployment in enumerate(["m", "a", "z", "a", "m", "b"]):
        writer.observe(_record(i, deployment=deployment))
    assert writer.flush() is True
    assert logged_deployments(database) == ["a", "b", "m", "z"]
