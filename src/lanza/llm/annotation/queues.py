"""Annotation queues: which trace a reviewer sees next, what a review writes, and agreement.

A queue offers finished traces, newest first, that match its ``filter`` (the same terms
as evaluators); with ``evaluator`` it offers only traces that evaluator scored, those
under ``below`` on ``scorer`` first (low score), or, with ``disagreement``, those whose
scorers disagree (their scores, each put on 0-1, differ by half or more). A review is a
1-5 score and an optional corrected answer: it is kept in the reviews table and written
as feedback on the trace (key ``review``), whose correction datasets already take as
the expected answer. Agreement is Cohen's kappa between the reviewers and each scorer
of each evaluator, on pass/fail (a score of at least the middle of its scale).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select

from lanza.errors import ConflictError, NotFoundError
from lanza.llm.annotation.tables import QueueRow, ReviewRow
from lanza.llm.online.spec import NAME, parse_filter
from lanza.llm.online.tables import ScoreRow
from lanza.llm.tracing.queries import FeedbackIn, TraceReader
from lanza.llm.tracing.records import dumps
from lanza.llm.tracing.tables import TraceSummary
from lanza.store import Database

SCAN = 500


class QueueSpec(BaseModel):
    """What an annotation queue offers."""

    model_config = ConfigDict(extra="forbid")

    name: str
    filter: str = Field("", description="Trace terms, as for evaluators.")
    evaluator: str | None = Field(None, description="Only traces this evaluator scored.")
    scorer: str = Field("judge", description="The scorer 'below' looks at.")
    below: float | None = Field(None, description="Only scores under this (low score).")
    disagreement: bool = Field(False, description="Only traces whose scorers disagree.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: str) -> str:
        parse_filter(value)
        return value

    @model_validator(mode="after")
    def _needs_evaluator(self) -> QueueSpec:
        if (self.below is not None or self.disagreement) and not self.evaluator:
            raise ValueError("'below' and 'disagreement' need an evaluator")
        return self


class ReviewIn(BaseModel):
    """A reviewer's verdict on one trace: a 1-5 score and/or a correction, or a skip."""

    reviewer: str = Field(min_length=1, max_length=128)
    score: float | None = Field(None, ge=1, le=5)
    correction: str | None = None
    skip: bool = False

    @model_validator(mode="after")
    def _content(self) -> ReviewIn:
        if not self.skip and self.score is None and not self.correction:
            raise ValueError("a review needs a score (1-5), a correction, or skip")
        return self


def unit(scorer: str, score: float) -> float:
    """A score on 0-1: judge grades and review scores are 1-5, the others 0-1 already."""
    return (score - 1.0) / 4.0 if scorer in ("judge", "review") else score


