"""The prediction log: observed off the request path, written to the database in batches.

``observe`` only samples and appends to a bounded in-memory buffer; a writer thread
inserts the buffer every ``flush_interval_s`` (or as soon as ``batch_rows`` wait), and
deletes rows older than ``retention_days`` now and then. A database error is logged
and counted and the rows stay buffered to be retried; when the buffer is full, new
rows are dropped and counted (``lanza_monitoring_dropped_rows_total``), so the log
never slows or fails a prediction.

Loss bound: ``stop()`` (called on a clean shutdown, SIGTERM included) writes every
buffered row. If the process is killed without a shutdown (SIGKILL, power loss), the
rows still buffered are lost: at most one flush interval's worth of traffic (0.5 s by
default), or more only while the database was refusing writes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete

from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import AlertEventRow, FeedbackRow, PredictionLogRow
from lanza.serving.dataplane import PredictionRecord
from lanza.settings import MonitoringSettings
from lanza.store import Database

log = logging.getLogger("lanza.monitoring")
RETENTION_EVERY_S = 600.0
TABLE = cast(Table, PredictionLogRow.__table__)
COLUMNS = (
    "request_id",
    "deployment",
    "model",
    "face",
    "created_at",
    "features",
    "prediction",
    "probabilities",
    "classes",
    "latency_ms",
    "shadow",
)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class PredictionLog:
    """A ``PredictionObserver`` that writes what it observes in batches, in its own thread."""

    def __init__(
        self, database: Database, settings: MonitoringSettings, metrics: MonitoringMetrics
    ) -> None:
        self.database = database
        self.settings = settings
        self.metrics = metrics
        self._buffer: deque[PredictionRecord] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_retention = 0.0
        self._flushing = threading.Lock()
        self._sqlite = database.engine.dialect.name == "sqlite"

    def observe(self, record: PredictionRecord) -> None:
        """Sample and buffer one record; never blocks, never raises."""
        rate = self.settings.sample_rate
        if rate < 1 and random.random() >= rate:
            return
        if len(self._buffer) >= self.settings.buffer_rows:
            self.metrics.dropped.inc()
            return
        self._buffer.append(record)
        if len(self._buffer) >= self.settings.batch_rows:
            self._wake.set()

    def start(self) -> None:
        """Start the writer thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lanza-prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write whatever is still buffered."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        for _ in range(3):
            if not self._buffer or not self.flush():
                break

    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return len(self._buffer)

    def flush(self) -> bool:
        """Write every buffered row in batches; False when a write failed (rows kept).

        Flushes are serialised, so a caller's flush returns only after a write the
        writer thread had already started is committed (feedback relies on this).
        """
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        while self._buffer:
            batch = [
                self._buffer.popleft()
                for _ in range(min(len(self._buffer), self.settings.batch_rows))
            ]
            try:
                with self.database.engine.begin() as connection:
                    connection.exec_driver_sql(self._insert_sql, [self._row(r) for r in batch])
            except Exception:
                log.exception("the prediction log could not be written; %d rows kept", len(batch))
                self.metrics.write_errors.inc()
                self._buffer.extendleft(reversed(batch))
                return False
            self.metrics.logged.inc(len(batch))
        return True

    def purge(self, now: datetime | None = None) -> int:
        """Delete log rows, feedback and fired alerts older than the retention; returns log rows."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.settings.retention_days)
        with self.database.session() as session:
            result = session.execute(
                delete(PredictionLogRow).where(PredictionLogRow.created_at < cutoff)
            )
            session.execute(delete(FeedbackRow).where(FeedbackRow.created_at < cutoff))
            session.execute(delete(AlertEventRow).where(AlertEventRow.created_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)

    @cached_property
    def _insert_sql(self) -> str:
        # The driver's own executemany: SQLAlchemy's per-row parameter processing would
        # cost several times the rest of the write, on the server's GIL.
        mark = "?" if self.database.engine.dialect.paramstyle == "qmark" else "%s"
        names = ", ".join(COLUMNS)
        return f"INSERT INTO {TABLE.name} ({names}) VALUES ({', '.join([mark] * len(COLUMNS))})"

    def _row(self, record: PredictionRecord) -> tuple[Any, ...]:
        created = datetime.fromtimestamp(record.created_at, UTC)
        return (
            record.request_id,
            record.deployment,
            record.model,
            record.face,
            # SQLAlchemy's storage format for sqlite; Postgres takes the datetime itself.
            created.strftime(SQLITE_TIME) if self._sqlite else created,
            _json(record.columns),
            _json(record.predictions),
            None if record.probabilities is None else _json(record.probabilities),
            None if record.classes is None else _json(record.classes),
            record.latency_ms,
            record.shadow,
        )

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.settings.flush_interval_s)
            self._wake.clear()
            if not self.flush():
                self._stopping.wait(self.settings.flush_interval_s)
            if time.monotonic() - self._last_retention > RETENTION_EVERY_S:
                self._last_retention = time.monotonic()
                try:
                    self.purge()
                except Exception:
                    log.exception("old prediction log rows could not be deleted")


def _json(value: Any) -> str:
    """JSON text in one C pass (orjson): NaN and infinities become null, NumPy values plain."""
    return orjson.dumps(value, default=str, option=OPTIONS).decode()
