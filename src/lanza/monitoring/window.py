"""A monitoring window read from the log: the last N requests, or the last S seconds.

Shadow rows are left out: a window describes what callers were answered. Each
request's columns are expanded to one row per predicted row, with its ground truth
where feedback arrived.

``read_window`` reads a window whole; a ``WindowReader`` (what the monitor's rounds use)
keeps each window between rounds and asks the database only for log rows newer than
what it holds (a watermark on the log's id, read through the ``(deployment, id)``
index), so a round's cost follows the traffic since the last round, not the log's size.
Labels are looked up by the window's request ids (primary-key probes) every round, since
ground truth may arrive for any request still in the window.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lanza.monitoring.tables import BATCH_FACE, FeedbackRow, PredictionLogRow
from lanza.store import Database

LABELS_COUNTED = 10_000


@dataclass(frozen=True)
class Logged:
    """One logged request, decoded."""

    request_id: str
    model: str
    created_at: datetime
    latency_ms: float
    features: dict[str, list[Any]]
    prediction: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any] | None
    face: str = "native"
    id: int = 0

    @property
    def timed(self) -> bool:
        """Whether the row has a latency of its own (rows a batch job logged have none)."""
        return self.face != BATCH_FACE

    @classmethod
    def decode(cls, row: PredictionLogRow) -> Logged:
        """From a table row, JSON text decoded; naive times (sqlite) read as UTC."""
        created = row.created_at
        return cls(
            row.request_id,
            row.model,
            created if created.tzinfo else created.replace(tzinfo=UTC),
            row.latency_ms,
            _loads(row.features),
            _loads(row.prediction),
            _loads(row.probabilities) if row.probabilities else None,
            _loads(row.classes) if row.classes else None,
            row.face,
            row.id,
        )


def _loads(text: str) -> Any:
    """JSON text decoded in one C pass (orjson); text an older writer left with ``NaN`` or
    ``Infinity`` (which orjson refuses) by the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@dataclass
class Window:
    """Logged requests of one deployment, oldest first."""

    deployment: str
    logs: list[Logged]
    feedback: dict[str, list[Any]] = field(default_factory=dict)
    labels_total: int = 0

    @property
    def models(self) -> dict[str, int]:
        """Requests per serving version."""
        counts: dict[str, int] = {}
        for row in self.logs:
            counts[row.model] = counts.get(row.model, 0) + 1
        return counts

    def main_model(self) -> str | None:
        """The version that answered most requests in the window."""
        models = self.models
        return max(models, key=lambda m: models[m]) if models else None

    def frame(self, model: str | None = None) -> pd.DataFrame:
        """One row per predicted row: features, ``__prediction__`` and ``__truth__``."""
        columns: dict[str, list[Any]] = {"__prediction__": [], "__truth__": []}
        for row in self.logs:
            if model is not None and row.model != model:
                continue
            count = len(row.prediction)
            for name, values in row.features.items():
                columns.setdefault(name, []).extend(values)
            columns["__prediction__"].extend(row.prediction)
            truth = self.feedback.get(row.request_id)
            columns["__truth__"].extend(truth if truth and len(truth) == count else [None] * count)
        return pd.DataFrame(columns)

    def probabilities(self, model: str) -> tuple[list[list[float]], list[Any]] | None:
        """Logged class probabilities of every row of ``model``, or None if any lacks them."""
        rows: list[list[float]] = []
        classes = None
        for row in self.logs:
            if row.model != model:
                continue
            if row.probabilities is None or len(row.probabilities) != len(row.prediction):
                return None
            rows.extend(row.probabilities)
            classes = row.classes
        return (rows, classes) if classes is not None else None

    def labelled(self, model: str | None = None) -> tuple[list[Any], list[Any], list[Any], Any]:
        """Truth, predictions, probabilities (or empty) and classes of rows with feedback."""
        truth: list[Any] = []
        predicted: list[Any] = []
        probabilities: list[Any] = []
        classes = None
        for row in self.logs:
            value = self.feedback.get(row.request_id)
            if value is None or len(value) != len(row.prediction):
                continue
            if model is not None and row.model != model:
                continue
            truth.extend(value)
            predicted.extend(row.prediction)
            if row.probabilities is not None:
                probabilities.extend(row.probabilities)
                classes = row.classes
        if len(probabilities) != len(truth):
            probabilities, classes = [], None
        return truth, predicted, probabilities, classes


def read_window(
    database: Database, deployment: str, size: int, seconds: float | None = None
) -> Window:
    """The last ``size`` requests of a deployment, or those of the last ``seconds``."""
    with database.session() as session:
        logs = _read_logs(session, deployment, size, _since(seconds))
        return _labelled(session, deployment, logs)


