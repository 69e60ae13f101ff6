"""The labelling queue: production predictions for a person to confirm or correct.

Items are logged single-row predictions without ground truth. Most are the ones the
model was least sure of (uncertainty sampling: the lowest probability of the predicted
class), which teach a retrained model the most; a random slice is mixed in, so the
agreement measured on it is an unbiased estimate of live accuracy. Each answer is
written as ground truth through the monitoring feedback store (so live quality and
the retraining set see it) and recorded with the sample it came from.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from lanza.clock import utcnow
from lanza.errors import NotFoundError, ValidationError
from lanza.monitoring.feedback import FeedbackItem, FeedbackStore
from lanza.monitoring.tables import FeedbackRow, PredictionLogRow
from lanza.monitoring.window import Logged
from lanza.pages.tables import LabelRow
from lanza.store import Database

SCAN = 2000


@dataclass(frozen=True)
class Item:
    """One prediction waiting for a person's answer."""

    request_id: str
    model: str
    created_at: str
    features: dict[str, Any]
    prediction: Any
    confidence: float | None
    classes: list[Any] | None
    sample: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class LabellingQueue:
    """Picks items from the prediction log and records answers as feedback."""

    def __init__(self, database: Database, feedback: FeedbackStore) -> None:
        self.database = database
        self.feedback = feedback

    def items(
        self, deployment: str, size: int = 20, random_share: float = 0.2, seed: int | None = None
    ) -> list[Item]:
        """Up to ``size`` unlabelled items: least confident first, a random slice mixed in."""
        pool = self._pool(deployment)
        rng = random.Random(seed)
        scored = [(c, row) for row in pool if (c := _confidence(row)) is not None]
        n_random = min(len(pool), round(size * random_share)) if scored else min(len(pool), size)
        chosen: list[Item] = []
        if scored:
            scored.sort(key=lambda pair: pair[0])
            for confidence, row in scored[: size - n_random]:
                chosen.append(_item(row, confidence, "uncertain"))
        taken = {item.request_id for item in chosen}
        rest = [row for row in pool if row.request_id not in taken]
        for row in rng.sample(rest, min(n_random, len(rest))):
            position = rng.randint(0, len(chosen))
            chosen.insert(position, _item(row, _confidence(row), "random"))
        return chosen

    def _pool(self, deployment: str) -> list[Logged]:
        labelled = select(FeedbackRow.request_id).where(FeedbackRow.deployment == deployment)
        query = (
            select(PredictionLogRow)
            .where(
                PredictionLogRow.deployment == deployment,
                PredictionLogRow.shadow.is_(False),
                PredictionLogRow.request_id.not_in(labelled),
            )
            .order_by(PredictionLogRow.id.desc())
            .limit(SCAN)
        )
        with self.database.session() as session:
            rows = [Logged.decode(r) for r in session.scalars(query).all()]
        return [r for r in rows if len(r.prediction) == 1]

    def answer(
        self, deployment: str, request_id: str, value: Any, sample: str, labeller: str
    ) -> dict[str, Any]:
        """Record one answer as ground truth; returns the queue's progress."""
        logged = self._logged(deployment, request_id)
        value = _typed(value, logged)
        self.feedback.record(deployment, [FeedbackItem(request_id=request_id, value=[value])])
        predicted = logged.prediction[0]
        with self.database.session() as session:
            session.merge(
                LabelRow(
                    request_id=request_id,
                    deployment=deployment,
                    sample=sample if sample in ("uncertain", "random") else "other",
                    value=value,
                    predicted=predicted,
                    agreed=_agrees(value, predicted),
                    labeller=labeller,
                    created_at=utcnow(),
                )
            )
        return self.progress(deployment)

    def _logged(self, deployment: str, request_id: str) -> Logged:
        query = select(PredictionLogRow).where(
            PredictionLogRow.deployment == deployment, PredictionLogRow.request_id == request_id
        )
        with self.database.session() as session:
            row = session.scalars(query.limit(1)).first()
            if row is None:
                raise NotFoundError(
                    f"Deployment '{deployment}' logged no request with id '{request_id}'."
                )
            return Logged.decode(row)

    def progress(self, deployment: str) -> dict[str, Any]:
        """Answers so far, agreement with the model overall and on the random slice."""
        query = select(LabelRow.sample, LabelRow.agreed, func.count()).where(
            LabelRow.deployment == deployment
        )
        with self.database.session() as session:
            counts = session.execute(query.group_by(LabelRow.sample, LabelRow.agreed)).all()
        by_sample: dict[str, dict[str, int]] = {}
        for sample, agreed, count in counts:
            entry = by_sample.setdefault(str(sample), {"labelled": 0, "agreed": 0})
            entry["labelled"] += int(count)
            entry["agreed"] += int(count) if agreed else 0
        labelled = sum(e["labelled"] for e in by_sample.values())
        agreeing = sum(e["agreed"] for e in by_sample.values())
        rand = by_sample.get("random", {"labelled": 0, "agreed": 0})
        return {
            "deployment": deployment,
            "labelled": labelled,
            "agreement": agreeing / labelled if labelled else None,
            "random_labelled": rand["labelled"],
            "random_agreement": rand["agreed"] / rand["labelled"] if rand["labelled"] else None,
            "by_sample": by_sample,
            "waiting": len(self._pool(deployment)),
        }


def _confidence(row: Logged) -> float | None:
    if not row.probabilities:
        return None
    return float(max(row.probabilities[0]))


def _item(row: Logged, confidence: float | None, sample: str) -> Item:
    return Item(
        row.request_id,
        row.model,
        row.created_at.isoformat(),
        {name: values[0] for name, values in row.features.items()},
        row.prediction[0],
        confidence,
        row.classes,
        sample,
    )


def _typed(value: Any, logged: Logged) -> Any:
    """The answer in the type of the model's classes (labels arrive as text from a page)."""
    if logged.classes:
        for label in logged.classes:
            if str(label) == str(value):
                return label
        shown = ", ".join(str(c) for c in logged.classes)
        raise ValidationError(f"'{value}' is not one of the model's classes ({shown}).")
    if isinstance(logged.prediction[0], int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"The answer must be a number; got {value!r}.") from exc
    return value


def _agrees(value: Any, predicted: Any) -> bool:
    if isinstance(value, float) and isinstance(predicted, int | float):
        return abs(value - predicted) <= 0.01 * max(abs(value), abs(predicted), 1e-12)
    return str(value) == str(predicted)
