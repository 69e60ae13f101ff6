"""The audit history of alias moves, kept in lanza's database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from lanza.clock import utcnow
from lanza.store import Database
from lanza.store.tables import AliasEvent


@dataclass(frozen=True)
class AliasMove:
    """One recorded move of an alias from one version to another."""

    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    action: str
    actor: str
    reason: str | None
    created_at: datetime


class AliasHistory:
    """Records and reads alias moves per registered model."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, move: AliasMove) -> None:
        """Append one move."""
        with self._db.session() as session:
            session.add(
                AliasEvent(
                    model=move.model,
                    alias=move.alias,
                    from_version=move.from_version,
                    to_version=move.to_version,
                    action=move.action,
                    actor=move.actor,
                    reason=move.reason,
                    created_at=move.created_at,
                )
            )

    def moves(self, model: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of a model's aliases (or of one alias), oldest first."""
        query = select(AliasEvent).where(AliasEvent.model == model)
        if alias is not None:
            query = query.where(AliasEvent.alias == alias)
        with self._db.session() as session:
            rows = session.scalars(query.order_by(AliasEvent.id)).all()
            return [
                AliasMove(
                    model=row.model,
                    alias=row.alias,
                    from_version=row.from_version,
                    to_version=row.to_version,
                    action=row.action,
                    actor=row.actor,
                    reason=row.reason,
                    created_at=row.created_at,
                )
                for row in rows
            ]

    def forget(self, model: str) -> None:
        """Drop the history of a deleted model."""
        with self._db.session() as session:
            session.query(AliasEvent).filter(AliasEvent.model == model).delete()


def new_move(
    model: str,
    alias: str,
    from_version: str | None,
    to_version: str | None,
    action: str,
    actor: str,
    reason: str | None = None,
) -> AliasMove:
    """A move stamped with the current time."""
    return AliasMove(model, alias, from_version, to_version, action, actor, reason, utcnow())


def previous_version(moves: list[AliasMove]) -> str | None:
    """The version an alias held before its current one, skipping undone promotions.

    Promotions push onto a stack and rollbacks pop it, so rolling back twice walks two
    steps back in time rather than undoing the first rollback.
    """
    stack: list[str | None] = []
    for move in moves:
        if move.action == "rollback":
            if stack:
                stack.pop()
        elif move.action == "remove":
            stack.append(None)
        else:
            stack.append(move.to_version)
    while len(stack) >= 2:
        candidate = stack[-2]
        if candidate is not None:
            return candidate
        stack.pop(-2)
    return None
