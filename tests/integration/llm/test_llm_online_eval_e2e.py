"""Online evaluators and prompt experiments, end to end: the ``openai`` client calls a
real lanza server whose gateway reaches a stand-in upstream on its own port; an app
traced with the ``langsmith`` SDK sends its runs to the same server; evaluators score
both in the background, and compare the arms of a prompt experiment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import openai
import pytest
from langsmith import Client, traceable, tracing_context
from langsmith.run_helpers import get_current_run_tree
from typer.testing import CliRunner

from lanza.cli.app import app as cli
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.llm.prompts import PromptStore
from lanza.server import create_app
from lanza.settings import LLMSettings, Settings, TracingSettings
from lanza.workspace import Workspace
from tests.integration.llm.conftest import Hooks, Upstream
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow
EXPERIMENT = "support@production=50,support@candidate=50"


class Served(NamedTuple):
    """The running server and its workspace."""

    url: str
    workspace: Workspace


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: tuple[Upstream, str]
) -> Iterator[Served]:
    """A server with an answering deployment, a grading one and a two-version prompt."""
    home = tmp_path_factory.mktemp("online-eval-home")
    prices = home / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "models": {
                    "upstream-model": {"input": 2.0, "output": 8.0},
                    "grader": {"input": 1.0, "output": 1.0},
                }
            }
        )
    )
    settings = Settings(
        home=home,
        llm=LLMSettings(retry_backoff_s=0.01, prices_path=prices),
        tracing=TracingSettings(mlflow_export_interval_s=0.5),
    )
    workspace = Workspace(settings)
    store = LLMDeploymentStore(workspace.database)
    _, base = upstream
    remote = {"provider": "openai", "base_url": base, "retries": 0}
    store.create(
        LLMDeploymentSpec.model_validate({**remote, "name": "gpt", "model": "upstream-model"})
    )
    store.create(
        LLMDeploymentSpec.model_validate(
            {**remote, "name": "support", "model": "upstream-model", "prompt": EXPERIMENT}
        )
    )
    store.create(LLMDeploymentSpec.model_validate({**remote, "name": "grader", "model": "grader"}))
    prompts = PromptStore(workspace.mlflow)
    first = prompts.create("support", "Say hello to {{name}}", "plain")
    prompts.promote("support", first.version, "production")
    second = prompts.create("support", "Greet {{name}} warmly", "warmer")
    prompts.promote("support", second.version, "candidate")
    with running(create_app(workspace=workspace)) as url:
        yield Served(url, workspace)
    workspace.close()


def _cli(served: Served, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("LANZA_HOME", str(served.workspace.settings.home))
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _trace(url: str, trace_id: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/v1/traces/{trace_id}").json()


def _traces(url: str, name: str) -> list[dict[str, Any]]:
    found = httpx.get(f"{url}/api/v1/traces", params={"name": name, "limit": 500}).json()
    return list(found["traces"])


def _status(url: str, name: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/api/v1/evaluators/{name}").json()["status"])


def _regex_evaluator(url: str, name: str, traces: str, pattern: str, **rest: Any) -> None:
    """A regex evaluator made over HTTP (201, or the test stops with the server's answer)."""
    body = {"name": name, "filter": traces, "scorers": ["regex"], "pattern": pattern, **rest}
    created = httpx.post(f"{url}/api/v1/evaluators", json=body)
    assert created.status_code == 201, created.text


def test_evaluators_score_a_prompt_experiment_and_compare_its_arms(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = served.url
    out = _cli(
        served,
        monkeypatch,
        "evaluators",
        "add",
        "quality",
        "--filter",
        "name=support run_type=llm",
        "--scorers",
        "judge,regex,similarity",
        "--judge",
        "grader",
        "--pattern",
        "warmly",
        "--alert-below",
        "0.9",
        "--alert-scorer",
        "regex",
        "--alert-window",
        "10",
    )
    assert "Evaluator quality scores 100% of traces matching" in out
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
    arms: dict[str, set[str]] = {}
    for i in range(40):
        user = f"user-{i % 20}"  # every user calls twice: the arm must not change
        reply = client.chat.completions.create(
            model="support",
            messages=[],
            extra_body={"variables": {"name": f"Ada {i}"}},
            extra_headers={"X-Lanza-User": user},
        )
        arms.setdefault(user, set()).add("warmly" in (reply.choices[0].message.content or ""))
    assert all(len(seen) == 1 for seen in arms.values())
    assert {next(iter(s)) for s in arms.values()} == {True, False}  # both arms got users
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])

    wait_for(lambda: _status(url, "quality").get("scored") == 40, timeout=60, interval=0.3)
    supports = _traces(url, "chat support")
    assert len(supports) == 40
    trace = _trace(url, supports[0]["trace_id"])
    root = trace["spans"][0]
    assert root["metadata"]["prompt"] in ("support@production", "support@candidate")
    assert re.fullmatch(r"support/[12]", root["metadata"]["prompt_version"])
    feedback = {f["key"]: f for f in trace["feedback"]}
    assert feedback["quality.judge"]["score"] == 4.0
    assert feedback["quality.judge"]["value"] == {
        "source": "evaluator",
        "evaluator": "quality",
        "scorer": "judge",
    }
    warm = "warmly" in trace["spans"][0]["outputs"]["text"]
    assert feedback["quality.regex"]["score"] == float(warm)
    assert 0 < feedback["quality.similarity"]["score"] <= 1
    assert _trace(url, _traces(url, "chat gpt")[0]["trace_id"])["feedback"] == []

    # The judge's calls are traced, costed, charged to 'evaluator' and never evaluated.
    judged = _traces(url, "judge grader")
    assert len(judged) == 40
    assert all("lanza:evaluator" in t["tags"] and t["cost_usd"] > 0 for t in judged)
    assert _trace(url, judged[0]["trace_id"])["feedback"] == []
    spend = httpx.get(f"{url}/api/v1/llm/spend", params={"hours": 1, "by": "key"}).json()
    assert spend["totals"]["evaluator"] == pytest.approx(40 * 1500 / 1e6)

    # Arms compared with a 95 % interval: the candidate's warmer prompt matches, always.
    compared = httpx.get(f"{url}/api/v1/evaluators/quality/arms", params={"scorer": "regex"}).json()
    by_arm = {a["arm"]: a for a in compared["arms"]}
    assert by_arm["support@candidate"]["mean"] == 1.0
    assert by_arm["support@production"]["mean"] == 0.0
    assert by_arm["support@candidate"]["n"] + by_arm["support@production"]["n"] == 40
    other = next(a for a in compared["arms"] if a["vs_baseline"] is not None)
    assert other["vs_baseline"]["significant"] is True

    # Aggregated on /metrics and alertable: the regex mean over the last 10 is under 0.9.
    metrics = httpx.get(f"{url}/metrics").text
    assert 'lanza_llm_evaluator_scores_total{evaluator="quality",scorer="judge"} 40.0' in metrics
    assert 'lanza_llm_evaluator_alerting{evaluator="quality"}' in metrics
    status = _status(url, "quality")
    assert status["window_mean"]["judge"] == 4.0
    regex_mean = status["window_mean"]["regex"]
    assert status["alerting"] is (regex_mean < 0.9)
    assert status["dropped"] == 0

    # ... and in MLflow, one run per evaluator.
    client_ml = served.workspace.mlflow

    def logged() -> float | None:
        experiment = client_ml.get_experiment_by_name("lanza-evaluators")
        if experiment is None:
            return None
        runs = client_ml.search_runs(
            [experiment.experiment_id], "tags.`lanza.evaluator` = 'quality'"
        )
        return runs[0].data.metrics.get("judge_mean") if runs else None

    wait_for(lambda: logged() == 4.0, timeout=30, interval=0.5)
    shown = _cli(served, monkeypatch, "evaluators", "show", "quality", "--json")
    assert json.loads(shown)["window"]["judge"] == [4.0, 10]


