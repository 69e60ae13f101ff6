"""The ``/automation`` page in headless Chromium: pipeline runs with their steps and
decisions, and schedules, read from the real API of a real server, updated by polling."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lanza.automation.apply import Applier
from lanza.automation.loader import load_file
from lanza.automation.pipelines import PipelineRunner
from lanza.server import create_app
from lanza.settings import AutomationSettings, Settings
from lanza.workspace import Workspace
from tests.servers import running

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def applied(tmp_path: Path, light_project: Path) -> Iterator[Workspace]:
    """The light project applied; the scheduler is off so only the test starts runs."""
    workspace = Workspace(
        Settings(home=tmp_path / "home", automation=AutomationSettings(enabled=False))
    )
    Applier(workspace, light_project).apply(load_file(light_project / "lanza.yaml"))
    try:
        yield workspace
    finally:
        workspace.close()


def test_the_page_shows_pipeline_runs_and_schedules(
    applied: Workspace, light_project: Path, browser: Any
) -> None:
    runner = PipelineRunner(applied, light_project)
    first = runner.start("retrain")
    with running(create_app(workspace=applied)) as url:
        page = browser.new_page()
        problems: list[str] = []
        outside: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(url) else outside.append(r.url))

        page.goto(f"{url}/")
        page.click("header >> text=Automation")
        page.wait_for_url(f"{url}/automation")
        row = page.locator(f'tr[data-run="{first}"]')
        row.wait_for()
        assert row.locator('[data-field="state"]').inner_text() == "promoted"
        assert row.locator('[data-field="reason"]').inner_text() == (
            "The model had no champion; the first version is it."
        )
        mlflow_run = runner.get(first)["mlflow_run_id"]
        assert mlflow_run
        assert row.locator('[data-field="mlflow"]').inner_text() == mlflow_run

        row.click()
        steps = page.locator(f'tr[data-steps="{first}"] li')
        steps.nth(3).wait_for()
        names = [steps.nth(i).get_attribute("data-step") for i in range(steps.count())]
        assert names == ["start", "train", "register", "decide"]
        assert "rows: 80" in steps.nth(1).inner_text()

        schedule = page.locator('tr[data-schedule="nightly"]')
        assert schedule.locator('[data-field="last"]').inner_text() == "never"
        assert "UTC" in schedule.locator('[data-field="next"]').inner_text()

        # A second run trains a challenger and puts it on trial; the page picks it up
        # and then its decision without a reload.
        second = runner.start("retrain")
        trial = page.locator(f'tr[data-run="{second}"] [data-field="state"]')
        page.wait_for_function(
            "s => document.querySelector(s)?.textContent === 'trial'",
            arg=f'tr[data-run="{second}"] [data-field="state"]',
        )
        assert runner.decide(second, force=True) == "kept"
        page.wait_for_function(
            "s => document.querySelector(s)?.textContent === 'kept'",
            arg=f'tr[data-run="{second}"] [data-field="state"]',
        )
        assert trial.inner_text() == "kept"
        reason = page.locator(f'tr[data-run="{second}"] [data-field="reason"]').inner_text()
        assert reason.startswith("Kept the champion: only 0 labelled requests")
        labelled = page.locator(f'tr[data-run="{second}"] [data-field="labelled"]')
        assert labelled.inner_text() == "0"
        assert page.locator(f'tr[data-steps="{first}"]').is_visible()  # stays open

        # A decision with scores shows champion and challenger side by side.
        third = runner.records.new("retrain", "alert:drift_share", None)
        figures = {"champion": 0.8125, "challenger": 0.875, "labelled": 64, "metric": "accuracy"}
        runner.records.finish(third, "promoted", "Promoted the challenger.", figures)
        scored = page.locator(f'tr[data-run="{third}"]')
        scored.wait_for()
        cells = ("state", "champion", "challenger", "labelled")
        shown = [scored.locator(f'[data-field="{c}"]').inner_text() for c in cells]
        assert shown == ["promoted", "0.8125", "0.8750", "64"]

        served = httpx.get(f"{url}/automation")
        assert served.status_code == 200
        assert "/static/automation/automation.js" in served.text
        assert problems == []
        assert outside == []
