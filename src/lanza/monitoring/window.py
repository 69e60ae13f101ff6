"""A monitoring window read from the log: the last N requests, or the last S seconds.

Shadow rows are left out: a window describes what callers were answered. Each
request's columns are expanded to one row per predicted row, with its ground truth
where feedback arrived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select

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
            json.loads(row.features),
            json.loads(row.prediction),
            json.loads(row.probabilities) if row.probabilities else None,
            json.loads(row.classes) if row.classes else None,
            row.face,
        )


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
    query = select(PredictionLogRow).where(
        PredictionLogRow.deployment == deployment, PredictionLogRow.shadow.is_(False)
    )
    if seconds is not None:
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        query = query.where(PredictionLogRow.created_at >= since)
    query = query.order_by(PredictionLogRow.id.desc()).limit(size if seconds is None else None)
    with database.session() as session:
        logs = [Logged.decode(row) for row in reversed(session.scalars(query).all())]
        ids = [row.request_id for row in logs]
        feedback: dict[str, list[Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found = session.scalars(select(FeedbackRow).where(FeedbackRow.request_id.in_(chunk)))
            feedback.update({f.request_id: f.value for f in found})
        # counted up to a cap: a count over millions of labels would cost more than the round
        labels = select(FeedbackRow.request_id).where(FeedbackRow.deployment == deployment)
        count = select(func.count()).select_from(labels.limit(LABELS_COUNTED).subquery())
        total = int(session.scalar(count) or 0)
    return Window(deployment, logs, feedback, total)


def logged_deployments(database: Database) -> list[str]:
    """Deployments that have log rows."""
    with database.session() as session:
        query = select(PredictionLogRow.deployment).distinct().order_by(PredictionLogRow.deployment)
        return list(session.scalars(query).all())
