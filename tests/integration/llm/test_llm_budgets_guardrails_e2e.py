"""Budgets, the cost ledger and guardrails, end to end: the official ``openai`` client
against a real lanza server, with a stand-in OpenAI-compatible upstream on its own port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import openai
import pytest

from lanza.cli.app import app as cli
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.security.keys import KeyStore
from lanza.server import create_app
from lanza.settings import LLMSettings, Settings
from lanza.workspace import Workspace
from tests.integration.llm.conftest import Hooks, Upstream
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow
SCHEMA = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}


class Served(NamedTuple):
    """The running server, its home and the secrets of its keys."""

    url: str
    home: Path
    keys: dict[str, str]
    upstream: Upstream


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: tuple[Upstream, str]
) -> Iterator[Served]:
    """A server with remote deployments, guardrails on some, and three API keys."""
    home = tmp_path_factory.mktemp("budget-home")
    prices = home / "prices.json"
    # 1000 prompt + 500 completion tokens per upstream call: $0.006 a call.
    # The judge ('grader', which answers "Grade: 4"): $0.0015 a call.
    models = {"upstream-model": {"input": 2.0, "output": 8.0}, "grader": {"input": 1, "output": 1}}
    prices.write_text(json.dumps({"models": models}))
    settings = Settings(home=home, llm=LLMSettings(retry_backoff_s=0.01, prices_path=prices))
    workspace = Workspace(settings)
    store = LLMDeploymentStore(workspace.database)
    fake, base = upstream
    remote = {"provider": "openai", "base_url": base, "model": "upstream-model", "retries": 0}
    rails_in = {"pii": ["email", "card"], "banned_words": ["acme"], "sides": ["input"]}
    rails_out = {"pii": ["email"], "sides": ["output"], "max_chars": 40, "length_action": "flag"}
    judged = {"judge": "grader", "judge_rule": "Never say echo.", "judge_below": 5}
    for spec in [
        {**remote, "name": "gpt"},
        {**remote, "name": "other"},
        {**remote, "name": "guarded", "guardrails": rails_in},
        {**remote, "name": "answers", "guardrails": rails_out},
        {**remote, "name": "strict", "guardrails": {"json_schema": SCHEMA}},
        {**remote, "name": "watched", "guardrails": {"pii": ["email"], "pii_action": "flag"}},
        {**remote, "name": "grader", "model": "grader"},
        {**remote, "name": "judged", "guardrails": {**judged, "judge_action": "block"}},
        {**remote, "name": "judged-flag", "guardrails": judged},
        {**remote, "name": "judged-ok", "guardrails": {"judge": "grader", "judge_action": "block"}},
    ]:
        store.create(LLMDeploymentSpec.model_validate(spec))
    keys = KeyStore(workspace.database)
    secrets = {
        name: keys.create(name, role)[1]
        for name, role in [("team-a", "predict"), ("team-b", "predict"), ("ops", "admin")]
    }
    app = create_app(workspace=workspace)
    with running(app) as url:
        yield Served(url, home, secrets, fake)
    workspace.close()


def _client(served: Served, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key=served.keys[key], max_retries=0)


def _ask(client: openai.OpenAI, model: str, text: str) -> str:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}]
    )
    return reply.choices[0].message.content or ""


def _admin(served: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.keys['ops']}"}


def _traces(served: Served, name: str) -> list[dict[str, Any]]:
    page = httpx.get(
        f"{served.url}/api/v1/traces", params={"name": name}, headers=_admin(served)
    ).json()
    return [
        httpx.get(f"{served.url}/api/v1/traces/{t['trace_id']}", headers=_admin(served)).json()
        for t in page["traces"]
    ]


def test_a_blocking_budget_refuses_its_key_only_with_a_sentence(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    monkeypatch.setenv("LANZA_HOME", str(served.home))
    result = CliRunner().invoke(
        cli,
        [
            "llm",
            "budgets",
            "set",
            "--key",
            "team-a",
            "--usd",
            "0.01",
            "--per",
            "month",
            "--action",
            "block",
        ],
    )
    assert result.exit_code == 0, result.output
    team_a, team_b = _client(served, "team-a"), _client(served, "team-b")
    assert _ask(team_a, "gpt", "one") == "echo: one"  # $0.006
    assert _ask(team_a, "other", "two") == "echo: two"  # $0.012: over from now on
    with pytest.raises(openai.RateLimitError) as refused:
        _ask(team_a, "gpt", "three")
    assert refused.value.response.json() == {
        "error": {
            "message": "The budget 'key team-a' of $0.01 per month is spent ($0.012 so far); "
            f"calls are refused until {_next_month()} 00:00 UTC.",
            "type": "rate_limit_error",
            "param": None,
            "code": "budget_exceeded",
        }
    }
    assert int(refused.value.response.headers["retry-after"]) > 0
    assert _ask(team_b, "gpt", "four") == "echo: four"  # another key is not held back

    budgets = httpx.get(f"{served.url}/api/v1/llm/budgets", headers=_admin(served)).json()
    assert budgets[0]["name"] == "key team-a"
    assert budgets[0]["over"] is True
    assert budgets[0]["spent_usd"] == pytest.approx(0.012)

    def spend_by(by: str) -> dict[str, float]:
        body = httpx.get(
            f"{served.url}/api/v1/llm/spend",
            params={"hours": 1, "bucket": "minute", "by": by},
            headers=_admin(served),
        ).json()
        return dict(body["totals"])

    wait_for(lambda: spend_by("key").get("team-b", 0) > 0, timeout=10)
    assert spend_by("key") == pytest.approx({"team-a": 0.012, "team-b": 0.006})
    assert spend_by("deployment") == pytest.approx({"gpt": 0.012, "other": 0.006})

    # Raising the budget lets the key through within a second.
    put = httpx.put(
        f"{served.url}/api/v1/llm/budgets",
        json={"key": "team-a", "usd": 1, "per": "day", "action": "block"},
        headers=_admin(served),
    )
    assert put.status_code == 200, put.text
    wait_for(lambda: _try(team_a), timeout=10, interval=0.3)


def _next_month() -> str:
    today = datetime.now(UTC).date()
    return f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}-01"


def _try(client: openai.OpenAI) -> bool:
    try:
        return _ask(client, "gpt", "again") == "echo: again"
    except openai.RateLimitError:
        return False


def test_input_guardrails_redact_pii_and_block_banned_words(served: Served) -> None:
    client = _client(served, "team-b")
    answer = _ask(client, "guarded", "mail me at ana@example.com, card 4111-1111-1111-1111")
    assert answer == "echo: mail me at [EMAIL], card [CARD]"
    assert served.upstream.calls[-1]["messages"][-1]["content"] == answer.removeprefix("echo: ")
    with pytest.raises(openai.UnprocessableEntityError) as blocked:
        _ask(client, "guarded", "what does ACME hide?")
    error = blocked.value.response.json()["error"]
    assert error["code"] == "guardrail_blocked"
    assert error["message"] == (
        "The request to 'guarded' was blocked by its guardrail: banned words (acme)."
    )
    wait_for(lambda: len(_traces(served, "chat guarded")) == 2, timeout=15)
    traces = {t["status"]: t for t in _traces(served, "chat guarded")}
    redacted = traces["success"]["spans"][0]
    assert redacted["inputs"]["messages"][-1]["content"] == "mail me at [EMAIL], card [CARD]"
    assert {g["check"] for g in redacted["metadata"]["guardrails"]} == {"pii:email", "pii:card"}
    refused = traces["error"]["spans"][0]
    assert "ACME" not in json.dumps(refused["inputs"])
    assert refused["metadata"]["guardrails"][0]["action"] == "block"


def test_output_guardrails_redact_flag_and_check_json(served: Served) -> None:
    client = _client(served, "team-b")
    answer = _ask(client, "answers", "write to bob@example.org about the long overdue invoice")
    assert answer == "echo: write to [EMAIL] about the long overdue invoice"
    # A stream on a deployment that rewrites answers is generated whole, then replayed.
    chunks = client.chat.completions.create(
        model="answers", messages=[{"role": "user", "content": "x@y.io"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: [EMAIL]"
    with pytest.raises(openai.UnprocessableEntityError) as blocked:
        _ask(client, "strict", "hello")
    assert "json schema (not JSON" in blocked.value.response.json()["error"]["message"]
    # The refused answer was paid for: its tokens and cost are on its trace.
    wait_for(lambda: len(_traces(served, "chat strict")) == 1, timeout=15)
    refused = _traces(served, "chat strict")[0]
    assert (refused["status"], refused["total_tokens"]) == ("error", 1500)
    assert refused["cost_usd"] == pytest.approx(0.006)
    wait_for(lambda: len(_traces(served, "chat answers")) == 2, timeout=15)
    flagged = [
        t["spans"][0]["metadata"]["guardrails"]
        for t in _traces(served, "chat answers")
        if len(t["spans"][0]["metadata"].get("guardrails", [])) == 2
    ]
    assert flagged[0] == [
        {"check": "pii:email", "side": "output", "action": "redact", "count": 1},
        {
            "check": "max_chars",
            "side": "output",
            "action": "flag",
            "count": 1,
            "detail": "53 characters, limit 40",
        },
    ]


def test_spend_page_draws_keys_and_deployments(served: Served, browser: Any) -> None:
    client = _client(served, "team-b")
    _ask(client, "gpt", "for the chart")
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.add_init_script(f"window.localStorage.setItem('lanzaKey', '{served.keys['ops']}')")
    page.goto(served.url + "/spend?hours=1")
    page.wait_for_selector("[data-chart=spend-key] rect")
    legend = page.locator("[data-chart=spend-key] ~ .legend [data-legend]").all_inner_texts()
    assert any(text.startswith("■ team-b $") for text in legend)
    assert page.locator("[data-chart=spend-deployment] rect[data-series=gpt]").count() >= 1
    assert page.locator("#budgets tr[data-budget='key team-a']").count() == 1
    assert float(page.inner_text("#total").removeprefix("$")) > 0
    assert problems == []
    page.close()


def test_an_alert_budget_lets_calls_through_and_posts_its_webhook_once(
    served: Served, hooks: tuple[Hooks, str]
) -> None:
    receiver, hook = hooks
    put = httpx.put(
        f"{served.url}/api/v1/llm/budgets",
        json={"deployment": "other", "usd": 0.01, "per": "day", "action": "alert", "webhook": hook},
        headers=_admin(served),
    )
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "deployment other"
    client = _client(served, "team-b")
    for text in ("a", "b", "c"):  # $0.006 already spent on 'other' today, then three more
        assert _ask(client, "other", text) == f"echo: {text}"
    wait_for(lambda: len(receiver.received) >= 1, timeout=10)
    assert len(receiver.received) == 1
    event = receiver.received[0]
    assert event["event"] == "llm_budget_spent"
    assert event["budget"]["name"] == "deployment other"
    assert event["budget"]["over"] is True
    bad = httpx.put(
        f"{served.url}/api/v1/llm/budgets",
        json={"usd": 5, "per": "year"},
        headers=_admin(served),
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("Budget field 'per': Input should be")


def test_a_flagging_deployment_streams_token_by_token_and_flags_the_trace(
    served: Served,
) -> None:
    client = _client(served, "team-b")
    chunks = list(
        client.chat.completions.create(
            model="watched", messages=[{"role": "user", "content": "ping x@y.io"}], stream=True
        )
    )
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert pieces == ["echo: ", "ping ", "x@y.io "]  # the upstream's own chunks, unchanged
    wait_for(lambda: len(_traces(served, "chat watched")) == 1, timeout=15)
    span = _traces(served, "chat watched")[0]["spans"][0]
    assert span["metadata"]["guardrails"] == [
        {"check": "pii:email", "side": "input", "action": "flag", "count": 1},
        {"check": "pii:email", "side": "output", "action": "flag", "count": 1},
    ]
    assert "guardrail:flag" in span["tags"]


def test_a_judge_guardrail_blocks_or_flags_answers_on_the_trace(served: Served) -> None:
    client = _client(served, "team-b")
    assert _ask(client, "judged-ok", "fine") == "echo: fine"  # grade 4, not under 3
    with pytest.raises(openai.UnprocessableEntityError) as blocked:
        _ask(client, "judged", "hello")
    assert blocked.value.response.json()["error"] == {
        "message": "The answer of 'judged' was blocked by its guardrail: "
        "judge (grade 4 of 5, below 5).",
        "type": "invalid_request_error",
        "param": None,
        "code": "guardrail_blocked",
    }
    assert _ask(client, "judged-flag", "hi") == "echo: hi"
    asked = served.upstream.calls[-1]["messages"][0]["content"]
    assert "Rule: Never say echo.\nQuestion: hi\nAnswer: echo: hi\n" in asked

    wait_for(lambda: len(_traces(served, "chat judged-flag")) == 1, timeout=15)
    call = _traces(served, "chat judged-flag")[0]["spans"][0]
    assert call["metadata"]["guardrails"] == [
        {
            "check": "judge",
            "side": "output",
            "action": "flag",
            "count": 1,
            "detail": "grade 4 of 5, below 5",
        }
    ]
    assert "guardrail:flag" in call["tags"]
    # The judge's call is a span inside the checked call's, costed, charged to the caller.
    judge = call["children"][0]
    assert (judge["name"], judge["outputs"]["text"]) == ("guardrail grader", "Grade: 4")
    assert "guardrail:judge" in judge["tags"]
    assert judge["cost_usd"] == pytest.approx(0.0015)
    refused = next(t for t in _traces(served, "chat judged") if t["name"] == "chat judged")
    assert refused["status"] == "error"
    assert refused["spans"][0]["metadata"]["guardrails"][0]["action"] == "block"
    # A stream on a flagging judge goes token by token; the judge grades it once it is sent.
    chunks = client.chat.completions.create(
        model="judged-flag", messages=[{"role": "user", "content": "stream"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "echo: stream "
    )

    def streamed_call() -> dict[str, Any] | None:
        # The judge's span is written before the call's own (it ends first).
        for trace in _traces(served, "chat judged-flag"):
            root = trace["spans"][0]
            if trace["trace_id"] != call["id"] and root["name"] == "chat judged-flag":
                return dict(root)
        return None

    wait_for(streamed_call, timeout=15)
    streamed = streamed_call()
    assert streamed is not None, _traces(served, "chat judged-flag")
    assert "guardrails" in streamed["metadata"], streamed
    assert streamed["metadata"]["guardrails"][0]["detail"] == "grade 4 of 5, below 5"
    assert streamed["children"][0]["name"] == "guardrail grader"
    spend = httpx.get(
        f"{served.url}/api/v1/llm/spend",
        params={"hours": 1, "by": "deployment"},
        headers=_admin(served),
    ).json()
    assert spend["totals"]["grader"] == pytest.approx(4 * 0.0015)
