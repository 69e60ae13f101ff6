"""``lanza monitor`` and ``lanza alerts`` on a server's database (in process, and once as a user
runs it, for the one-sentence error)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from lanza.cli.app import app
from lanza.errors import NotFoundError, ValidationError
from lanza.settings import Settings
from tests.integration.monitoring.conftest import FEATURES, Serve, predict

pytestmark = pytest.mark.slow


def _lanza(settings: Settings, *args: str) -> str:
    where = ["--home", str(settings.home), "--database-url", settings.database]
    result = CliRunner().invoke(app, [*where, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_monitor_and_alerts_commands(
    serve: Serve,
    cancer: pd.DataFrame,
    monitored_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANZA_MONITORING__WINDOW", "200")
    rows = cancer[FEATURES].sample(100, random_state=3)
    rows["worst_area"] *= 3
    with serve() as http:
        predict(http, rows, per_request=5)
    body = json.loads(_lanza(monitored_settings, "monitor", "c", "--json"))
    assert (body["traffic"]["requests"], body["traffic"]["rows"]) == (20, 100)
    drifted = {f["column"] for f in body["drift"]["features"] if f["drifted"]}
    assert drifted == {"worst_area"}
    text = _lanza(monitored_settings, "monitor", "c")
    assert "25% of features drift" in text
    assert "worst_area" in text

    added = _lanza(
        monitored_settings,
        *("alerts", "add", "c", "--metric", "drift.worst_area", "--comparison", "<"),
        *("--threshold", "0.01", "--json"),
    )
    rule_id = json.loads(added)["id"]
    listed = json.loads(_lanza(monitored_settings, "alerts", "list", "c", "--json"))
    assert [r["id"] for r in listed["rules"]] == [rule_id]
    _lanza(monitored_settings, "alerts", "delete", "c", rule_id)
    assert json.loads(_lanza(monitored_settings, "alerts", "list", "c", "--json"))["rules"] == []
    with pytest.raises(ValidationError, match="Unknown alert metric 'x'"):
        _lanza(monitored_settings, "alerts", "add", "c", "--metric", "x", "--threshold", "1")
    with pytest.raises(NotFoundError):
        _lanza(monitored_settings, "monitor", "nope")


def test_monitor_unknown_deployment_is_one_sentence(monitored_settings: Settings) -> None:
    env = {**os.environ, "LANZA_DATABASE_URL": monitored_settings.database}
    result = subprocess.run(
        [sys.executable, "-m", "lanza", "monitor", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: There is no deployment named 'nope'."
