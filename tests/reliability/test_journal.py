"""The prediction journal: rows answered before a kill -9 are written once on the next start."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from lanza.monitoring.metrics import MonitoringMetrics
from lanza.monitoring.tables import PredictionLogRow
from lanza.monitoring.writer import PredictionLog
from lanza.records import PredictionRecord
from lanza.serving.dataplane import new_request_id
from lanza.settings import MonitoringSettings, Settings
from lanza.store import Database
from lanza.store.journal import Journal, Position

# Observes rows with a writer that would not flush for a minute, then dies by SIGKILL.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from lanza.monitoring.metrics import MonitoringMetrics
    from lanza.monitoring.writer import PredictionLog
    from lanza.records import PredictionRecord
    from lanza.serving.dataplane import new_request_id
    from lanza.settings import MonitoringSettings, Settings
    from lanza.store import Database

    url, folder, count, flushed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    log = PredictionLog(
        Database(url), MonitoringSettings(flush_interval_s=60), MonitoringMetrics(), folder
    )
    log.start()
    for i in range(count):
        log.observe(PredictionRecord(
            f"r{i}", "d", "m/1", "native", {"x": [float(i)]}, [i], None, None, 1.0, time.time()
        ))
        if i + 1 == flushed:
            log.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/lanza.db")
    database.migrate()
    return database


def _ids(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(PredictionLogRow.request_id)))


def _killed_child(database: Database, folder: Path, count: int, flushed: int = 0) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, database.url, str(folder), str(count), str(flushed)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]


def _replayed(database: Database, folder: Path) -> PredictionLog:
    registry = CollectorRegistry()
    writer = PredictionLog(database, MonitoringSettings(), MonitoringMetrics(registry), folder)
    writer.journal.open()  # type: ignore[union-attr]
    assert writer.replay() is True
    return writer


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """lanza's database on sqlite, then on Postgres (where rows are written with COPY)."""
    if request.param == "sqlite":
        return _database(tmp_path)
    database = Database(request.getfixturevalue("postgres_url"))
    database.migrate()
    return database


def test_rows_of_a_killed_process_are_replayed(any_database: Database, tmp_path: Path) -> None:
    database, folder = any_database, tmp_path / "journal"
    _killed_child(database, folder, count=40)
    assert _ids(database) == []
    writer = _replayed(database, folder)
    assert sorted(_ids(database)) == sorted(f"r{i}" for i in range(40))
    writer.stop()
    assert [p.name for p in folder.rglob("*.jsonl")] == []
    database.dispose()


def test_replay_neither_loses_nor_duplicates_a_batch_written_before_the_kill(
    any_database: Database, tmp_path: Path
) -> None:
    database, folder = any_database, tmp_path / "journal"
    _killed_child(database, folder, count=30, flushed=20)
    assert len(_ids(database)) == 20
    # As if the kill came between the database commit and the offset commit.
    for done in folder.rglob("*.done"):
        done.write_text(f"{0:020d}")
    _replayed(database, folder).stop()
    ids = _ids(database)
    assert len(ids) == 30
    assert sorted(set(ids)) == sorted(f"r{i}" for i in range(30))
    database.dispose()


def test_a_torn_last_record_is_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    database, folder = _database(tmp_path), tmp_path / "journal"
    _killed_child(database, folder, count=5)
    (segment,) = folder.rglob("*.jsonl")
    written = segment.read_bytes().split(b"\0")[0]
    with segment.open("r+b") as file:
        file.seek(len(written))
        file.write(b'["r-torn", "d"')  # power loss mid-record
    _replayed(database, folder).stop()
    assert sorted(_ids(database)) == [f"r{i}" for i in range(5)]
    database.dispose()


def test_a_live_process_segment_is_never_replayed(tmp_path: Path) -> None:
    live = Journal(tmp_path / "j")
    live.open()
    live.append(b'["x"]')
    other = Journal(tmp_path / "j")
    assert list(other.orphans()) == []
    live.close()