def test_an_evaluator_made_over_http_scores_langsmith_traces(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = served.url
    _regex_evaluator(url, "refunds", "name=refund-bot run_type=chain", "refund within \\d+ days")
    bad = httpx.post(f"{url}/api/v1/evaluators", json={"name": "x", "scorers": ["judge"]})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == (
        "Evaluator: the judge scorer needs a judge deployment (--judge NAME)."
    )
    bad = httpx.post(
        f"{url}/api/v1/evaluators",
        json={"name": "y", "filter": "colour=red", "scorers": ["similarity"]},
    )
    assert "filter field 'colour' is unknown" in bad.json()["error"]["message"]

    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    ls = Client(api_url=f"{url}/langsmith", api_key="anything")

    @traceable(name="refund-bot", run_type="chain", client=ls)
    def bot(question: str, days: int) -> str:
        return f"You get a refund within {days} days." if days else "Sorry, no."

    with tracing_context(enabled=True, client=ls):
        bot("can I get my money back?", 14)
        bot("and now?", 0)
    ls.flush()
    wait_for(lambda: _status(url, "refunds").get("scored") == 2, timeout=30, interval=0.3)
    scores = {}
    for summary in _traces(url, "refund-bot"):
        trace = _trace(url, summary["trace_id"])
        scores[trace["spans"][0]["outputs"]["output"]] = trace["feedback"][0]["score"]
    assert scores == {"You get a refund within 14 days.": 1.0, "Sorry, no.": 0.0}


def test_evaluators_page_shows_scores_and_arms(served: Served, browser: Any) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(served.url + "/evaluators")
    page.wait_for_selector("[data-evaluator=quality] svg circle")
    card = page.locator("[data-evaluator=quality]")
    assert card.locator(".scored").inner_text() == "40"
    assert card.locator("circle[data-series=judge]").count() >= 1
    assert card.locator("tr[data-arm='support@candidate']").count() == 1
    assert "judge 4.000" in card.locator(".means").inner_text()
    assert page.locator("[data-evaluator=refunds]").count() == 1
    assert problems == []
    page.close()


def test_annotation_queue_by_keyboard_feeds_datasets_and_shows_kappa(
    served: Served, browser: Any
) -> None:
    url = served.url
    bad = httpx.post(f"{url}/api/v1/annotation-queues", json={"name": "q", "below": 0.5})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "'below' and 'disagreement' need an evaluator."
    created = httpx.post(
        f"{url}/api/v1/annotation-queues",
        json={"name": "cold", "evaluator": "quality", "scorer": "regex", "below": 0.5},
    )
    assert created.status_code == 201, created.text
    first = httpx.get(f"{url}/api/v1/annotation-queues/cold/next", params={"reviewer": "eva"})
    offered = first.json()
    # The low-score queue offers exactly the traces whose answer the regex scorer failed.
    cold = httpx.get(f"{url}/api/v1/evaluators/quality/arms", params={"scorer": "regex"}).json()
    by_arm = {a["arm"]: a["n"] for a in cold["arms"]}
    assert offered["remaining"] == by_arm["support@production"]
    assert "warmly" not in offered["trace"]["spans"][0]["outputs"]["text"]

    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(url + "/annotate/cold")
    page.fill("#reviewer", "eva")
    page.press("#reviewer", "Tab")
    page.wait_for_selector("#trace")
    reviewed: list[str] = []

    def on_trace() -> str:
        return str(page.get_attribute("#trace", "data-trace"))

    reviewed.append(on_trace())
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('#trace').dataset.trace !== '{reviewed[-1]}'")
    reviewed.append(on_trace())
    page.keyboard.press("5")
    page.keyboard.press("c")
    page.keyboard.type("Greet Ada warmly")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.querySelector('#trace').dataset.trace !== '{reviewed[-1]}'")
    skipped = on_trace()
    page.keyboard.press("s")
    page.wait_for_function(f"document.querySelector('#trace').dataset.trace !== '{skipped}'")
    remaining = page.inner_text("#remaining")
    assert remaining == f"{offered['remaining'] - 3} to review"
    page.wait_for_selector("#agreement tr[data-scorer='quality.regex']")
    assert page.inner_text("#agreement tr[data-scorer='quality.regex'] .kappa") == "0.00"
    assert problems == []
    page.close()

    corrected = _trace(url, reviewed[1])
    review = next(f for f in corrected["feedback"] if f["key"] == "review")
    assert review["score"] == 5.0
    assert review["correction"] == "Greet Ada warmly"
    assert review["value"] == {"source": "reviewer", "reviewer": "eva", "queue": "cold"}
    assert all(f["key"] != "review" for f in _trace(url, skipped)["feedback"])
    agreement = httpx.get(f"{url}/api/v1/annotation-queues/cold/agreement").json()
    assert agreement["reviews"] == 2
    regex = next(r for r in agreement["evaluators"] if r["scorer"] == "regex")
    # eva: fail (2), pass (5); the regex scorer: fail, fail. Agreement 1/2, chance 1/2.
    assert (regex["pairs"], regex["agreement"], regex["kappa"]) == (2, 0.5, 0.0)

    # The correction feeds datasets, as feedback corrections do.
    made = httpx.post(
        f"{url}/api/v1/datasets",
        json={"name": "support-fixes", "name_filter": "chat support", "corrections_only": True},
    )
    assert made.status_code == 201, made.text
    rows = httpx.get(f"{url}/api/v1/datasets/support-fixes").json()["examples"]
    assert [r["expected"] for r in rows] == ["Greet Ada warmly"]


def test_a_disagreement_queue_and_an_evaluator_alert_webhook(
    served: Served, hooks: tuple[Hooks, str]
) -> None:
    url = served.url
    # Production answers: judge 4 (0.75 on 0-1), regex 0, similarity ~0.9: they disagree.
    # Candidate answers: judge 0.75, regex 1, similarity ~0.9: within half of each other.
    made = httpx.post(
        f"{url}/api/v1/annotation-queues",
        json={"name": "split", "evaluator": "quality", "disagreement": True},
    )
    assert made.status_code == 201, made.text
    offered = httpx.get(f"{url}/api/v1/annotation-queues/split/next", params={"reviewer": "li"})
    arms = httpx.get(f"{url}/api/v1/evaluators/quality/arms", params={"scorer": "regex"}).json()
    assert (
        offered.json()["remaining"]
        == {a["arm"]: a["n"] for a in arms["arms"]}["support@production"]
    )
    assert httpx.delete(f"{url}/api/v1/annotation-queues/split").status_code == 204
    gone = httpx.get(f"{url}/api/v1/annotation-queues/split/next", params={"reviewer": "li"})
    assert gone.status_code == 404

    receiver, hook = hooks
    _regex_evaluator(url, "terse", "name=gpt", "zzz", alert_below=0.5, alert_window=3, webhook=hook)
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
    # The loop picks the new evaluator up on its next round (its counters appear then).
    wait_for(lambda: _status(url, "terse") != {}, timeout=10)
    for text in ("one", "two", "three"):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": text}])
    wait_for(lambda: _status(url, "terse").get("scored") == 3, timeout=30, interval=0.3)
    wait_for(lambda: len(receiver.received) == 1, timeout=10)
    assert receiver.received[0] == {
        "event": "llm_evaluator_alert",
        "evaluator": "terse",
        "scorer": "regex",
        "mean": 0.0,
        "window": 3,
        "threshold": 0.5,
    }
    assert _status(url, "terse")["alerting"] is True


def test_arms_of_an_app_whose_chain_calls_a_prompt_experiment(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's case: an app traced with ``langsmith`` (a ``chain`` root) calls the
    gateway's experiment; the prompt version is on the call's span, inside the app's trace."""
    url = served.url
    _regex_evaluator(url, "app-arms", "name=support-app run_type=chain", "warmly")
    wait_for(lambda: _status(url, "app-arms") != {}, timeout=10)
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    ls = Client(api_url=f"{url}/langsmith", api_key="anything")

    def propagate(request: httpx.Request) -> None:
        if (run := get_current_run_tree()) is not None:
            request.headers.update(run.to_headers())

    hooks = {"request": [propagate]}
    client = openai.OpenAI(
        base_url=url + "/v1", api_key="none", http_client=httpx.Client(event_hooks=hooks)
    )

    @traceable(name="support-app", run_type="chain", client=ls)
    def app(name: str, user: str) -> str:
        reply = client.chat.completions.create(
            model="support",
            messages=[],
            extra_body={"variables": {"name": name}},
            extra_headers={"X-Lanza-User": user},
        )
        return reply.choices[0].message.content or ""

    with tracing_context(enabled=True, client=ls):
        answers = [app(f"Bo {i}", f"app-user-{i}") for i in range(16)]
    ls.flush()
    warm = sum("warmly" in answer for answer in answers)
    assert 0 < warm < 16
    wait_for(lambda: _status(url, "app-arms").get("scored") == 16, timeout=60, interval=0.3)
    trace = _trace(url, _traces(url, "support-app")[0]["trace_id"])
    root = trace["spans"][0]
    assert root["children"][0]["metadata"]["prompt"].startswith("support@")
    # The score is feedback the langsmith SDK finds on the app's root run.
    (scored,) = ls.list_feedback(run_ids=[root["id"]], feedback_key=["app-arms.regex"])
    assert scored.value == {"source": "evaluator", "evaluator": "app-arms", "scorer": "regex"}
    assert scored.score == float("warmly" in root["outputs"]["output"])
    compared = httpx.get(f"{url}/api/v1/evaluators/app-arms/arms", params={"scorer": "regex"})
    by_arm = {a["arm"]: a for a in compared.json()["arms"]}
    assert (by_arm["support@candidate"]["n"], by_arm["support@candidate"]["mean"]) == (warm, 1.0)
    assert (by_arm["support@production"]["n"], by_arm["support@production"]["mean"]) == (
        16 - warm,
        0.0,
    )
