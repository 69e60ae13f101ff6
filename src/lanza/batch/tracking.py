"""One MLflow run per batch job, in the experiment ``lanza-batch``: params, then metrics.

Tracking is a side channel: if MLflow fails, the job goes on and the failure is logged.

Two trackers write the same run:

- ``JobTracker`` writes it from the job's own process. The server uses it: MLflow is
  loaded there already, and the jobs API shows the run's id while the job runs.
- ``OutboxTracker`` (``lanza batch``) writes the run as a JSON record in lanza's home
  (``outbox/``) and hands it to MLflow from a separate process started as the job ends,
  so the command does not import MLflow, which costs about 1.6 s and 100 MB on 2 cores,
  more than the job itself on a million rows. The run appears in MLflow a few seconds
  after the command returns. A record is locked (``flock``) for as long as its job
  runs; a record whose job died (``kill -9``) is logged as ``KILLED`` by the next drain.
  A drain that dies half way is finished by the next one, without a second run: each
  run carries its record's id as the tag ``lanza.record``.

Params and metrics each go in one ``log_batch`` call: on a sqlite store every separate
``log_param`` is its own transaction (about 20 ms each on a 2-core machine).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from lanza.batch.spec import BatchOptions, BatchSummary
from lanza.experiments import experiment_id
from lanza.registry.direct import sqlite_path

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: records are drained without locks
    fcntl = None  # type: ignore[assignment]

EXPERIMENT = "lanza-batch"
OUTBOX = "outbox"  # the folder of run records in lanza's home
RECORD_TAG = "lanza.record"
TERMINAL = {"FINISHED", "FAILED", "KILLED"}
log = logging.getLogger("lanza.batch")


class Tracker(Protocol):
    """What ``run_batch`` needs of a tracker."""

    run_id: str | None

    def start(self, options: BatchOptions, model: str, job_id: str | None = None) -> None:
        """The job began."""

    def finish(self, summary: BatchSummary | None, status: str) -> None:
        """The job ended with ``status`` (FINISHED, FAILED or KILLED)."""


class JobTracker:
    """Opens a run when a job starts and closes it with the job's figures, in-process."""

    def __init__(self, client: MlflowClient, artifact_root: str) -> None:
        self.client = client
        self.artifact_root = artifact_root
        self.run_id: str | None = None

    def start(self, options: BatchOptions, model: str, job_id: str | None = None) -> None:
        """Open the job's run with what it was asked to do."""
        from mlflow.entities import Param

        try:
            experiment = experiment_id(self.client, EXPERIMENT, self.artifact_root)
            run = self.client.create_run(experiment, tags=_tags(model, job_id))
            self.run_id = run.info.run_id
            params = [Param(k, v) for k, v in _params(options).items()]
            self.client.log_batch(self.run_id, params=params)
        except Exception:
            log.warning("could not open the MLflow run of a batch job", exc_info=True)

    def finish(self, summary: BatchSummary | None, status: str) -> None:
        """Log rows, rate, errors and duration, and close the run as FINISHED/FAILED/KILLED."""
        if self.run_id is None:
            return
        try:
            _close(self.client, self.run_id, _metrics(summary), status, None)
        except Exception:
            log.warning("could not close the MLflow run of a batch job", exc_info=True)