def test_replay_waits_for_the_database_and_keeps_the_journal(tmp_path: Path) -> None:
    database, folder = _database(tmp_path), tmp_path / "journal"
    _killed_child(database, folder, count=10)
    broken = Database(f"sqlite:///{tmp_path}/empty.db")  # no tables: every write fails
    writer = PredictionLog(broken, MonitoringSettings(), MonitoringMetrics(), folder)
    writer.journal = Journal(next(folder.iterdir()))  # the dead process's folder
    assert writer.replay() is False
    assert len(list(folder.rglob("*.jsonl"))) == 1
    assert _replayed(database, folder)
    assert len(_ids(database)) == 10
    broken.dispose()
    database.dispose()


def test_journal_rotates_and_deletes_drained_segments(tmp_path: Path) -> None:
    database = _database(tmp_path)
    settings = MonitoringSettings(flush_interval_s=60, batch_rows=7)
    writer = PredictionLog(database, settings, MonitoringMetrics(), tmp_path / "j")
    assert writer.journal is not None
    writer.journal.segment_bytes = 300  # a new segment every few rows
    writer.journal.open()
    for i in range(25):
        writer.observe(
            PredictionRecord(f"r{i}", "d", "m/1", "native", {"x": [1.0]}, [1], None, None, 1.0, 0)
        )
    segments = list((tmp_path / "j").rglob("*.jsonl"))
    assert len(segments) > 3
    assert writer.flush() is True
    assert len(list((tmp_path / "j").rglob("*.jsonl"))) == 1  # only the one being written
    writer.stop()
    assert list((tmp_path / "j").rglob("*.jsonl")) == []
    assert len(_ids(database)) == 25
    assert os.listdir(next((tmp_path / "j").iterdir())) == []
    database.dispose()


def test_a_record_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", segment_bytes=100)
    journal.open()
    journal.append(b'["small"]')
    big = b'["' + b"x" * 500 + b'"]'
    position = journal.append(big)
    assert position.end == len(big) + 1
    assert big + b"\n" in position.segment.path.read_bytes()
    journal.close()


def test_the_next_segment_is_reserved_before_the_current_one_fills(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", segment_bytes=1000)
    journal.open()
    first = journal.append(b"a" * 599).segment
    journal.prepare()  # what the writer thread does between batches
    assert len(list((tmp_path / "j").glob("*.jsonl"))) == 2
    second = journal.append(b"b" * 599).segment
    assert second is not first
    assert len(list((tmp_path / "j").glob("*.jsonl"))) == 2  # the spare, not a new one
    journal.commit([Position(first, first.size)])
    assert not first.path.exists()  # drained and no longer written to: deleted
    journal.prepare()  # a spare again, which a clean close deletes
    assert len(list((tmp_path / "j").glob("*.jsonl"))) == 2
    journal.close()
    assert second.path.read_bytes() == b"b" * 599 + b"\n"  # kept for replay, cut to size
    assert list((tmp_path / "j").glob("*.jsonl")) == [second.path]


def test_a_full_disk_refuses_the_journal_and_the_rows_stay_in_memory(
    tmp_path: Path, small_disk: Path
) -> None:
    database = _database(tmp_path)
    writer = PredictionLog(database, MonitoringSettings(), MonitoringMetrics(), small_disk)
    assert writer.journal is not None
    writer.journal.segment_bytes = 4 * 1024 * 1024  # more than the 512 KiB disk
    with pytest.raises(OSError, match="No space left"):
        writer.journal.open()
    writer.observe(
        PredictionRecord("r0", "d", "m/1", "native", {"x": [1.0]}, [1], None, None, 1.0, 0)
    )
    assert writer.pending() == 1  # kept, not journalled, and the request was not failed
    assert writer.flush() is True
    assert _ids(database) == ["r0"]
    database.dispose()


def test_segments_are_reserved_without_posix_fallocate_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "posix_fallocate")  # as on macOS
    journal = Journal(tmp_path / "j", segment_bytes=3 << 20)
    journal.open()
    position = journal.append(b'["x"]')
    assert position.segment.path.stat().st_blocks * 512 >= 3 << 20  # real blocks, not a hole
    journal.close()
    assert position.segment.path.read_bytes() == b'["x"]\n'


