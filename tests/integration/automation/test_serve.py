"""``lanza serve`` runs the scheduler: a due schedule becomes a batch job the server runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lanza.automation.apply import Applier
from lanza.automation.loader import load_text
from lanza.automation.resources import ResourceStore
from lanza.clock import utcnow
from lanza.server import create_app
from lanza.settings import AutomationSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.integration.automation.conftest import churn_frame
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


def test_the_server_fires_a_due_schedule_and_runs_its_job(tmp_path: Path) -> None:
    workspace = Workspace(
        Settings(home=tmp_path / "home", automation=AutomationSettings(tick_s=0.2))
    )
    train(
        workspace,
        TrainRequest(churn_frame(), "churned", "churn", candidates=["logistic_regression"]),
    )
    now = utcnow()
    for day in (now, now + timedelta(days=1)):
        folder = tmp_path / "in" / f"{day:%Y-%m-%d}"
        folder.mkdir(parents=True)
        churn_frame(25, seed=5).drop(columns="churned").to_csv(folder / "a.csv", index=False)
    text = f"""
schedules:
  - name: nightly
    model: churn@champion
    input: {tmp_path}/in/{{date}}/*.csv
    output: {tmp_path}/out/{{date}}
    cron: "0 2 * * *"
"""
    Applier(workspace, tmp_path).apply(load_text(text))
    ResourceStore(workspace.database).set_timer("schedule:nightly", now - timedelta(seconds=1))
    runs: list[dict[str, object]] = []
    try:
        with running(create_app(workspace=workspace)) as url, httpx.Client(base_url=url) as http:

            def finished() -> bool:
                runs[:] = http.get("/api/v1/schedules/nightly/runs").json()
                return bool(runs) and runs[0]["state"] in ("succeeded", "failed")

            wait_for(finished, timeout=90, interval=0.3)
            (listed,) = http.get("/api/v1/schedules").json()
    finally:
        workspace.close()
    assert len(runs) == 1
    assert runs[0]["state"] == "succeeded"
    assert str(runs[0]["due_at"]).startswith(f"{now - timedelta(seconds=1):%Y-%m-%dT%H:%M}")
    assert listed["next_run_at"] > now.isoformat()
    day = f"{now - timedelta(seconds=1):%Y-%m-%d}"
    assert len(pd.read_parquet(tmp_path / "out" / day)) == 25
