"""Leases on sqlite and Postgres: one holder at a time, taken over only after expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lanza.store.lease import Lease
from lanza.workspace import Workspace

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_one_holder_renews_and_another_waits_for_expiry(any_workspace: Workspace) -> None:
    db = any_workspace.database
    first = Lease(db, "monitoring", ttl_s=30, holder="a")
    second = Lease(db, "monitoring", ttl_s=30, holder="b")
    assert first.acquire(NOW)
    assert not second.acquire(NOW)
    assert first.acquire(NOW + timedelta(seconds=20))  # renewed until 12:00:50
    assert not second.acquire(NOW + timedelta(seconds=45))
    assert second.acquire(NOW + timedelta(seconds=51))
    assert not first.acquire(NOW + timedelta(seconds=52))


def test_a_released_lease_is_free_at_once(any_workspace: Workspace) -> None:
    db = any_workspace.database
    first = Lease(db, "scheduler", ttl_s=300, holder="a")
    second = Lease(db, "scheduler", ttl_s=300, holder="b")
    assert first.acquire(NOW)
    first.release()
    assert second.acquire(NOW)
    assert Lease(db, "other", ttl_s=300, holder="a").acquire(NOW)  # names are independent