def _since(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.now(UTC) - timedelta(seconds=seconds)


def _read_logs(
    session: Session,
    deployment: str,
    size: int,
    since: datetime | None,
    after: int = 0,
    held: Container[int] = frozenset(),
) -> list[Logged]:
    """Log rows of a deployment past id ``after``: the newest ``size``, or all since ``since``.

    Oldest first; answered rows only (shadow rows left out). Rows whose id is in ``held``
    are left out before their JSON is decoded (a request of many rows is tens of
    kilobytes of it, and the overlap a round reads again is the round before's rows).
    """
    query = select(PredictionLogRow).where(
        PredictionLogRow.deployment == deployment,
        PredictionLogRow.shadow.is_(False),
        PredictionLogRow.id > after,
    )
    if since is not None:
        query = query.where(PredictionLogRow.created_at >= since)
    query = query.order_by(PredictionLogRow.id.desc()).limit(size if since is None else None)
    rows = reversed(session.scalars(query).all())
    return [Logged.decode(row) for row in rows if row.id not in held]


def _labelled(session: Session, deployment: str, logs: list[Logged]) -> Window:
    """A window of these rows with their labels, and the deployment's labels counted."""
    ids = [row.request_id for row in logs]
    feedback: dict[str, list[Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = session.execute(
            select(FeedbackRow.request_id, FeedbackRow.value).where(
                FeedbackRow.request_id.in_(chunk)
            )
        )
        feedback.update(found.tuples().all())
    # counted up to a cap: a count over millions of labels would cost more than the round
    labels = select(FeedbackRow.request_id).where(FeedbackRow.deployment == deployment)
    count = select(func.count()).select_from(labels.limit(LABELS_COUNTED).subquery())
    total = int(session.scalar(count) or 0)
    return Window(deployment, logs, feedback, total)


@dataclass
class _Kept:
    """A window held between rounds: its rows (oldest first), and how far the log was read."""

    logs: list[Logged]
    top: int  # the highest log id read
    floor: int  # the next read starts past this id: the top of the round before


class WindowReader:
    """Windows read incrementally: each read fetches only log rows past a watermark.

    The watermark trails by one round: a read asks for rows past the highest id the
    round *before* it had seen, and drops rows it already holds. Ids come from a
    sequence when a row is inserted, but two writers' transactions can commit out of
    order, so a row with a lower id may become visible after a higher one; reading one
    round back catches it (a log write commits in milliseconds; rounds are seconds
    apart). When the oldest row held is gone (the retention purge reached the window),
    the window is read whole again. Reads are the same windows ``read_window`` gives,
    which the tests check round after round.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._kept: dict[tuple[str, int, float | None], _Kept] = {}
        self._lock = threading.Lock()

    def read(self, deployment: str, size: int, seconds: float | None = None) -> Window:
        """The window ``read_window`` would give, from the rows held and the new ones."""
        key = (deployment, size, seconds)
        since = _since(seconds)
        with self._lock, self.database.session() as session:
            kept = self._kept.get(key)
            if kept is not None and kept.logs and not _present(session, kept.logs[0].id):
                kept = None  # purged under the window: read it whole
            if kept is None:
                logs = _read_logs(session, deployment, size, since)
                floor = 0
            else:
                held = {row.id for row in kept.logs}
                fresh = _read_logs(session, deployment, size, since, kept.floor, held)
                logs = sorted([*kept.logs, *fresh], key=lambda row: row.id)
                if since is not None:
                    logs = [row for row in logs if row.created_at >= since]
                logs = logs[-size:] if seconds is None else logs
                floor = kept.top
            top = max([row.id for row in logs] + [kept.top if kept else 0])
            self._kept[key] = _Kept(logs, top, floor)
            return _labelled(session, deployment, list(logs))

    def forget(self, deployment: str | None = None) -> None:
        """Drop what is held (for one deployment, or all): the next read is whole."""
        with self._lock:
            for key in [k for k in self._kept if deployment in (None, k[0])]:
                del self._kept[key]


def _present(session: Session, row_id: int) -> bool:
    """Whether log row ``row_id`` is still there (one primary-key probe)."""
    found = session.scalar(select(PredictionLogRow.id).where(PredictionLogRow.id == row_id))
    return found is not None


def logged_deployments(database: Database) -> list[str]:
    """Deployments that have log rows.

    A skip scan of the ``deployment`` index (one probe per deployment, a recursive query
    both Postgres and sqlite run) rather than ``DISTINCT``, which reads every entry of a
    log of millions of rows each round.
    """
    with database.session() as session:
        return [name for (name,) in session.execute(DEPLOYMENTS) if name is not None]


DEPLOYMENTS = text(
    "WITH RECURSIVE seen(deployment) AS ("
    " SELECT min(deployment) FROM monitoring_predictions"
    " UNION ALL"
    " SELECT (SELECT min(p.deployment) FROM monitoring_predictions p"
    "  WHERE p.deployment > seen.deployment)"
    " FROM seen WHERE seen.deployment IS NOT NULL"
    ") SELECT deployment FROM seen"
)
