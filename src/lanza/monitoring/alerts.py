"""Alert rules per deployment, checked against each report, and their webhook calls.

A rule names a report metric (``health`` (0 healthy, 1 watch, 2 degraded),
``drift_share``, ``drift.<feature>`` (its effect size), ``accuracy``, ``f1``, ``roc_auc``,
``rmse``, ``mae``, ``estimated.<metric>`` (estimated without labels),
``latency_p50_ms``, ``latency_p99_ms``, ``error_rate``, ``requests``), a comparison,
a threshold, the window (latest N predictions) it is judged over and a cool-down
between two firings. A firing is recorded, and POSTed as JSON to the rule's webhook
when it has one.
"""

from __future__ import annotations

import logging
import operator
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from lanza.errors import NotFoundError, ValidationError
from lanza.monitoring.tables import AlertEventRow, AlertRuleRow
from lanza.store import Database

log = logging.getLogger("lanza.monitoring")
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
METRICS = (
    "health",
    "drift_share",
    "accuracy",
    "f1",
    "roc_auc",
    "rmse",
    "mae",
    "latency_p50_ms",
    "latency_p99_ms",
    "error_rate",
    "requests",
)
# A window beyond any log a rule could read (and within a 64-bit database integer).
MAX_WINDOW = 100_000_000
# What ``AlertStore.create`` takes, for the OpenAPI document (it answers 422 otherwise).
METRIC_PATTERN = "^(" + "|".join(METRICS) + r")$|^(drift|estimated)\."


class AlertRule(BaseModel):
    """What a caller sends to create a rule."""

    metric: str = Field(
        description="A report metric, e.g. drift_share or drift.<feature>.",
        json_schema_extra={"pattern": METRIC_PATTERN},
    )
    comparison: Comparison = Field(">", description="How the value is compared.")
    threshold: float = Field(description="The value compared with.")
    window: int = Field(
        1000, ge=1, le=MAX_WINDOW, description="Latest predictions the metric is judged over."
    )
    cooldown_s: float = Field(300, ge=0, description="Seconds before the rule can fire again.")
    webhook_url: str | None = Field(None, description="URL that receives a JSON POST on firing.")


def metric_value(report: dict[str, Any], metric: str) -> float | None:
    """The value of a rule's metric in a report, or None when the report lacks it."""
    drift = report.get("drift") or {}
    if metric == "health":
        return float((report.get("health") or {}).get("level", 0))
    if metric.startswith("estimated."):
        estimated = (report.get("estimated") or {}).get("metrics") or {}
        return estimated.get(metric.removeprefix("estimated."))
    if metric == "drift_share":
        return drift.get("share")
    if metric.startswith("drift."):
        column = metric.removeprefix("drift.")
        found = [f for f in drift.get("features", []) if f["column"] == column]
        if column == "prediction" and drift.get("prediction"):
            found = [drift["prediction"]]
        return float(found[0]["effect_size"]) if found else None
    if metric in ("latency_p50_ms", "latency_p99_ms"):
        return (report.get("latency") or {}).get(metric.removeprefix("latency_"))
    if metric == "error_rate":
        return (report.get("errors") or {}).get("rate")
    if metric == "requests":
        return float((report.get("traffic") or {}).get("requests", 0))
    return ((report.get("quality") or {}).get("metrics") or {}).get(metric)


