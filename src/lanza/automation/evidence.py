"""What production says about two models: labelled requests from the prediction log.

``labelled_rows`` turns logged requests with ground truth into training rows;
``compare`` scores the champion and the challenger on the same labelled requests
(shadow rows share the request id of the answer) or, for a canary, on the requests
each route answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from lanza.monitoring import quality
from lanza.monitoring.tables import FeedbackRow, PredictionLogRow
from lanza.store import Database

Replay = Callable[[pd.DataFrame], list[Any]]


@dataclass(frozen=True)
class Scores:
    """Each model's metric on the labelled requests of the trial."""

    metric: str
    champion: float | None
    challenger: float | None
    labelled: int
    replayed: int = 0


def labelled_rows(database: Database, deployment: str, target: str) -> pd.DataFrame:
    """Answered requests that received ground truth, one row per predicted row."""
    columns: dict[str, list[Any]] = {}
    truth: list[Any] = []
    for row, value in _joined(database, deployment, None):
        if row.shadow:
            continue
        features: dict[str, list[Any]] = json.loads(row.features)
        count = len(json.loads(row.prediction))
        if len(value) != count:
            continue
        for name, values in features.items():
            columns.setdefault(name, []).extend(values)
        truth.extend(value)
    frame = pd.DataFrame(columns)
    frame[target] = truth
    return frame


def compare(
    database: Database,
    deployment: str,
    since: datetime,
    metric: str,
    challenger: str,
    canary: bool,
    replay: Replay | None = None,
) -> Scores:
    """Score champion and challenger on requests logged since the trial began.

    With a shadow, a labelled request the shadow's log row is missing for (the shadow
    skipped it, or its row was not written) is scored by ``replay`` on the same logged
    features, so both models are always judged on the same requests and labels.
    """
    if canary:
        return _canary(database, deployment, since, metric, challenger)
    champion: list[Any] = []
    shadowed: dict[str, list[Any]] = {}
    answered: list[tuple[PredictionLogRow, list[Any]]] = []
    for row, value in _joined(database, deployment, since):
        if row.shadow:
            shadowed[row.request_id] = json.loads(row.prediction)
        elif len(json.loads(row.prediction)) == len(value):
            answered.append((row, value))
    missing = [row for row, _ in answered if row.request_id not in shadowed]
    if missing and replay is not None:
        frame = pd.concat([pd.DataFrame(json.loads(r.features)) for r in missing])
        predicted = iter(replay(frame.reset_index(drop=True)))
        for row in missing:
            count = len(json.loads(row.prediction))
            shadowed[row.request_id] = [next(predicted) for _ in range(count)]
    truth: list[Any] = []
    challenged: list[Any] = []
    for row, value in answered:
        other = shadowed.get(row.request_id)
        if other is None or len(other) != len(value):
            continue
        champion.extend(json.loads(row.prediction))
        challenged.extend(other)
        truth.extend(value)
    return Scores(
        metric,
        _score(metric, truth, champion),
        _score(metric, truth, challenged),
        len(truth),
        len(missing) if replay is not None else 0,
    )


def _canary(
    database: Database, deployment: str, since: datetime, metric: str, challenger: str
) -> Scores:
    """Each route judged on the labelled requests it answered."""
    predicted: dict[bool, list[Any]] = {True: [], False: []}
    truth: dict[bool, list[Any]] = {True: [], False: []}
    for row, value in _joined(database, deployment, since):
        answer = json.loads(row.prediction)
        if row.shadow or len(answer) != len(value):
            continue
        mine = row.model == challenger
        predicted[mine].extend(answer)
        truth[mine].extend(value)
    return Scores(
        metric,
        _score(metric, truth[False], predicted[False]),
        _score(metric, truth[True], predicted[True]),
        min(len(truth[False]), len(truth[True])),
        0,
    )


def _score(metric: str, truth: list[Any], predicted: list[Any]) -> float | None:
    if not truth:
        return None
    if metric in ("rmse", "mae"):
        return quality.regression(truth, predicted)[metric]
    return quality.classification(truth, predicted).get(metric)


def _joined(
    database: Database, deployment: str, since: datetime | None
) -> list[tuple[PredictionLogRow, list[Any]]]:
    query = (
        select(PredictionLogRow, FeedbackRow.value)
        .join(FeedbackRow, FeedbackRow.request_id == PredictionLogRow.request_id)
        .where(PredictionLogRow.deployment == deployment)
        .order_by(PredictionLogRow.id)
    )
    if since is not None:
        query = query.where(PredictionLogRow.created_at >= since)
    with database.session() as session:
        return [(row, list(value)) for row, value in session.execute(query).all()]
