"""The pages in headless Chromium: predict, upload, label with the keyboard, model card.

Every test also checks that the page logged no console error and asked for nothing
outside the lanza server (no CDN, no font service), so the pages work offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import select

from lanza.monitoring.tables import FeedbackRow
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.pages.conftest import Serve, record
from tests.servers import wait_for

pytestmark = pytest.mark.slow


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Any
    problems: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert self.problems == []
        assert self.outside == []


def open_page(browser: Any, http: httpx.Client, path: str) -> Watched:
    """Open ``path`` on the server, recording console errors and requests to other hosts."""
    base = str(http.base_url).rstrip("/")
    page = browser.new_page(accept_downloads=True)
    watched = Watched(page)
    page.on("console", lambda m: watched.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.problems.append(str(e)))
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((base, "data:", "blob:")) else watched.outside.append(r.url)
        ),
    )
    page.goto(base + path)
    return watched


def test_form_gives_the_same_prediction_as_the_api(
    serve: Serve, browser: Any, clinic_frame: pd.DataFrame
) -> None:
    row = record(clinic_frame.iloc[3])
    with serve() as http:
        watched = open_page(browser, http, "/deployments/c")
        page = watched.page
        page.locator("#predict-form").wait_for()
        assert page.locator("#field-clinic option").count() == 3
        for name in ("mean_radius", "mean_texture", "worst_area"):
            page.fill(f"#field-{name}", str(row[name]))
        page.select_option("#field-clinic", str(row["clinic"]))
        page.click("#predict")
        page.locator("#prediction").wait_for()
        shown = page.get_attribute("#prediction", "data-value")
        api = http.post(
            "/api/v1/deployments/c/predict", json={"instances": [row], "probabilities": True}
        ).json()
        assert shown == str(api["predictions"][0])
        probability = api["probabilities"][0][str(api["predictions"][0])]
        assert f"{round(probability * 100)}%" in page.inner_text("#plain")
        features = page.eval_on_selector_all(
            "#contributions tr[data-feature]", "rs => rs.map(r => r.dataset.feature)"
        )
        assert sorted(features) == ["clinic", "mean_radius", "mean_texture", "worst_area"]
        watched.clean()


def test_upload_reports_the_bad_row_and_predicts_the_good_ones(
    serve: Serve, browser: Any, clinic_frame: pd.DataFrame, tmp_path: Path
) -> None:
    rows = pd.DataFrame([record(clinic_frame.iloc[i]) for i in range(6)]).astype(object)
    rows.loc[3, "mean_radius"] = "twelve"
    path = tmp_path / "cases.csv"
    rows.to_csv(path, index=False)
    with serve() as http:
        watched = open_page(browser, http, "/deployments/c/upload")
        page = watched.page
        page.set_input_files("#file", str(path))
        page.locator("#downloads[data-ready]").wait_for()
        assert page.get_attribute("#summary", "data-good") == "5"
        assert page.get_attribute("#summary", "data-bad") == "1"
        bad = page.locator("#problems tr[data-row]")
        assert bad.count() == 1
        assert bad.get_attribute("data-row") == "5"  # the header is line 1
        assert bad.get_attribute("data-column") == "mean_radius"
        assert "twelve" in bad.inner_text()
        with page.expect_download() as info:
            page.click("#download-csv")
        result = pd.read_csv(info.value.path(), dtype={"prediction": object})
        good = [record(clinic_frame.iloc[i]) for i in (0, 1, 2, 4, 5)]
        api = http.post("/api/v1/deployments/c/predict", json={"instances": good}).json()
        watched.clean()
    assert len(result) == 6
    assert result["prediction"].drop(index=3).tolist() == [str(p) for p in api["predictions"]]
    assert pd.isna(result["prediction"][3])
    assert "mean_radius" in result["error"][3]


def test_five_items_labelled_with_the_keyboard_arrive_as_feedback(
    serve: Serve, browser: Any, clinic_frame: pd.DataFrame, pages_settings: Settings
) -> None:
    with serve() as http:
        for i in range(12):
            sent = http.post(
                "/api/v1/deployments/c/predict",
                json={"instances": [record(clinic_frame.iloc[i])], "probabilities": True},
            )
            assert sent.status_code == 200
        progress = "/api/v1/deployments/c/labelling/progress"
        wait_for(lambda: http.get(progress).json()["waiting"] == 12)
        watched = open_page(browser, http, "/deployments/c/label")
        page = watched.page
        answered: dict[str, str] = {}
        for turn in range(5):
            said = page.locator("#said")
            said.wait_for()
            request_id = said.get_attribute("data-request")
            assert request_id not in answered
            if turn % 2:
                page.keyboard.press("Enter")
                answered[request_id] = "model"
            else:
                page.keyboard.press("2")  # the second class, "1"
                answered[request_id] = "1"
            page.wait_for_function(
                "n => document.getElementById('labelled').textContent === String(n)",
                arg=turn + 1,
            )
        assert page.inner_text("#waiting") == "7"
        watched.clean()
        with Workspace(pages_settings).database.session() as session:
            rows = session.scalars(
                select(FeedbackRow).where(FeedbackRow.request_id.in_(list(answered)))
            ).all()
            feedback = {r.request_id: r.value for r in rows}
        assert set(feedback) == set(answered)
        for request_id, value in answered.items():
            if value == "1":
                assert feedback[request_id] == [1]
        wait_for(
            lambda: http.get("/api/v1/deployments/c/monitoring").json()["quality"]["labelled"] == 5
        )


def test_model_card_shows_the_training_metric_and_the_serving_version(
    serve: Serve, browser: Any
) -> None:
    with serve() as http:
        tags = http.get("/api/v1/models/cancer").json()["versions"][0]["tags"]
        watched = open_page(browser, http, "/models/cancer/versions/1/card")
        page = watched.page
        metric = page.locator("#card-metric")
        metric.wait_for()
        assert metric.get_attribute("data-metric") == tags["lanza.metric"]
        assert f"{float(tags['lanza.cv_mean']):.4f}" in metric.inner_text()
        serving = page.locator('#serving tr[data-deployment="c"] td.version')
        assert serving.inner_text() == "cancer/1"
        assert "champion" in page.inner_text("#card-version")
        assert page.locator("#leaderboard tr").count() == 2
        with page.expect_download() as info:
            page.click("#card-md")
        markdown = Path(info.value.path()).read_text()
        assert "# Model card: cancer/1" in markdown
        assert f"{tags['lanza.metric']} " in markdown
        page.fill("#card-form input[name=owners]", "ana@example.com")
        page.fill("#card-form textarea[name=intended_use]", "Triage of referrals.")
        page.click("#save-card")
        page.wait_for_function("document.getElementById('card-saved').textContent === 'Saved.'")
        card = http.get("/api/v1/models/cancer/versions/1/card").json()
        assert card["owner"]["intended_use"] == "Triage of referrals."
        watched.clean()


def test_every_page_loads_with_no_console_error_and_nothing_from_outside(
    serve: Serve, browser: Any
) -> None:
    with serve() as http:
        for path, ready in [
            ("/deployments/c", "#predict-form"),
            ("/deployments/c/upload", "#drop"),
            ("/deployments/c/label", "#label-progress .kpi"),
            ("/models/cancer/versions/1/card", "#card-metric"),
            ("/", 'tr[data-deployment="c"] a[href="/deployments/c"]'),
        ]:
            watched = open_page(browser, http, path)
            watched.page.locator(ready).first.wait_for()
            watched.page.close()
            watched.clean()
