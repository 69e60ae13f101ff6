"""The cost ledger: every gateway call's tokens and cost per API key, deployment and prompt.

Calls are kept in memory and written in batches by ``flush`` (the LLM component calls it
every second, off the request path). Spend is read from the database plus what is not
written yet, so a budget sees a call as soon as it ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, insert, select

from lanza.llm.budgets.tables import LedgerRow
from lanza.store import Database

BUCKETS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


@dataclass(frozen=True)
class Charge:
    """One call's line in the ledger."""

    at: float
    key: str
    deployment: str
    served_by: str
    model: str
    prompt: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class Ledger:
    """Records charges in batches and sums them per key and deployment."""

    def __init__(self, database: Database, cache_s: float = 1.0) -> None:
        self.database = database
        self.cache_s = cache_s
        self._pending: list[Charge] = []
        self._sums: dict[tuple[str | None, str | None, float], tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._write = threading.Lock()

    def record(self, charge: Charge) -> None:
        """Queue one charge (cheap: no database work)."""
        with self._lock:
            self._pending.append(charge)

    def flush(self) -> int:
        """Write the queued charges in one transaction; returns how many."""
        with self._write:
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return 0
            with self.database.session() as session:
                session.execute(insert(LedgerRow), [asdict(c) for c in batch])
            with self._lock:
                del self._pending[: len(batch)]
                self._sums.clear()
        return len(batch)

    def spent(self, key: str | None, deployment: str | None, since: float) -> float:
        """USD spent since ``since`` by a key and/or on a deployment (None matches all)."""
        scope = (key, deployment, since)
        with self._lock:
            cached = self._sums.get(scope)
            pending = sum(
                c.cost_usd for c in self._pending if c.at >= since and _matches(c, key, deployment)
            )
        if cached is not None and time.monotonic() - cached[0] < self.cache_s:
            return cached[1] + pending
        stmt = select(func.coalesce(func.sum(LedgerRow.cost_usd), 0.0)).where(LedgerRow.at >= since)
        if key is not None:
            stmt = stmt.where(LedgerRow.key == key)
        if deployment is not None:
            stmt = stmt.where(LedgerRow.deployment == deployment)
        with self._write, self.database.session() as session:
            stored = float(session.scalar(stmt) or 0.0)
            with self._lock:
                self._sums[scope] = (time.monotonic(), stored)
                pending = sum(
                    c.cost_usd
                    for c in self._pending
                    if c.at >= since and _matches(c, key, deployment)
                )
        return stored + pending

    def series(self, since: float, bucket: str = "hour", by: str = "key") -> dict[str, Any]:
        """Spend per time bucket and per key (or deployment, or prompt), for charts."""
        width = BUCKETS[bucket]
        column = {"key": LedgerRow.key, "deployment": LedgerRow.deployment}.get(
            by, LedgerRow.prompt
        )
        slot = func.floor(LedgerRow.at / width)
        stmt = (
            select(
                slot,
                column,
                func.sum(LedgerRow.cost_usd),
                func.count(),
                func.sum(LedgerRow.prompt_tokens + LedgerRow.completion_tokens),
            )
            .where(LedgerRow.at >= since)
            .group_by(slot, column)
            .order_by(slot)
        )
        self.flush()
        with self.database.session() as session:
            rows = session.execute(stmt).all()
        points = [
            {
                "at": float(s) * width,
                by: name if name is not None else "(none)",
                "cost_usd": float(cost or 0.0),
                "calls": int(calls),
                "tokens": int(tokens or 0),
            }
            for s, name, cost, calls, tokens in rows
        ]
        totals: dict[str, float] = {}
        for point in points:
            name = str(point[by])
            totals[name] = totals.get(name, 0.0) + float(point["cost_usd"])
        return {"bucket": bucket, "by": by, "since": since, "points": points, "totals": totals}


def _matches(charge: Charge, key: str | None, deployment: str | None) -> bool:
    return (key is None or charge.key == key) and (
        deployment is None or charge.deployment == deployment
    )
