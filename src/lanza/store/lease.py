"""Leases: one holder at a time for work that several server processes could each do.

``lanza serve --workers N`` runs N processes over one database. Periodic work that must
happen once (a monitoring round's MLflow step and alerts, a scheduled job) asks for a
named lease first: the holder renews it each time it asks; another process takes it
over only after it has expired (the holder died or stopped renewing). The claim is one
conditional UPDATE (or an INSERT for a new name), atomic on sqlite and Postgres alike.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import DateTime, String, Table, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from lanza.store.database import Database
from lanza.store.tables import Base


class LeaseRow(Base):
    """Who holds a named lease, and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


TABLE = cast(Table, LeaseRow.__table__)


def process_holder() -> str:
    """A name for this process that no other process (here or on another host) shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """A named lease held by this process while it keeps renewing it within ``ttl_s``."""

    def __init__(
        self, database: Database, name: str, ttl_s: float, holder: str | None = None
    ) -> None:
        self.database = database
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.holder = holder or process_holder()

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = now or datetime.now(UTC)
        table = TABLE
        claim = (
            update(table)
            .where(table.c.name == self.name)
            .where((table.c.holder == self.holder) | (table.c.expires_at < now))
            .values(holder=self.holder, expires_at=now + self.ttl)
        )
        with self.database.engine.begin() as connection:
            if connection.execute(claim).rowcount:
                return True
        try:
            with self.database.engine.begin() as connection:
                connection.execute(
                    insert(table).values(
                        name=self.name, holder=self.holder, expires_at=now + self.ttl
                    )
                )
        except IntegrityError:
            return False
        return True

    def release(self) -> None:
        """Give the lease up now, so another process need not wait for it to expire."""
        table = TABLE
        past = datetime(1970, 1, 1, tzinfo=UTC)
        with self.database.engine.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.name == self.name, table.c.holder == self.holder)
                .values(expires_at=past)
            )
