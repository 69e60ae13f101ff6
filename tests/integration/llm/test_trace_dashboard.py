"""The traces pages in headless Chromium: traces sent by the real ``langsmith`` SDK and by
lanza's SDK are listed, searched, opened as a tree, and take feedback that lands in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langsmith import Client, traceable, tracing_context

from lanza import tracing
from lanza.llm.tracing.queries import TraceReader
from tests.integration.tracing.conftest import Server, serve
from tests.servers import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(home: Path) -> Iterator[Server]:
    yield from serve(home)


def _send_langsmith_trace(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"{url}/langsmith")
    monkeypatch.setenv("LANGSMITH_API_KEY", "anything")
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    client = Client(api_url=f"{url}/langsmith", api_key="anything")

    @traceable(run_type="retriever", client=client)
    def search(query: str) -> list[str]:
        return [f"doc about {query}"]

    @traceable(run_type="llm", client=client, metadata={"ls_model_name": "tiny"})
    def generate(prompt: str) -> dict[str, object]:
        usage = {"input_tokens": 17, "output_tokens": 5, "total_tokens": 22}
        return {"text": "twice a day", "usage_metadata": usage}

    @traceable(name="rag pipeline", client=client, tags=["dash"])
    def pipeline(question: str) -> str:
        return str(generate(f"{question} {search(question)}")["text"])

    with tracing_context(enabled=True, client=client):
        pipeline("tides")
    client.flush()


def _send_lanza_trace(url: str) -> None:
    tracer = tracing.configure(sink=url)
    try:
        with (
            pytest.raises(RuntimeError),
            tracing.span("lanza agent", inputs={"task": "plan"}, tags=["sdk"]),
            tracing.span("lookup", run_type="tool"),
        ):
            raise RuntimeError("the tool broke")
    finally:
        tracer.flush()
        tracing.configure(sink=None)


def _done(url: str) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/traces").json()["traces"]
    return [t for t in traces if t["status"] != "running"]


def test_traces_are_listed_opened_as_a_tree_and_take_feedback(
    server: Server, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.url
    _send_langsmith_trace(url, monkeypatch)
    _send_lanza_trace(url)
    wait_for(lambda: len(_done(url)) == 2, timeout=30)
    page = browser.new_page()
    problems: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(url) else outside.append(r.url))

    page.goto(f"{url}/traces")
    page.locator("#traces tr[data-trace]").nth(1).wait_for()
    names = page.locator("#traces tr[data-trace] td:first-child").all_inner_texts()
    assert sorted(names) == ["lanza agent", "rag pipeline"]

    page.fill('#filters input[name="name"]', "rag")
    page.click('#filters button[type="submit"]')
    page.wait_for_function("document.querySelectorAll('#traces tr[data-trace]').length === 1")
    assert "name=rag" in page.url
    page.select_option('#filters select[name="status"]', "error")
    page.fill('#filters input[name="name"]', "")
    page.click('#filters button[type="submit"]')
    page.wait_for_function(
        "() => [...document.querySelectorAll('#traces tr[data-trace] a')]"
        ".map(a => a.textContent).join() === 'lanza agent'"
    )
    page.click("#clear")
    page.locator("#traces tr[data-trace]").nth(1).wait_for()
    page.fill('#filters input[name="min_tokens"]', "20")
    page.click('#filters button[type="submit"]')
    page.wait_for_function("document.querySelectorAll('#traces tr[data-trace]').length === 1")
    page.fill('#filters input[name="start_after"]', "2999-01-01T00:00")
    page.click('#filters button[type="submit"]')
    page.locator("#no-traces").wait_for()
    page.click("#clear")
    page.locator("#traces tr[data-trace]").nth(1).wait_for()

    page.click("text=rag pipeline")
    page.locator("#tree .span-row").nth(2).wait_for()
    rows = page.locator("#tree .span-row")
    tree = [
        (rows.nth(i).get_attribute("data-name"), rows.nth(i).get_attribute("data-depth"))
        for i in range(rows.count())
    ]
    assert tree == [("rag pipeline", "0"), ("search", "1"), ("generate", "1")]
    assert page.locator("#tree .bar").count() == 3

    root_id = rows.nth(0).get_attribute("data-span")
    page.click(f'[data-toggle="{root_id}"]')
    assert not page.locator('#tree .span-row[data-name="search"]').is_visible()
    page.click(f'[data-toggle="{root_id}"]')
    assert page.locator('#tree .span-row[data-name="search"]').is_visible()

    page.click('#tree .span-row[data-name="generate"]')
    page.wait_for_function("document.getElementById('span-title').textContent === 'generate'")
    assert page.inner_text("#span-tokens") == "17 in + 5 out"
    assert "twice a day" in page.inner_text("#span-outputs")

    page.fill('#feedback-form input[name="key"]', "correctness")
    page.fill('#feedback-form input[name="score"]', "0.5")
    page.fill('#feedback-form input[name="comment"]', "a bit short")
    page.fill('#feedback-form textarea[name="correction"]', "Twice a day, about 12 h apart.")
    page.click('#feedback-form button[type="submit"]')
    page.locator('#feedback tr[data-feedback="correctness"]').wait_for()

    trace_id = page.url.rsplit("/", 1)[1]
    (stored,) = TraceReader(server.workspace.database).get(trace_id)["feedback"]
    assert (stored["key"], stored["score"], stored["comment"]) == (
        "correctness",
        0.5,
        "a bit short",
    )
    assert stored["correction"] == "Twice a day, about 12 h apart."

    page.goto(f"{url}/traces/no-such-trace")
    page.locator("#problem").wait_for()
    assert "There is no trace 'no-such-trace'" in page.inner_text("#problem")
    assert all("404" in p for p in problems), problems  # the browser logs the 404 itself
    problems.clear()

    page.goto(f"{url}/traces")
    page.click("text=lanza agent")
    page.locator('#tree .span-row[data-name="lookup"] .bar.error').wait_for()
    page.click('#tree .span-row[data-name="lookup"]')
    assert "the tool broke" in page.inner_text("#span-error")
    assert problems == []
    assert outside == []
