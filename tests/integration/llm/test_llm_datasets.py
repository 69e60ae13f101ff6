"""Datasets built from traces, evaluated by ``lanza eval NAME``, and two evaluations compared
over the API and on the dashboard's ``/evaluations`` page."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lanza.cli.app import main
from lanza.llm.tracing.queries import FeedbackIn, TraceReader
from lanza.llm.tracing.records import SpanRecord
from lanza.llm.tracing.store import TraceStore
from lanza.server import create_app
from lanza.settings import Settings, TracingSettings
from lanza.workspace import Workspace
from tests.integration.llm.conftest import Upstream
from tests.servers import running

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def ok(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Runs ``lanza ARGS`` in this process; it must succeed; returns its output."""

    def run(*args: str) -> str:
        monkeypatch.setattr(sys, "argv", ["lanza", *args])
        code: object = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        assert not code, err
        return out

    return run


def _traces(workspace: Workspace) -> None:
    """Three support traces (one corrected, one without the tag) and an unrelated one."""
    now = time.time()

    def trace(tid: str, name: str, question: str, answer: str, tags: list[str]) -> SpanRecord:
        return SpanRecord(
            id=tid, trace_id=tid, name=name, start_time=now, end_time=now + 0.1,
            inputs={"question": question}, outputs={"output": answer}, tags=tags,
        )  # fmt: skip

    TraceStore(workspace.database).write(
        [
            trace("t1", "support bot", "paris", "echo: paris", ["prod"]),
            trace("t2", "support bot", "rome", "wrong", ["prod"]),
            trace("t3", "support bot", "oslo", "echo: oslo", ["dev"]),
            trace("t4", "billing", "euro", "echo: euro", ["prod"]),
        ]
    )
    reader = TraceReader(workspace.database)
    reader.add_feedback("t2", FeedbackIn(key="correct", score=0, correction="echo: rome"))


def test_datasets_from_traces_feed_evaluations_that_compare(
    home: Path, upstream: tuple[Upstream, str], ok: Callable[..., str]
) -> None:
    workspace = Workspace(Settings(home=home, tracing=TracingSettings(mlflow_export_interval_s=0)))
    _traces(workspace)
    _, base = upstream
    ok("llm", "deploy", "echo", "--model", "echo-model", "--base-url", base, "--retries", "0")
    ok("prompts", "create", "polite", "--template", "Please: {{input}}", "--alias", "prod")

    made = json.loads(
        ok("datasets", "create", "qa", "--from-traces", "--name-filter", "support", "--tag",
           "prod", "--json")
    )  # fmt: skip
    assert (made["rows"], made["corrected"]) == (2, 1)
    rows = {r["id"]: r for r in map(json.loads, Path(made["path"]).read_text().splitlines())}
    assert rows["t1"] == {
        "id": "t1", "input": "paris", "expected": "echo: paris", "expected_from": "output",
        "trace_id": "t1",
    }  # fmt: skip
    assert (rows["t2"]["expected"], rows["t2"]["expected_from"]) == ("echo: rome", "correction")
    assert [d["name"] for d in json.loads(ok("datasets", "list", "--json"))] == ["qa"]

    plain = json.loads(ok("eval", "qa", "--target", "echo", "--scorers", "exact", "--json"))
    assert plain["exact_mean"] == 1.0
    prompted = json.loads(
        ok("eval", "qa", "--target", "polite@prod", "--deployment", "echo", "--scorers", "exact",
           "--json")
    )  # fmt: skip
    assert prompted["exact_mean"] == 0.0

    with running(create_app(workspace=workspace)) as url:
        _check_api(url, plain["run_id"], prompted["run_id"])
        if shutil.which(CHROMIUM):
            _check_page(url, plain["run_id"], prompted["run_id"])
    workspace.close()


def _check_api(url: str, a: str, b: str) -> None:
    runs = httpx.get(f"{url}/api/v1/evaluations").json()
    assert [r["run_id"] for r in runs] == [b, a]  # newest first
    assert runs[1]["params"]["target"] == "echo"
    compared = httpx.get(f"{url}/api/v1/evaluations/compare", params={"a": a, "b": b}).json()
    exact = next(m for m in compared["metrics"] if m["metric"] == "exact_mean")
    assert (exact["a"], exact["b"], exact["delta"], exact["better"]) == (1.0, 0.0, -1.0, "a")
    row = next(r for r in compared["rows"] if r["id"] == "t1")
    assert (row["a_output"], row["b_output"]) == ("echo: paris", "echo: Please: paris")
    assert (row["a_scores"], row["b_scores"], row["differs"]) == (
        {"exact": 1.0},
        {"exact": 0.0},
        True,
    )
    assert httpx.get(f"{url}/api/v1/evaluations/nope").status_code == 404

    made = httpx.post(f"{url}/api/v1/datasets", json={"name": "fixes", "corrections_only": True})
    assert made.status_code == 201, made.text
    assert made.json()["rows"] == 1
    listed = httpx.get(f"{url}/api/v1/datasets").json()
    assert [d["name"] for d in listed] == ["fixes", "qa"]
    (only,) = httpx.get(f"{url}/api/v1/datasets/fixes").json()["examples"]
    assert (only["input"], only["expected"]) == ("rome", "echo: rome")
    again = httpx.post(f"{url}/api/v1/datasets", json={"name": "fixes"})
    assert again.status_code == 409
    bad = httpx.post(f"{url}/api/v1/datasets", json={"name": "../x"})
    assert bad.status_code == 400
    assert "not a dataset name" in bad.json()["error"]["message"]
    empty = httpx.post(f"{url}/api/v1/datasets", json={"name": "none", "tag": "ghost"})
    assert empty.status_code == 400
    assert httpx.get(f"{url}/api/v1/datasets/ghost").status_code == 404


def _check_page(url: str, a: str, b: str) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[Any] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(url) else problems.append(r.url))
        page.goto(f"{url}/evaluations")
        page.locator("#runs tr[data-run]").nth(1).wait_for()
        page.check(f'input[name="a"][value="{a}"]')
        page.check(f'input[name="b"][value="{b}"]')
        page.click("#compare")
        page.locator('#metrics tr[data-metric="exact_mean"]').wait_for()
        cells = page.locator('#metrics tr[data-metric="exact_mean"] td').all_inner_texts()
        assert cells == ["exact_mean", "1.0000", "0.0000", "-1.0000"]
        assert page.locator('#metrics tr[data-metric="exact_mean"] td.better').count() == 1
        assert page.locator('#rows tr[data-differs="true"]').count() == 2
        assert "echo: Please: paris" in page.inner_text('#rows tr[data-row="t1"]')
        browser.close()
    assert problems == []
