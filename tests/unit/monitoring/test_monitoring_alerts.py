"""Alert rules: metric look-up in a report, comparison, cool-down and the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lanza.errors import NotFoundError, ValidationError
from lanza.monitoring.alerts import AlertRule, AlertStore, metric_value
from lanza.store import Database

REPORT: dict[str, Any] = {
    "traffic": {"requests": 40},
    "latency": {"p50_ms": 2.0, "p99_ms": 9.0},
    "errors": {"rate": 0.1},
    "drift": {
        "share": 0.5,
        "features": [{"column": "x", "statistic": 0.2, "effect_size": 0.01}],
        "prediction": {"column": "prediction", "statistic": 0.1, "effect_size": 0.3},
    },
    "quality": {"metrics": {"accuracy": 0.8}},
    "estimated": {"metrics": {"accuracy": 0.7}},
    "health": {"status": "watch", "level": 1, "reasons": []},
}


def test_metric_values() -> None:
    assert metric_value(REPORT, "drift_share") == 0.5
    assert metric_value(REPORT, "drift.x") == 0.01
    assert metric_value(REPORT, "drift.prediction") == 0.3
    assert metric_value(REPORT, "drift.y") is None
    assert metric_value(REPORT, "latency_p99_ms") == 9.0
    assert metric_value(REPORT, "error_rate") == 0.1
    assert metric_value(REPORT, "requests") == 40
    assert metric_value(REPORT, "accuracy") == 0.8
    assert metric_value(REPORT, "rmse") is None
    assert metric_value(REPORT, "estimated.accuracy") == 0.7
    assert metric_value(REPORT, "estimated.rmse") is None
    assert metric_value(REPORT, "health") == 1


def test_fires_once_per_cooldown_and_records(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/lanza.db")
    database.migrate()
    store = AlertStore(database)
    store.create("d", AlertRule(metric="accuracy", comparison="<", threshold=0.9, cooldown_s=60))
    store.create("d", AlertRule(metric="accuracy", comparison=">", threshold=0.9))
    now = datetime.now(UTC)
    fired = [store.evaluate(rule, REPORT, now) for rule in store.rules("d")]
    assert fired == [True, False]
    rule = store.rules("d")[0]
    assert store.evaluate(rule, REPORT, now + timedelta(seconds=30)) is False
    assert store.evaluate(rule, REPORT, now + timedelta(seconds=61)) is True
    history = store.history("d")
    assert [(h["metric"], h["value"], h["delivered"]) for h in history] == [
        ("accuracy", 0.8, False)
    ] * 2
    with pytest.raises(ValidationError, match="Unknown alert metric 'nope'"):
        store.create("d", AlertRule(metric="nope", threshold=1))
    with pytest.raises(NotFoundError, match="no alert rule 'zzz'"):
        store.delete("d", "zzz")
    database.dispose()
