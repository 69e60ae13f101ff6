"""The prediction log: journalled on the request path, written to the database in batches.

``observe`` samples a record, turns it into its log row (JSON text columns made here, in
one C pass each) and appends that row as one line to a local journal under
``LANZA_HOME/journal/predictions`` (``lanza.store.journal``: a copy into a mapped file in
the page cache, with no system call) and to a bounded in-memory buffer. The data plane
calls it before the response leaves, so every answered request is on disk before its
client hears back. A writer thread inserts the buffer every ``flush_interval_s`` (or as soon as
``batch_rows`` wait), then commits the journal offset it reached, and deletes rows older
than ``retention_days`` now and then. A database error is logged and counted and the
rows stay buffered to be retried.

Loss bound: none for a process death. A ``kill -9`` (or an OOM kill) leaves the journal
behind; the next start replays every line past the committed offset, skipping rows the
database already has, so no answered request's row is lost or written twice. Power loss
can lose what the kernel had not yet written to disk, unless ``monitoring.fsync`` is on.
While the database refuses writes, up to ``buffer_rows`` rows wait (journalled) and are
written when it returns; past that bound new rows are neither journalled nor kept, and
each is counted in ``lanza_monitoring_dropped_rows_total`` (the overflow is logged), so
the log never slows or fails a prediction. Without a journal folder (tests, embedded use) the buffer
is memory only.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, select

from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import AlertEventRow, FeedbackRow, PredictionLogRow
from lanza.records import REQUEST_ID_CHARS, PredictionRecord
from lanza.settings import MonitoringSettings
from lanza.store import Database
from lanza.store.journal import Journal, Orphan, Position

log = logging.getLogger("lanza.monitoring")
RETENTION_EVERY_S = 600.0
PURGE_BATCH = 20_000
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
OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
CHUNK = 500
Row = tuple[Any, ...]


class PredictionLog:
    """A ``PredictionObserver`` that journals what it observes and writes it in batches."""

    def __init__(
        self,
        database: Database,
        settings: MonitoringSettings,
        metrics: MonitoringMetrics,
        journal: Path | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.metrics = metrics
        self.journal = None
        if journal is not None:
            # One folder per database: a home shared by two databases never mixes their rows.
            key = hashlib.sha256(database.url.encode()).hexdigest()[:12]
            self.journal = Journal(journal / key, fsync=settings.fsync)
        # Each row waits as its log row: strings and numbers, which the garbage collector
        # stops visiting, where the record itself is some thirty lists and dicts per row
        # that every collection on the request path would walk while they wait.
        self._buffer: deque[tuple[Row, Position | None]] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_retention = 0.0
        self._flushing = threading.Lock()
        self._sqlite = database.engine.dialect.name == "sqlite"
        self._copy = database.engine.dialect.driver == "psycopg"
        self._journal_failing = False
        self._dropping = False
        self._replayed = self.journal is None
        self._statements: dict[int, str] = {}
        self._second = -1
        self._stamp = ""

    def observe(self, record: PredictionRecord) -> None:
        """Sample, journal and buffer one record; never raises."""
        rate = self.settings.sample_rate
        if rate < 1 and random.random() >= rate:
            return
        if len(self._buffer) >= self.settings.buffer_rows:
            self.metrics.dropped.inc()
            if not self._dropping:  # once per outage, not once per request
                log.error(
                    "the prediction log holds %d unwritten rows; new rows are dropped and "
                    "counted in lanza_monitoring_dropped_rows_total",
                    len(self._buffer),
                )
            self._dropping = True
            return
        self._dropping = False
        # The row is made here, on the request path (about 5 µs), and not in the writer
        # thread: work there takes the GIL in bursts of a whole batch, which requests
        # then wait out. Paired runs of bench/realtime.py put the writer's row-making at
        # several percent of throughput; made here, it is part of the 2-3 % that the
        # whole log costs.
        row = _row(record)
        self._buffer.append((row, self._journalled(row)))
        if len(self._buffer) >= self.settings.batch_rows:
            self._wake.set()

    def start(self) -> None:
        """Open this process's journal and start the writer thread (which replays first)."""
        if self.journal is not None:
            self._replayed = False
            try:
                self.journal.open()
            except OSError as exc:  # a full or read-only disk: serve, keep rows in memory
                log.error("the prediction journal cannot be written (%s); rows kept in memory", exc)
                self._journal_failing = True
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
        if self.journal is not None:
            self.journal.close()  # rows still unwritten stay journalled for the next start

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

    def replay(self) -> bool:
        """Write the rows journalled by processes that died; False while the database fails."""
        if self.journal is None:
            return True
        for orphan in self.journal.orphans():
            try:
                written = self._replay(orphan)
            except Exception:
                orphan.release()
                log.exception("the journal %s could not be replayed; retrying", orphan.path.name)
                self.metrics.write_errors.inc()
                return False
            orphan.remove()
            log.info("replayed %d prediction log rows from %s", written, orphan.path.name)
        return True

    def _replay(self, orphan: Orphan) -> int:
        rows = [_parse(line) for line in orphan.records()]
        written = 0
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            with self.database.engine.begin() as connection:
                known = self._known(connection, chunk)
                fresh = [self._db_row(r) for r in chunk if (r[0], bool(r[10])) not in known]
                if fresh:
                    self._insert(connection, fresh)
            written += len(fresh)
        self.metrics.logged.inc(written)
        return written

    def _known(self, connection: Any, rows: list[Row]) -> set[tuple[str, bool]]:
        """(request id, shadow) pairs of these rows already in the log."""
        ids = list({r[0] for r in rows})
        mark = "?" if self.database.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"SELECT request_id, shadow FROM {TABLE.name} "
            f"WHERE request_id IN ({', '.join([mark] * len(ids))})"
        )
        result = connection.exec_driver_sql(sql, tuple(ids))
        return {(str(rid), bool(shadow)) for rid, shadow in result}

    def _journalled(self, row: Row) -> Position | None:
        if self.journal is None:
            return None
        try:
            position = self.journal.append(_dumps(row))
        except OSError as exc:
            if not self._journal_failing:  # log once per outage, not once per request
                log.error("the prediction journal cannot be written (%s); rows kept in memory", exc)
            self._journal_failing = True
            return None
        self._journal_failing = False
        return position

    def _flush(self) -> bool:
        while self._buffer:
            batch = [
                self._buffer.popleft()
                for _ in range(min(len(self._buffer), self.settings.batch_rows))
            ]
            try:
                with self.database.engine.begin() as connection:
                    self._insert(connection, [self._db_row(row) for row, _ in batch])
            except Exception:
                log.exception("the prediction log could not be written; %d rows kept", len(batch))
                self.metrics.write_errors.inc()
                self._buffer.extendleft(reversed(batch))
                return False
            self.metrics.logged.inc(len(batch))
            self._commit([position for _, position in batch if position is not None])
        return True

    def _prepare_journal(self) -> None:
        """Reserve the journal's next segment here, so a request never waits for one."""
        if self.journal is None:
            return
        try:
            self.journal.prepare()
        except OSError as exc:  # a full disk: the request path reports it when it matters
            log.debug("the next journal segment could not be reserved: %s", exc)

    def _commit(self, positions: list[Position]) -> None:
        if self.journal is None or not positions:
            return
        try:
            self.journal.commit(positions)
        except OSError:  # the rows are written; a replay would skip them as known
            log.exception("the prediction journal offset could not be recorded")

    def purge(self, now: datetime | None = None) -> int:
        """Delete log rows, feedback and fired alerts older than the retention; returns log rows.

        Log rows go in batches of ``PURGE_BATCH``, each its own transaction, so a purge of
        millions of rows never holds the table (or the writer beside it) for long.
        """
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.settings.retention_days)
        deleted = 0
        while True:
            with self.database.session() as session:
                old = (
                    select(PredictionLogRow.id)
                    .where(PredictionLogRow.created_at < cutoff)
                    .order_by(PredictionLogRow.id)
                    .limit(PURGE_BATCH)
                )
                result = session.execute(
                    delete(PredictionLogRow).where(PredictionLogRow.id.in_(old.scalar_subquery()))
                )
                count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < PURGE_BATCH:
                break
        with self.database.session() as session:
            session.execute(delete(FeedbackRow).where(FeedbackRow.created_at < cutoff))
            session.execute(delete(AlertEventRow).where(AlertEventRow.created_at < cutoff))
        return deleted

    def _insert(self, connection: Any, rows: list[Row]) -> None:
        """Insert rows: ``COPY`` on Postgres, else one multi-row ``INSERT`` per ``CHUNK`` rows.

        The driver's own statement: SQLAlchemy's per-row parameter processing would cost
        several times the rest of the write, on the server's GIL. One statement for many
        rows rather than ``executemany``, because sqlite's driver lets go of the GIL for
        each row it steps through, and every time it wants the GIL back the request path
        hands it over; one step per chunk makes that one hand-over.
        """
        if self._copy:
            self._copy_rows(connection, rows)
            return
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            connection.exec_driver_sql(
                self._insert_sql(len(chunk)), tuple(value for row in chunk for value in row)
            )

    def _copy_rows(self, connection: Any, rows: list[Row]) -> None:
        """Postgres: ``COPY … FROM STDIN`` in the connection's transaction.

        A multi-row ``INSERT`` cost this process about 82 µs of CPU per row on Postgres
        (psycopg rewrites and adapts 5,500 placeholders per statement, holding the GIL),
        which put the log at about 9 % of throughput at the real-time benchmark's load;
        ``COPY`` measured 8 µs per row.
        """
        columns = ", ".join(COLUMNS)
        driver = connection.connection.driver_connection
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {TABLE.name} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _insert_sql(self, count: int) -> str:
        sql = self._statements.get(count)
        if sql is None:
            mark = "?" if self.database.engine.dialect.paramstyle == "qmark" else "%s"
            values = f"({', '.join([mark] * len(COLUMNS))})"
            sql = f"INSERT INTO {TABLE.name} ({', '.join(COLUMNS)}) VALUES " + ", ".join(
                [values] * count
            )
            self._statements[count] = sql
        return sql

    def _db_row(self, row: Row) -> Row:
        if self._sqlite:  # SQLAlchemy's storage format for sqlite
            stamp: Any = self._sqlite_time(row[4])
        else:  # Postgres takes the datetime itself
            stamp = datetime.fromtimestamp(row[4], UTC)
        return (*row[:4], stamp, *row[5:10], bool(row[10]))

    def _sqlite_time(self, epoch: float) -> str:
        """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC; the date and time part is reused within a
        second (``strftime`` per row would be most of the writer's own time)."""
        fraction, whole = math.modf(epoch)  # rounded as ``datetime.fromtimestamp`` does
        seconds, micros = int(whole), round(fraction * 1_000_000)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        if seconds != self._second:
            self._second = seconds
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
        return f"{self._stamp}.{micros:06d}"

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._replayed:
                self._replayed = self.replay()
            self._wake.wait(self.settings.flush_interval_s)
            self._wake.clear()
            self._prepare_journal()
            if not self.flush():
                self._stopping.wait(self.settings.flush_interval_s)
            if time.monotonic() - self._last_retention > RETENTION_EVERY_S:
                self._last_retention = time.monotonic()
                try:
                    self.purge()
                except Exception:
                    log.exception("old prediction log rows could not be deleted")


def _row(record: PredictionRecord) -> Row:
    """The log row of a record, JSON-ready: JSON text columns, the time as epoch seconds."""
    return (
        record.request_id[:REQUEST_ID_CHARS],  # a longer id must not fail a batch
        record.deployment,
        record.model,
        record.face,
        record.created_at,
        _json(record.columns),
        _json(record.predictions),
        None if record.probabilities is None else _json(record.probabilities),
        None if record.classes is None else _json(record.classes),
        record.latency_ms,
        record.shadow,
    )


def _parse(line: bytes) -> Row:
    """The log row of a journal line."""
    fields = orjson.loads(line)
    if isinstance(fields[4], dict):  # a record journalled by an earlier version: its fields
        return _row(PredictionRecord(*fields))
    return tuple(fields)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=OPTIONS)


def _json(value: Any) -> str:
    """JSON text in one C pass (orjson): NaN and infinities become null, NumPy values plain."""
    return orjson.dumps(value, default=str, option=OPTIONS).decode()
