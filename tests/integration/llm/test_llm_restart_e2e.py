"""Nothing of the LLM features is lost on a restart: the cost ledger, the budgets it feeds,
and the online evaluators' work (traces that settled before the stop are scored after it,
once). Two real servers, one after the other, on the same home; the ``openai`` client
calls through a stand-in upstream on its own port.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.security.keys import KeyStore
from lanza.server import create_app
from lanza.settings import LLMSettings, Settings
from lanza.workspace import Workspace
from tests.integration.llm.conftest import Upstream
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


def _settings(home: Path) -> Settings:
    return Settings(
        home=home, llm=LLMSettings(retry_backoff_s=0.01, prices_path=home / "prices.json")
    )


def _feedback(url: str, admin: dict[str, str]) -> dict[str, list[float]]:
    """The evaluator's scores on each 'chat gpt' trace."""
    page = httpx.get(f"{url}/api/v1/traces", params={"name": "chat gpt"}, headers=admin).json()
    scores: dict[str, list[float]] = {}
    for summary in page["traces"]:
        trace: dict[str, Any] = httpx.get(
            f"{url}/api/v1/traces/{summary['trace_id']}", headers=admin
        ).json()
        scores[trace["trace_id"]] = [
            f["score"] for f in trace["feedback"] if f["key"] == "kind.regex"
        ]
    return scores


def test_ledger_budgets_and_evaluator_work_survive_a_restart(
    tmp_path: Path, upstream: tuple[Upstream, str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # 1000 prompt + 500 completion tokens per upstream call: $0.006 a call.
    prices = {"models": {"upstream-model": {"input": 2.0, "output": 8.0}}}
    (home / "prices.json").write_text(json.dumps(prices))
    workspace = Workspace(_settings(home))
    _, base = upstream
    spec = {"name": "gpt", "provider": "openai", "base_url": base, "model": "upstream-model"}
    LLMDeploymentStore(workspace.database).create(LLMDeploymentSpec.model_validate(spec))
    keys = KeyStore(workspace.database)
    team = keys.create("team-a", "predict")[1]
    admin = {"Authorization": f"Bearer {keys.create('ops', 'admin')[1]}"}

    def ask(url: str, text: str) -> str:
        client = openai.OpenAI(base_url=url + "/v1", api_key=team, max_retries=0)
        reply = client.chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": text}]
        )
        return reply.choices[0].message.content or ""

    with running(create_app(workspace=workspace)) as url:
        budget = {"key": "team-a", "usd": 0.01, "per": "month", "action": "block"}
        assert httpx.put(f"{url}/api/v1/llm/budgets", json=budget, headers=admin).is_success
        rule = {"name": "kind", "filter": "name=gpt", "scorers": ["regex"], "pattern": "echo"}
        made = httpx.post(f"{url}/api/v1/evaluators", json=rule, headers=admin)
        assert made.status_code == 201, made.text
        assert ask(url, "one") == "echo: one"
        assert ask(url, "two") == "echo: two"
        # The server stops at once: charges not yet written, traces not yet scored.
    workspace.close()

    workspace = Workspace(_settings(home))
    with running(create_app(workspace=workspace)) as url:
        spend = httpx.get(
            f"{url}/api/v1/llm/spend", params={"hours": 1, "by": "key"}, headers=admin
        ).json()
        assert spend["totals"] == pytest.approx({"team-a": 0.012})
        with pytest.raises(openai.RateLimitError) as refused:
            ask(url, "three")
        assert refused.value.response.json()["error"]["message"].startswith(
            "The budget 'key team-a' of $0.01 per month is spent ($0.012 so far)"
        )
        assert len(_feedback(url, admin)) == 2
        scored = lambda: sorted(map(tuple, _feedback(url, admin).values()))  # noqa: E731
        # Each call is scored once ("echo" matches), though both servers saw them.
        wait_for(lambda: scored() == [(1.0,), (1.0,)], timeout=30, interval=0.3)
    workspace.close()