class OutboxTracker:
    """Writes the job's run as a record for a separate process to log (see the module)."""

    run_id: str | None = None

    def __init__(self, folder: Path, tracking_uri: str, artifact_root: str) -> None:
        self.folder = folder
        self.record: dict[str, Any] = {
            "id": f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}",
            "tracking_uri": _absolute(tracking_uri),
            "artifact_root": artifact_root,
        }
        self._lock: IO[bytes] | None = None

    @property
    def path(self) -> Path:
        """The record's file."""
        return self.folder / f"{self.record['id']}.json"

    def start(self, options: BatchOptions, model: str, job_id: str | None = None) -> None:
        """Lock and write the record of a running job."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = self.path.with_suffix(".lock").open("wb")
            if fcntl is not None:
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.record |= {
                "tags": _tags(model, job_id),
                "params": _params(options),
                "start_ms": _now_ms(),
                "status": "RUNNING",
            }
            _write(self.path, self.record)
        except Exception:
            log.warning("could not record the MLflow run of a batch job", exc_info=True)

    def touch(self) -> None:
        """Mark the job alive now: a job that dies ends, in MLflow, at its last touch."""
        try:
            os.utime(self.path)
        except OSError:
            return

    def finish(self, summary: BatchSummary | None, status: str) -> None:
        """Complete the record, unlock it and start the process that logs it."""
        if "status" not in self.record:
            return
        try:
            self.record |= {"metrics": _metrics(summary), "end_ms": _now_ms(), "status": status}
            _write(self.path, self.record)
        except Exception:
            log.warning("could not record the MLflow run of a batch job", exc_info=True)
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the lock
        spawn_drain(self.folder)


def spawn_drain(folder: Path) -> None:
    """Log the records in ``folder`` from a detached process; its errors go to ``drain.log``."""
    try:
        with (folder / "drain.log").open("ab") as errors:
            subprocess.Popen(
                [sys.executable, "-m", "lanza.batch.tracking", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
                close_fds=True,
            )
    except OSError:
        log.warning("could not start the process that logs batch runs", exc_info=True)


def drain(folder: Path) -> int:
    """Log every record in ``folder`` whose job is not running; returns how many."""
    records = sorted(folder.glob("*.json"))
    if not records:
        return 0
    from mlflow.tracking import MlflowClient

    clients: dict[str, MlflowClient] = {}
    logged = 0
    for path in records:
        lock = path.with_suffix(".lock").open("ab")
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its job runs, or another drain has it
            try:
                record = json.loads(path.read_bytes())
            except FileNotFoundError:
                continue  # logged by another drain meanwhile
            except ValueError:
                log.warning("batch run record %s is unreadable; it is kept", path)
                continue
            uri = str(record["tracking_uri"])
            try:
                if uri not in clients:
                    clients[uri] = MlflowClient(tracking_uri=uri, registry_uri=uri)
                _log_record(clients[uri], record, path)
            except Exception:
                log.warning("could not log batch run record %s; it is kept", path, exc_info=True)
                continue
            path.unlink()
            path.with_suffix(".lock").unlink(missing_ok=True)
            logged += 1
        finally:
            lock.close()
    return logged


def _log_record(client: MlflowClient, record: dict[str, Any], path: Path) -> None:
    """Create (or find, after a drain that died) the record's run and close it."""
    from mlflow.entities import Param

    status = str(record.get("status", "FAILED"))
    end_ms = record.get("end_ms")
    if status == "RUNNING":  # unlocked while running: its job died, after its last touch
        status = "KILLED"
        end_ms = int(path.stat().st_mtime * 1000)
    experiment = experiment_id(client, EXPERIMENT, str(record["artifact_root"]))
    found = client.search_runs(
        [experiment], f"tags.`{RECORD_TAG}` = '{record['id']}'", max_results=1
    )
    if found and found[0].info.status in TERMINAL:
        return
    if found:
        run_id = found[0].info.run_id
    else:
        tags = {**record.get("tags", {}), RECORD_TAG: str(record["id"])}
        run_id = client.create_run(
            experiment, start_time=record.get("start_ms"), tags=tags
        ).info.run_id
        params = [Param(k, str(v)) for k, v in record.get("params", {}).items()]
        client.log_batch(run_id, params=params)
    _close(client, run_id, record.get("metrics") or {}, status, end_ms)


def _close(
    client: MlflowClient, run_id: str, metrics: dict[str, float], status: str, end_ms: int | None
) -> None:
    from mlflow.entities import Metric

    if metrics:
        now = end_ms or _now_ms()
        client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])
    client.set_terminated(run_id, status, end_time=end_ms)


def _params(options: BatchOptions) -> dict[str, str]:
    return {k: str(v)[:500] for k, v in options.to_dict().items() if v not in (None, ())}


def _metrics(summary: BatchSummary | None) -> dict[str, float]:
    if summary is None:
        return {}
    return {
        "rows": summary.rows,
        "rows_written": summary.written,
        "errors": summary.errors,
        "rows_per_s": summary.rows_per_s,
        "duration_s": summary.seconds,
        "parts": summary.parts,
    }


def _tags(model: str, job_id: str | None) -> dict[str, str]:
    tags = {"lanza.model": model, "mlflow.runName": f"batch {model}"}
    if job_id:
        tags["lanza.job_id"] = job_id
    return tags


def _absolute(tracking_uri: str) -> str:
    """A sqlite URI with an absolute path: a drain may run in another folder."""
    path = sqlite_path(tracking_uri)
    if path is None or path.is_absolute():
        return tracking_uri
    return "sqlite:///" + str(path.resolve())


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write(path: Path, record: dict[str, Any]) -> None:
    """Replace ``path`` atomically and durably: a crash leaves the old record or the new."""
    temp = path.with_suffix(".tmp")
    with temp.open("wb") as handle:
        handle.write(json.dumps(record).encode())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


if __name__ == "__main__":
    drain(Path(sys.argv[1]))
