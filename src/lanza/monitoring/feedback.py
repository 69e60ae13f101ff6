"""Ground truth: true values posted for logged requests, joined to the log by request id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from lanza.clock import utcnow
from lanza.errors import NotFoundError, ValidationError
from lanza.monitoring.tables import FeedbackRow, PredictionLogRow
from lanza.store import Database


class FeedbackItem(BaseModel):
    """The true value of one request: a scalar, or a list with one value per predicted row."""

    request_id: str = Field(min_length=1, max_length=64)
    value: Any


class FeedbackBody(BaseModel):
    """One item (``request_id`` and ``value``) or several (``items``)."""

    request_id: str | None = Field(None, min_length=1, max_length=64)
    value: Any = None
    items: list[FeedbackItem] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> FeedbackBody:
        if (self.items is None) == (self.request_id is None):
            raise ValueError("send either 'request_id' and 'value', or 'items'")
        return self

    def all_items(self) -> list[FeedbackItem]:
        """The items, whichever shape was sent."""
        if self.items is not None:
            return self.items
        assert self.request_id is not None
        return [FeedbackItem(request_id=self.request_id, value=self.value)]


class FeedbackStore:
    """Writes ground truth after checking every request id is in the deployment's log."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def missing(self, deployment: str, request_ids: list[str]) -> list[str]:
        """Request ids not logged for this deployment, in the order given."""
        found: set[str] = set()
        with self.database.session() as session:
            for start in range(0, len(request_ids), 500):
                chunk = request_ids[start : start + 500]
                query = select(PredictionLogRow.request_id).where(
                    PredictionLogRow.deployment == deployment,
                    PredictionLogRow.request_id.in_(chunk),
                )
                found.update(session.scalars(query).all())
        return [r for r in request_ids if r not in found]

    def record(self, deployment: str, items: list[FeedbackItem]) -> int:
        """Store (or replace) each item's true value; 404 naming unknown request ids."""
        if not items:
            raise ValidationError("The feedback has no items.")
        ids = [item.request_id for item in items]
        unknown = self.missing(deployment, ids)
        if unknown:
            shown = ", ".join(f"'{r}'" for r in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise NotFoundError(
                f"Deployment '{deployment}' logged no request with id {shown}{more}."
            )
        now = utcnow()
        with self.database.session() as session:
            for item in items:
                value = item.value if isinstance(item.value, list) else [item.value]
                session.merge(
                    FeedbackRow(
                        request_id=item.request_id,
                        deployment=deployment,
                        value=value,
                        created_at=now,
                    )
                )
        return len(items)