class AlertStore:
    """Rules and fired alerts in lanza's database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, deployment: str, rule: AlertRule) -> dict[str, Any]:
        """Persist a rule; 422 for an unknown metric."""
        if rule.metric not in METRICS and not rule.metric.startswith(("drift.", "estimated.")):
            raise ValidationError(
                f"Unknown alert metric '{rule.metric}'; use one of {', '.join(METRICS)}, "
                "drift.<feature> or estimated.<metric>."
            )
        row = AlertRuleRow(id=uuid.uuid4().hex, deployment=deployment, **rule.model_dump())
        with self.database.session() as session:
            session.add(row)
        return _rule(row)

    def rules(self, deployment: str | None = None) -> list[AlertRuleRow]:
        """Rules of one deployment, or all."""
        query = select(AlertRuleRow).order_by(AlertRuleRow.created_at)
        if deployment is not None:
            query = query.where(AlertRuleRow.deployment == deployment)
        with self.database.session() as session:
            return list(session.scalars(query).all())

    def describe(self, deployment: str) -> list[dict[str, Any]]:
        """Rules of a deployment, JSON-ready."""
        return [_rule(r) for r in self.rules(deployment)]

    def delete(self, deployment: str, rule_id: str) -> None:
        """Remove a rule; 404 if it is not one of this deployment's."""
        with self.database.session() as session:
            row = session.get(AlertRuleRow, rule_id)
            if row is None or row.deployment != deployment:
                raise NotFoundError(f"Deployment '{deployment}' has no alert rule '{rule_id}'.")
            session.delete(row)

    def forget(self, deployment: str) -> None:
        """Remove every rule of a deleted deployment: a new one of its name starts bare."""
        with self.database.session() as session:
            for row in session.scalars(
                select(AlertRuleRow).where(AlertRuleRow.deployment == deployment)
            ):
                session.delete(row)

    def history(self, deployment: str, limit: int = 50) -> list[dict[str, Any]]:
        """Most recent firings first."""
        query = (
            select(AlertEventRow)
            .where(AlertEventRow.deployment == deployment)
            .order_by(AlertEventRow.id.desc())
            .limit(limit)
        )
        with self.database.session() as session:
            return [_event(e) for e in session.scalars(query).all()]

    def evaluate(self, rule: AlertRuleRow, report: dict[str, Any], now: datetime) -> bool:
        """Fire ``rule`` if its metric crosses the threshold and it is out of cool-down."""
        value = metric_value(report, rule.metric)
        if value is None or not COMPARE[rule.comparison](float(value), rule.threshold):
            return False
        last = rule.last_fired_at
        if last is not None and now - _aware(last) < timedelta(seconds=rule.cooldown_s):
            return False
        delivered, detail = _post(rule, float(value), report, now)
        with self.database.session() as session:
            stored = session.get(AlertRuleRow, rule.id)
            if stored is None:
                return False
            stored.last_fired_at = now
            session.add(
                AlertEventRow(
                    rule_id=rule.id,
                    deployment=rule.deployment,
                    metric=rule.metric,
                    value=float(value),
                    threshold=rule.threshold,
                    comparison=rule.comparison,
                    delivered=delivered,
                    detail=detail,
                    created_at=now,
                )
            )
        return True


def _post(
    rule: AlertRuleRow, value: float, report: dict[str, Any], now: datetime
) -> tuple[bool, str | None]:
    if not rule.webhook_url:
        return False, "no webhook"
    body = {
        "alert": _rule(rule),
        "deployment": rule.deployment,
        "metric": rule.metric,
        "value": value,
        "threshold": rule.threshold,
        "comparison": rule.comparison,
        "fired_at": now.isoformat(),
        "serving": report.get("serving"),
        "health": report.get("health"),
    }
    import httpx  # on first use: a server imports this module at start

    try:
        response = httpx.post(rule.webhook_url, json=body, timeout=5)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("alert webhook %s failed: %s", rule.webhook_url, exc)
        return False, str(exc)[:500]
    return True, None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rule(row: AlertRuleRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "deployment": row.deployment,
        "metric": row.metric,
        "comparison": row.comparison,
        "threshold": row.threshold,
        "window": row.window,
        "cooldown_s": row.cooldown_s,
        "webhook_url": row.webhook_url,
        "last_fired_at": _aware(row.last_fired_at).isoformat() if row.last_fired_at else None,
    }


def _event(row: AlertEventRow) -> dict[str, Any]:
    return {
        "rule_id": row.rule_id,
        "metric": row.metric,
        "value": row.value,
        "comparison": row.comparison,
        "threshold": row.threshold,
        "delivered": row.delivered,
        "detail": row.detail,
        "fired_at": _aware(row.created_at).isoformat(),
    }
