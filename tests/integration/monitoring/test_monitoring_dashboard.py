"""The dashboard in headless Chromium: no console errors, charts show what was sent, live."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from lanza.monitoring.simulate import _send, _wait_ready
from tests.integration.monitoring.conftest import Serve
from tests.servers import wait_for

pytestmark = pytest.mark.slow


def _reported(http: httpx.Client, requests: int, labelled: int) -> bool:
    """Whether a round has seen every request and label sent (the last request has none)."""
    report = http.get("/api/v1/deployments/c/monitoring").json()
    return (
        bool(report["history"])
        and report["traffic"]["requests"] == requests
        and report["quality"]["labelled"] == labelled
    )


def test_dashboard_shows_the_traffic_sent(
    serve: Serve, cancer: pd.DataFrame, browser: object
) -> None:
    shuffled = cancer.sample(frac=1.0, random_state=5)
    with serve() as http:
        _wait_ready(http, "c")
        sent = _send(http, shuffled, "c", "target", "mean_texture", 40, 0.0, limit=80)
        assert sent == 80
        wait_for(lambda: _reported(http, 80, 64))  # four in five get their label
        page = browser.new_page()  # type: ignore[attr-defined]
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{http.base_url}/")
        row = page.locator('tr[data-deployment="c"]')
        row.wait_for()
        assert row.locator("td").nth(1).inner_text() == "cancer/1"
        assert row.locator("td").nth(2).inner_text() == "80"

        page.goto(f"{http.base_url}/dashboard/c")
        page.locator('svg[data-chart="drift"] rect').first.wait_for()
        bars = page.locator('svg[data-chart="drift"] rect')
        drifted = {
            bars.nth(i).get_attribute("data-feature"): bars.nth(i).get_attribute("data-drifted")
            for i in range(bars.count())
        }
        assert drifted["mean_texture"] == "true"
        assert [k for k, v in drifted.items() if v == "true" and k != "prediction"] == [
            "mean_texture"
        ]
        assert _traffic(page) == 80
        quality = page.locator('svg[data-chart="quality"] circle[data-series="accuracy"]')
        assert quality.count() >= 1
        assert page.locator('svg[data-chart="quality"] line[data-guide]').count() == 1
        assert page.locator('svg[data-chart="latency"] circle').count() >= 2
        assert page.locator("#health").get_attribute("data-status") in ("watch", "degraded")
        assert page.locator("#health li").count() >= 1  # the verdict's reasons in words
        heads = page.eval_on_selector_all("#drift-table th", "hs => hs.map(h => h.textContent)")
        assert heads[:5] == ["column", "test", "statistic", "p-value", "effect size"]
        assert page.locator('svg[data-chart="traffic"] text[data-axis="x"]').count() >= 1
        top = page.locator('svg[data-chart="quality"] text[data-axis="y"]').first.text_content()
        assert float(top or "nan") <= 1.0  # a score's axis stops at its range

        _send(http, shuffled, "c", "target", "mean_texture", 0, 0.0, limit=20)
        page.wait_for_function(
            """() => [...document.querySelectorAll('svg[data-chart="traffic"] circle')]
                 .reduce((sum, c) => sum + Number(c.dataset.value), 0) === 100""",
            timeout=30_000,
        )
        assert problems == []


def _traffic(page: object) -> int:
    values = page.eval_on_selector_all(  # type: ignore[attr-defined]
        'svg[data-chart="traffic"] circle', "cs => cs.map(c => Number(c.dataset.value))"
    )
    return int(sum(values))