class AnnotationQueues:
    """Queues, the next trace for a reviewer, reviews and agreement."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.reader = TraceReader(database)

    def create(self, spec: QueueSpec) -> QueueSpec:
        """Add a queue; 409 if the name is taken."""
        with self.database.session() as session:
            if session.get(QueueRow, spec.name) is not None:
                raise ConflictError(f"Annotation queue '{spec.name}' exists already.")
            session.add(QueueRow(name=spec.name, spec=spec.model_dump(), created_at=time.time()))
        return spec

    def get(self, name: str) -> QueueSpec:
        """One queue; 404 if missing."""
        with self.database.session() as session:
            row = session.get(QueueRow, name)
            if row is None:
                raise NotFoundError(f"There is no annotation queue named '{name}'.")
            return QueueSpec.model_validate(row.spec)

    def delete(self, name: str) -> None:
        """Remove a queue; 404 if missing. Its reviews stay, as feedback on the traces."""
        with self.database.session() as session:
            row = session.get(QueueRow, name)
            if row is None:
                raise NotFoundError(f"There is no annotation queue named '{name}'.")
            session.delete(row)

    def all(self) -> list[QueueSpec]:
        """Every queue, by name."""
        with self.database.session() as session:
            rows = session.scalars(select(QueueRow).order_by(QueueRow.name))
            return [QueueSpec.model_validate(r.spec) for r in rows]

    def next(self, name: str, reviewer: str) -> dict[str, Any]:
        """The next trace this reviewer has not reviewed or skipped, with how many remain."""
        spec = self.get(name)
        candidates = self._candidates(spec)
        with self.database.session() as session:
            done = set(
                session.scalars(
                    select(ReviewRow.trace_id).where(
                        ReviewRow.queue == name, ReviewRow.reviewer == reviewer
                    )
                )
            )
        left = [t for t in candidates if t not in done]
        if not left:
            return {"queue": name, "remaining": 0, "trace": None}
        trace = self.reader.get(left[0])
        trace["scores"] = self._scores(left[0])
        return {"queue": name, "remaining": len(left), "trace": trace}

    def review(self, name: str, trace_id: str, review: ReviewIn) -> dict[str, Any]:
        """Record a review (or a skip), and write it as feedback on the trace."""
        self.get(name)
        row = ReviewRow(
            queue=name,
            trace_id=trace_id,
            reviewer=review.reviewer,
            score=None if review.skip else review.score,
            correction=None if review.skip else review.correction,
            skipped=int(review.skip),
            at=time.time(),
        )
        with self.database.session() as session:
            if session.get(TraceSummary, trace_id) is None:
                raise NotFoundError(f"There is no trace '{trace_id}'.")
            session.add(row)
        if not review.skip:
            source = {"source": "reviewer", "reviewer": review.reviewer, "queue": name}
            self.reader.add_feedback(
                trace_id,
                FeedbackIn(
                    key="review", score=review.score, value=source, correction=review.correction
                ),
            )
        return {
            "queue": name,
            "trace_id": trace_id,
            "reviewer": review.reviewer,
            "skipped": review.skip,
        }

    def agreement(self, name: str) -> dict[str, Any]:
        """Cohen's kappa between this queue's reviews and each evaluator scorer."""
        self.get(name)
        with self.database.session() as session:
            reviews = session.execute(
                select(ReviewRow.trace_id, ReviewRow.score).where(
                    ReviewRow.queue == name, ReviewRow.score.is_not(None), ReviewRow.skipped == 0
                )
            ).all()
            ids = list({t for t, _ in reviews})
            scores = session.execute(
                select(ScoreRow.trace_id, ScoreRow.rule, ScoreRow.scorer, ScoreRow.score).where(
                    ScoreRow.trace_id.in_(ids or [""])
                )
            ).all()
        human: dict[str, list[bool]] = defaultdict(list)
        for trace_id, score in reviews:
            if score is not None:
                human[trace_id].append(unit("review", float(score)) >= 0.5)
        machine: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
        for trace_id, rule, scorer, score in scores:
            machine[(rule, scorer)][trace_id] = unit(scorer, float(score)) >= 0.5
        rows = []
        for (rule, scorer), verdicts in sorted(machine.items()):
            pairs = [(h, verdicts[t]) for t, hs in human.items() if t in verdicts for h in hs]
            kappa, observed = cohen_kappa(pairs)
            rows.append(
                {
                    "evaluator": rule,
                    "scorer": scorer,
                    "pairs": len(pairs),
                    "agreement": observed,
                    "kappa": kappa,
                }
            )
        return {"queue": name, "reviews": len(reviews), "evaluators": rows}

    def _candidates(self, spec: QueueSpec) -> list[str]:
        terms = parse_filter(spec.filter)
        stmt = select(TraceSummary.trace_id).where(
            TraceSummary.status != "running",
            TraceSummary.tags.not_like('%"lanza:evaluator"%'),
        )
        if "name" in terms:
            stmt = stmt.where(TraceSummary.name.contains(terms["name"], autoescape=True))
        if "status" in terms:
            stmt = stmt.where(TraceSummary.status == terms["status"])
        if "tag" in terms:
            stmt = stmt.where(TraceSummary.tags.contains(dumps(terms["tag"]), autoescape=True))
        stmt = stmt.order_by(TraceSummary.start_time.desc()).limit(SCAN)
        with self.database.session() as session:
            ordered = list(session.scalars(stmt))
            if spec.evaluator is None:
                return ordered
            rows = session.execute(
                select(ScoreRow.trace_id, ScoreRow.scorer, func.avg(ScoreRow.score))
                .where(ScoreRow.rule == spec.evaluator, ScoreRow.trace_id.in_(ordered or [""]))
                .group_by(ScoreRow.trace_id, ScoreRow.scorer)
            ).all()
        by_trace: dict[str, dict[str, float]] = defaultdict(dict)
        for trace_id, scorer, score in rows:
            by_trace[trace_id][scorer] = float(score)
        picked = [t for t in ordered if t in by_trace]
        if spec.below is not None:
            low = [t for t in picked if by_trace[t].get(spec.scorer, spec.below) < spec.below]
            picked = sorted(low, key=lambda t: by_trace[t][spec.scorer])
        if spec.disagreement:
            picked = [t for t in picked if _spread(by_trace[t]) >= 0.5]
        return picked

    def _scores(self, trace_id: str) -> list[dict[str, Any]]:
        with self.database.session() as session:
            rows = session.execute(
                select(ScoreRow.rule, ScoreRow.scorer, ScoreRow.score).where(
                    ScoreRow.trace_id == trace_id
                )
            ).all()
        return [{"evaluator": r, "scorer": s, "score": v} for r, s, v in rows]


def _spread(scores: dict[str, float]) -> float:
    values = [unit(scorer, score) for scorer, score in scores.items()]
    return max(values) - min(values) if len(values) > 1 else 0.0


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> tuple[float | None, float | None]:
    """Cohen's kappa and the observed agreement of two raters' yes/no verdicts."""
    if not pairs:
        return None, None
    n = len(pairs)
    observed = sum(1 for a, b in pairs if a == b) / n
    yes_a = sum(1 for a, _ in pairs if a) / n
    yes_b = sum(1 for _, b in pairs if b) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    if expected >= 1.0:
        return (1.0 if observed == 1.0 else 0.0), observed
    return (observed - expected) / (1 - expected), observed
