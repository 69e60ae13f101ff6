"""Budgets: a USD limit per day, week or month for an API key, a deployment, or everything.

A ``block`` budget that is spent answers the next call with 429 and a sentence naming
the budget; an ``alert`` budget lets calls through, logs a warning once per period and
POSTs the budget to its webhook when it has one.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from lanza.errors import BudgetExceededError, NotFoundError
from lanza.llm.budgets.ledger import Ledger
from lanza.llm.budgets.tables import BudgetRow
from lanza.store import Database

log = logging.getLogger("lanza.llm")
Period = Literal["day", "week", "month"]


class BudgetSpec(BaseModel):
    """What a budget covers, how much and what happens when it is spent."""

    key: str | None = Field(None, description="API key name; none for every caller.")
    deployment: str | None = Field(None, description="LLM deployment; none for all.")
    usd: float = Field(gt=0, description="Dollars allowed per period.")
    per: Period = Field("month", description="day, week or month (calendar, UTC).")
    action: Literal["alert", "block"] = "alert"
    webhook: str | None = Field(
        None,
        description="URL POSTed once per period when spent.",
        json_schema_extra={"pattern": "^https?://"},
    )

    @model_validator(mode="after")
    def _webhook(self) -> BudgetSpec:
        if self.webhook and not self.webhook.startswith(("http://", "https://")):
            raise ValueError("webhook must be an http(s) URL")
        return self

    @property
    def name(self) -> str:
        """``key team-a``, ``deployment gpt``, ``key team-a on gpt`` or ``everyone``."""
        parts = []
        if self.key:
            parts.append(f"key {self.key}")
        if self.deployment:
            parts.append(f"{'on' if self.key else 'deployment'} {self.deployment}")
        return " ".join(parts) or "everyone"


def period_start(per: str, now: float) -> float:
    """The epoch second the current day, ISO week or month began (UTC)."""
    moment = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if per == "week":
        moment -= timedelta(days=moment.weekday())
    elif per == "month":
        moment = moment.replace(day=1)
    return moment.timestamp()


def period_end(per: str, start: float) -> datetime:
    """When the period that began at ``start`` ends."""
    moment = datetime.fromtimestamp(start, UTC)
    if per == "day":
        return moment + timedelta(days=1)
    if per == "week":
        return moment + timedelta(weeks=1)
    return (moment + timedelta(days=32)).replace(day=1)


class Budgets:
    """The budgets in the database, cached for a second, checked against the ledger."""

    def __init__(self, database: Database, ledger: Ledger, cache_s: float = 1.0) -> None:
        self.database = database
        self.ledger = ledger
        self.cache_s = cache_s
        self._cached: tuple[float, list[BudgetRow]] = (-1e9, [])
        self._lock = threading.Lock()
        self._alerting = threading.Lock()

    def set(self, spec: BudgetSpec) -> dict[str, Any]:
        """Create or replace the budget of a scope."""
        with self.database.session() as session:
            row = session.get(BudgetRow, spec.name)
            if row is None:
                row = BudgetRow(name=spec.name, created_at=time.time())
                session.add(row)
            row.key, row.deployment, row.usd = spec.key, spec.deployment, spec.usd
            row.period, row.action, row.webhook = spec.per, spec.action, spec.webhook
            row.alerted_period = None
        self._cached = (-1e9, [])
        return self.view(row)

    def delete(self, name: str) -> None:
        """Remove a budget by name; 404 if there is none."""
        with self.database.session() as session:
            row = session.get(BudgetRow, name)
            if row is None:
                raise NotFoundError(f"There is no budget '{name}'.")
            session.delete(row)
        self._cached = (-1e9, [])

    def rows(self) -> builtins.list[BudgetRow]:
        """Every budget (cached briefly: checked on each call)."""
        with self._lock:
            stamp, rows = self._cached
            if time.monotonic() - stamp < self.cache_s:
                return rows
        with self.database.session() as session:
            rows = list(session.scalars(select(BudgetRow).order_by(BudgetRow.name)))
        with self._lock:
            self._cached = (time.monotonic(), rows)
        return rows

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every budget with what is spent in its current period."""
        return [self.view(row) for row in self.rows()]

    def view(self, row: BudgetRow) -> dict[str, Any]:
        """A budget as JSON, with its spend so far this period."""
        start = period_start(row.period, time.time())
        spent = self.ledger.spent(row.key, row.deployment, start)
        return {
            "name": row.name,
            "key": row.key,
            "deployment": row.deployment,
            "usd": row.usd,
            "per": row.period,
            "action": row.action,
            "webhook": row.webhook,
            "spent_usd": round(spent, 6),
            "period_start": datetime.fromtimestamp(start, UTC).isoformat(),
            "resets_at": period_end(row.period, start).isoformat(),
            "over": spent >= row.usd,
        }

    def applicable(self, key: str, deployment: str) -> builtins.list[BudgetRow]:
        """The budgets that cover a call by ``key`` to ``deployment``."""
        return [
            row
            for row in self.rows()
            if row.key in (None, key) and row.deployment in (None, deployment)
        ]

    def admit(self, key: str, deployment: str) -> None:
        """Raise 429 if a ``block`` budget covering this call is spent."""
        now = time.time()
        for row in self.applicable(key, deployment):
            if row.action != "block":
                continue
            start = period_start(row.period, now)
            spent = self.ledger.spent(row.key, row.deployment, start)
            if spent >= row.usd:
                resets = period_end(row.period, start)
                error = BudgetExceededError(
                    f"The budget '{row.name}' of {usd(row.usd)} per {row.period} is spent "
                    f"({usd(spent)} so far); calls are refused until "
                    f"{resets:%Y-%m-%d %H:%M} UTC."
                )
                error.retry_after = max(1, int(resets.timestamp() - now))  # type: ignore[attr-defined]
                raise error

    def watch(self, key: str, deployment: str) -> builtins.list[str]:
        """After a call: alert once per period for each spent budget; returns their names."""
        with self._alerting:  # two calls ending together alert once
            return self._watch(key, deployment)

    def _watch(self, key: str, deployment: str) -> builtins.list[str]:
        now, fired = time.time(), []
        for row in self.applicable(key, deployment):
            start = period_start(row.period, now)
            if row.alerted_period == start:
                continue
            spent = self.ledger.spent(row.key, row.deployment, start)
            if spent < row.usd:
                continue
            fired.append(row.name)
            row.alerted_period = start
            with self.database.session() as session:
                stored = session.get(BudgetRow, row.name)
                if stored is not None:
                    stored.alerted_period = start
            log.warning(
                "LLM budget '%s' is spent: %s of %s this %s",
                row.name,
                usd(spent),
                usd(row.usd),
                row.period,
            )
            if row.webhook:
                _post(row.webhook, self.view(row))
        return fired


def usd(amount: float) -> str:
    """Dollars as people write them: cents, or more digits where cents would hide the amount
    (a $0.012 spend is not "$0.01")."""
    if round(amount, 2) == round(amount, 6):
        return f"${amount:,.2f}"
    return f"${amount:,.6f}".rstrip("0")


def _post(url: str, payload: dict[str, Any]) -> None:
    try:
        httpx.post(url, json={"event": "llm_budget_spent", "budget": payload}, timeout=5.0)
    except httpx.HTTPError as exc:
        log.warning("budget webhook %s failed: %s", url, exc)
