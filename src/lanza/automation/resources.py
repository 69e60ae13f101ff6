"""Applied resources that have no other home, which others apply manages, and timers.

Deployments, LLM deployments and alert rules live in their own subsystems' tables;
apply marks those it created or adopted with a row of the same kind whose spec is just
``{"name": ...}``, so a later apply deletes only what it manages.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from lanza.automation.tables import ResourceRow, TimerRow
from lanza.clock import utcnow
from lanza.store import Database


def aware(moment: datetime) -> datetime:
    """A datetime read back from sqlite (naive) as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ResourceStore:
    """``automation_resources`` and ``automation_timers``; each call is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def all(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every applied resource of a kind, by name."""
        query = select(ResourceRow).where(ResourceRow.kind == kind).order_by(ResourceRow.name)
        with self.database.session() as session:
            return {row.name: dict(row.spec) for row in session.scalars(query)}

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """One resource's spec, or None."""
        with self.database.session() as session:
            row = session.get(ResourceRow, (kind, name))
            return None if row is None else dict(row.spec)

    def put(self, kind: str, name: str, spec: dict[str, Any], base: str | None = None) -> None:
        """Create or replace a resource; ``base`` is the folder its relative paths start from."""
        now = utcnow()
        with self.database.session() as session:
            row = session.get(ResourceRow, (kind, name))
            if row is None:
                session.add(
                    ResourceRow(
                        kind=kind, name=name, spec=spec, base=base, created_at=now, updated_at=now
                    )
                )
            else:
                row.spec, row.base, row.updated_at = spec, base, now

    def base(self, kind: str, name: str) -> str | None:
        """The folder a resource's relative paths start from."""
        with self.database.session() as session:
            row = session.get(ResourceRow, (kind, name))
            return None if row is None else row.base

    def remove(self, kind: str, name: str) -> None:
        """Forget a resource and its timer."""
        with self.database.session() as session:
            session.execute(
                delete(ResourceRow).where(ResourceRow.kind == kind, ResourceRow.name == name)
            )
            session.execute(delete(TimerRow).where(TimerRow.key == f"{kind}:{name}"))

    def own(self, kind: str, name: str) -> None:
        """Record that apply manages a resource kept in another subsystem's table."""
        self.put(kind, _key(name), {"name": name})

    def disown(self, kind: str, name: str) -> None:
        """Forget that apply manages a resource (it was deleted, or is gone)."""
        self.remove(kind, _key(name))

    def owned(self, kind: str) -> set[str]:
        """Names of the resources of a kind that apply manages."""
        return {str(spec.get("name", key)) for key, spec in self.all(kind).items()}

    def set_timer(self, key: str, next_run_at: datetime) -> None:
        """Start (or restart) a timer."""
        with self.database.session() as session:
            row = session.get(TimerRow, key)
            if row is None:
                session.add(TimerRow(key=key, next_run_at=next_run_at))
            else:
                row.next_run_at = next_run_at

    def drop_timer(self, key: str) -> None:
        """Stop a timer."""
        with self.database.session() as session:
            session.execute(delete(TimerRow).where(TimerRow.key == key))

    def timer(self, key: str) -> datetime | None:
        """When a timer is next due."""
        with self.database.session() as session:
            row = session.get(TimerRow, key)
            return None if row is None else aware(row.next_run_at)

    def claim(self, key: str, expected: datetime, following: datetime, now: datetime) -> bool:
        """Move a timer from ``expected`` to ``following`` if nobody else did first.

        The conditional UPDATE is atomic in sqlite and Postgres alike, so among several
        workers that saw the same due time exactly one gets ``True`` and fires the run.
        """
        with self.database.session() as session:
            result = session.execute(
                update(TimerRow)
                .where(TimerRow.key == key, TimerRow.next_run_at == expected)
                .values(next_run_at=following, last_run_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)


def _key(name: str) -> str:
    """A row name within the column's 64 characters (alert keys may be longer)."""
    if len(name) <= 64:
        return name
    return f"{name[:47]}#{hashlib.sha256(name.encode()).hexdigest()[:16]}"
