"""The prediction log writer: batching, sampling, the bound, retries and retention."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import PredictionLogRow
from lanza.monitoring.writer import PredictionLog
from lanza.records import PredictionRecord
from lanza.settings import MonitoringSettings
from lanza.store import Database


def _record(i: int, created_at: float | None = None) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"r{i}",
        deployment="d",
        model="m/1",
        face="native",
        columns={"x": [float(i)], "k": ["a"]},
        predictions=[float("nan") if i == 0 else 1],
        probabilities=None,
        classes=None,
        latency_ms=1.5,
        created_at=created_at or time.time(),
    )


def _count(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(PredictionLogRow)) or 0)


def _db(tmp_path: Path, migrate: bool = True) -> Database:
    database = Database(f"sqlite:///{tmp_path}/lanza.db")
    if migrate:
        database.migrate()
    return database


def test_rows_are_written_in_the_background_and_flushed_on_stop(tmp_path: Path) -> None:
    database = _db(tmp_path)
    writer = PredictionLog(database, MonitoringSettings(flush_interval_s=60), MonitoringMetrics())
    writer.start()
    for i in range(25):
        writer.observe(_record(i))
    assert writer.pending() == 25
    writer.stop()
    assert _count(database) == 25
    with database.session() as session:
        first = session.scalars(select(PredictionLogRow).where(PredictionLogRow.request_id == "r0"))
        row = first.one()
        assert row.prediction == "[null]"
        assert row.features == '{"x":[0.0],"k":["a"]}'
    database.dispose()


def test_full_buffer_drops_and_counts(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = MonitoringMetrics(registry)
    writer = PredictionLog(_db(tmp_path), MonitoringSettings(buffer_rows=10), metrics)
    for i in range(15):
        writer.observe(_record(i))
    assert writer.pending() == 10
    assert registry.get_sample_value("lanza_monitoring_dropped_rows_total") == 5


def test_sampling_logs_a_share(tmp_path: Path) -> None:
    writer = PredictionLog(_db(tmp_path), MonitoringSettings(sample_rate=0.0), MonitoringMetrics())
    for i in range(50):
        writer.observe(_record(i))
    assert writer.pending() == 0


def test_database_errors_keep_rows_for_a_retry(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    database = _db(tmp_path, migrate=False)  # no tables yet: every insert fails
    writer = PredictionLog(database, MonitoringSettings(), MonitoringMetrics(registry))
    for i in range(5):
        writer.observe(_record(i))
    assert writer.flush() is False
    assert writer.pending() == 5
    assert registry.get_sample_value("lanza_monitoring_write_errors_total") == 1
    database.migrate()
    assert writer.flush() is True
    assert _count(database) == 5
    assert registry.get_sample_value("lanza_monitoring_logged_rows_total") == 5
    database.dispose()


def test_retention_deletes_old_rows(tmp_path: Path) -> None:
    database = _db(tmp_path)
    writer = PredictionLog(database, MonitoringSettings(retention_days=7), MonitoringMetrics())
    old = (datetime.now(UTC) - timedelta(days=8)).timestamp()
    writer.observe(_record(1, old))
    writer.observe(_record(2))
    writer.flush()
    assert writer.purge() == 1
    assert _count(database) == 1
    database.dispose()