def test_request_ids_are_uuid7_and_ordered_by_time() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert len(set(ids)) == 1000
    prefixes = [i[:12] for i in ids]  # the millisecond: never goes back
    assert prefixes == sorted(prefixes)


def test_lines_journalled_by_the_previous_version_are_replayed(tmp_path: Path) -> None:
    """Before, a line held the record's fields (columns as a dict); now it holds the row."""
    database, folder = _database(tmp_path), tmp_path / "journal"
    key = hashlib.sha256(database.url.encode()).hexdigest()[:12]
    (folder / key).mkdir(parents=True)
    old = orjson.dumps(["r-old", "d", "m/1", "native", {"x": [1.0]}, [1], None, None, 2.0, 0.0])
    (folder / key / f"{1:020d}-1.jsonl").write_bytes(old + b"\n")
    _replayed(database, folder).stop()
    assert _ids(database) == ["r-old"]
    database.dispose()


@pytest.mark.slow
def test_a_full_disk_at_start_keeps_rows_in_memory_then_journals_once_there_is_room(
    small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first 8 MiB segment cannot be reserved: the log starts anyway, logs one error,
    writes every row to the database, and journals again once the disk has room."""
    database = _database(tmp_path)
    folder = small_disk / "journal"
    writer = PredictionLog(
        database, MonitoringSettings(flush_interval_s=0.1), MonitoringMetrics(), folder
    )
    with caplog.at_level("ERROR", logger="lanza.monitoring"):
        writer.start()
        try:
            for i in range(20):
                writer.observe(_row(f"full-{i}"))
            assert writer.flush()
        finally:
            errors = [r for r in caplog.records if "journal cannot be written" in r.message]
            assert len(errors) == 1, [r.message for r in caplog.records]
    try:
        assert sorted(_ids(database)) == sorted(f"full-{i}" for i in range(20))
        assert writer.journal is not None
        writer.journal.segment_bytes = 64 * 1024  # fits the small disk now
        writer.journal.prepare()
        writer.observe(_row("roomy"))
        (segment,) = folder.rglob("*.jsonl")
        assert b"roomy" in segment.read_bytes()  # journalled again
    finally:
        writer.stop()


def _row(request_id: str) -> PredictionRecord:
    return PredictionRecord(request_id, "d", "m/1", "native", {"x": [1.0]}, [1], None, None, 1.0, 0)


def _dirty_kib(path: Path) -> int:
    """Kernel pages of this process's mapping of ``path`` not yet written to disk (smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
            inside = parts[-1] == str(path)
        elif inside and parts[0] in ("Private_Dirty:", "Shared_Dirty:"):
            total += int(parts[1])
    return total


def test_monitoring_fsync_puts_every_journal_line_on_disk_before_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LANZA_MONITORING__FSYNC=true``: after each row the segment has no dirty page left;
    without it, the line waits in the page cache."""
    if not Path("/proc/self/smaps").exists():
        pytest.skip("needs /proc/self/smaps (Linux)")
    database = _database(tmp_path)
    for fsync in ("true", "false"):
        monkeypatch.setenv("LANZA_MONITORING__FSYNC", fsync)
        settings = Settings(home=tmp_path / "home")
        writer = PredictionLog(database, settings.monitoring, MonitoringMetrics(), tmp_path / fsync)
        writer.start()
        try:
            writer.observe(_row(f"sync-{fsync}"))
            (segment,) = (tmp_path / fsync).rglob("*.jsonl")
            dirty = _dirty_kib(segment)
            assert dirty == 0 if fsync == "true" else dirty > 0, (fsync, dirty)
        finally:
            writer.stop()
    database.dispose()
