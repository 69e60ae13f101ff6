"""The ``langsmith`` SDK's ``Client`` reading back from lanza: runs, projects, feedback.

Runs are written by ``@traceable`` and ``wrap_openai`` over a real port, then read with
``list_runs`` (project, filters, trace and tree filters), ``read_run``,
``list_projects``, ``read_project`` and the feedback calls, with the SDK's own ids;
projects made, changed (``update_project``) and deleted with their runs (``delete_project``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx
import openai
import pytest
from langsmith import Client, traceable, tracing_context
from langsmith.run_helpers import get_current_run_tree
from langsmith.utils import LangSmithConflictError, LangSmithNotFoundError
from langsmith.wrappers import wrap_openai

from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.store import LLMDeploymentStore
from lanza.server import create_app
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.llm.wire_upstream import WireUpstream
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


class Served(NamedTuple):
    """The lanza server and the SDK client pointed at it."""

    url: str
    client: Client


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """lanza with a remote LLM deployment on an OpenAI-wire upstream."""
    workspace = Workspace(Settings(home=tmp_path_factory.mktemp("ls-read")))
    upstream = WireUpstream()
    with running(upstream.app()) as base:
        spec = {"name": "gpt", "provider": "openai", "base_url": base + "/v1", "model": "m"}
        LLMDeploymentStore(workspace.database).create(LLMDeploymentSpec.model_validate(spec))
        with running(create_app(workspace=workspace)) as url:
            yield Served(url, Client(api_url=f"{url}/langsmith", api_key="anything"))
    workspace.close()


class Pipeline(NamedTuple):
    """The ids the SDK gave to one traced pipeline's runs."""

    root: str
    search: str
    generate: str


def _pipeline(client: Client, project: str, question: str, user: str) -> Pipeline:
    ids: dict[str, str] = {}

    def remember(name: str) -> None:
        run = get_current_run_tree()
        assert run is not None
        ids[name] = str(run.id)

    @traceable(run_type="retriever", name="search")
    def search(query: str) -> list[str]:
        remember("search")
        return [f"doc about {query}"]

    @traceable(run_type="llm", name="generate", metadata={"ls_model_name": "tiny"})
    def generate(prompt: str) -> dict[str, Any]:
        remember("generate")
        usage = {"input_tokens": 17, "output_tokens": 5, "total_tokens": 22}
        return {"text": "answer", "usage_metadata": usage}

    @traceable(name="pipeline", tags=["ls-read"], metadata={"user": user})
    def pipeline(question: str) -> str:
        remember("root")
        return str(generate(f"{question} {search(question)}")["text"])

    with tracing_context(enabled=True, client=client, project_name=project):
        pipeline(question)
    client.flush()
    return Pipeline(ids["root"], ids["search"], ids["generate"])


def _runs(client: Client, **query: Any) -> list[Any]:
    return list(client.list_runs(**query))


def _exists(client: Client, run_id: uuid.UUID) -> bool:
    try:
        client.read_run(run_id)
    except LangSmithNotFoundError:
        return False
    return True


def _landed(client: Client, project: str, count: int) -> None:
    def done() -> bool:
        try:
            runs = _runs(client, project_name=project)
        except LangSmithNotFoundError:
            return False
        return len(runs) >= count and all(r.end_time is not None for r in runs)

    wait_for(done, timeout=30)


def test_runs_read_back_with_the_sdk_ids(served: Served) -> None:
    client = served.client
    first = _pipeline(client, "ls-read-a", "tides", "ana")
    second = _pipeline(client, "ls-read-a", "moons", "bo")
    _pipeline(client, "ls-read-b", "stars", "ana")
    _landed(client, "ls-read-a", 6)
    _landed(client, "ls-read-b", 3)

    runs = _runs(client, project_name="ls-read-a")
    assert len(runs) == 6
    assert {str(r.id) for r in runs} == {*first, *second}
    roots = _runs(client, project_name="ls-read-a", is_root=True)
    assert {str(r.id) for r in roots} == {first.root, second.root}
    llm = _runs(client, project_name="ls-read-a", run_type="llm")
    assert {str(r.id) for r in llm} == {first.generate, second.generate}
    assert {r.total_tokens for r in llm} == {22}

    run = client.read_run(first.generate)
    assert (str(run.id), str(run.trace_id)) == (first.generate, first.root)
    assert str(run.parent_run_id) == first.root
    assert run.outputs is not None
    assert run.outputs["text"] == "answer"
    assert (run.prompt_tokens, run.completion_tokens, run.status) == (17, 5, "success")
    root = client.read_run(first.root)
    assert root.inputs == {"question": "tides"}
    assert root.tags == ["ls-read"]
    nested = client.read_run(first.root, load_child_runs=True)
    assert nested.child_runs is not None
    assert [str(c.id) for c in nested.child_runs] == [first.search, first.generate]
    assert nested.dotted_order.endswith("Z" + first.root)
    with pytest.raises(LangSmithNotFoundError):
        client.read_run(uuid.uuid4())

    filtered = _runs(client, project_name="ls-read-a", filter='eq(name, "search")')
    assert {str(r.id) for r in filtered} == {first.search, second.search}
    tokens = 'and(eq(run_type, "llm"), gt(total_tokens, 20), lt(latency, 60))'
    assert len(_runs(client, project_name="ls-read-a", filter=tokens)) == 2
    ana = 'and(eq(metadata_key, "user"), eq(metadata_value, "ana"))'
    # The SDK hands a run's metadata down to its children.
    assert {str(r.id) for r in _runs(client, project_name="ls-read-a", filter=ana)} == set(first)
    root_ana = 'and(eq(metadata_key, "user"), eq(metadata_value, "ana"), eq(name, "pipeline"))'
    traced = _runs(client, project_name="ls-read-a", run_type="llm", trace_filter=root_ana)
    assert [str(r.id) for r in traced] == [first.generate]
    tree = _runs(client, project_name="ls-read-a", is_root=True, tree_filter='search("moons")')
    assert [str(r.id) for r in tree] == [second.root]
    by_trace = _runs(client, trace_id=first.root)
    assert {str(r.id) for r in by_trace} == set(first)
    with pytest.raises(Exception, match="not known"):
        _runs(client, project_name="ls-read-a", filter='nope(name, "x")')


def test_projects_list_and_read(served: Served) -> None:
    client = served.client
    _pipeline(client, "ls-proj", "rivers", "cy")
    _landed(client, "ls-proj", 3)
    project = client.read_project(project_name="ls-proj")
    assert project.name == "ls-proj"
    assert project.run_count == 3
    assert project.total_tokens == 22
    again = client.read_project(project_id=str(project.id))
    assert (again.id, again.name) == (project.id, "ls-proj")
    names = {p.name for p in client.list_projects()}
    assert "ls-proj" in names
    assert [p.name for p in client.list_projects(name_contains="proj")] == ["ls-proj"]
    assert client.has_project("ls-proj")
    assert not client.has_project("no-such-project")


def test_feedback_round_trips_with_the_sdk_ids(served: Served) -> None:
    client = served.client
    ids = _pipeline(client, "ls-fb", "winds", "di")
    _landed(client, "ls-fb", 3)
    project = client.read_project(project_name="ls-fb")
    feedback_id = uuid.uuid4()
    made = client.create_feedback(
        ids.generate,
        key="correctness",
        score=1.0,
        comment="right",
        feedback_id=feedback_id,
        trace_id=ids.root,
        session_id=project.id,
    )
    assert made.id == feedback_id
    client.flush()

    def stored() -> bool:
        return bool(list(client.list_feedback(run_ids=[ids.generate])))

    wait_for(stored, timeout=30)
    (found,) = client.list_feedback(run_ids=[ids.generate], feedback_key=["correctness"])
    assert (found.id, str(found.run_id), found.score, found.comment) == (
        feedback_id,
        ids.generate,
        1.0,
        "right",
    )
    assert client.read_feedback(feedback_id).key == "correctness"
    assert list(client.list_feedback(run_ids=[ids.generate], feedback_key=["other"])) == []
    scored = 'and(eq(feedback_key, "correctness"), gte(feedback_score, 1))'
    assert [str(r.id) for r in _runs(client, project_name="ls-fb", filter=scored)] == [ids.generate]
    (run,) = _runs(client, run_ids=[ids.generate])
    assert run.feedback_stats == {"correctness": {"n": 1, "avg": 1.0}}
    client.update_feedback(feedback_id, score=0.5, comment=None)
    changed = client.read_feedback(feedback_id)
    assert (changed.score, changed.comment) == (0.5, None)
    client.delete_feedback(feedback_id)
    with pytest.raises(LangSmithNotFoundError):
        client.read_feedback(feedback_id)


def test_wrap_openai_through_the_gateway_is_one_trace(served: Served) -> None:
    client = served.client

    def propagate(request: httpx.Request) -> None:
        run = get_current_run_tree()
        if run is not None:
            request.headers.update(run.to_headers())

    http = httpx.Client(event_hooks={"request": [propagate]})
    llm = wrap_openai(
        openai.OpenAI(base_url=served.url + "/v1", api_key="k", http_client=http, max_retries=0)
    )

    @traceable(name="agent step")
    def step() -> str:
        answer = llm.chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}]
        )
        return answer.choices[0].message.content or ""

    with tracing_context(enabled=True, client=client, project_name="ls-gw"):
        assert step() == "answer 0"
    client.flush()
    _landed(client, "ls-gw", 3)
    runs = {r.name: r for r in _runs(client, project_name="ls-gw")}
    assert set(runs) == {"agent step", "ChatOpenAI", "chat gpt"}
    assert len({r.trace_id for r in runs.values()}) == 1
    gateway = runs["chat gpt"]
    assert gateway.parent_run_id == runs["ChatOpenAI"].id
    assert gateway.total_tokens == 18
    assert gateway.extra is not None
    assert gateway.extra["metadata"]["deployment"] == "gpt"
    alone = httpx.get(served.url + "/api/v1/traces", params={"name": "chat gpt"}).json()
    assert alone["traces"] == []


def test_runs_of_priced_models_get_a_cost(served: Served) -> None:
    client = served.client
    ids: list[str] = []

    @traceable(run_type="llm", name="priced", metadata={"ls_model_name": "gpt-4o-mini"})
    def priced() -> dict[str, Any]:
        run = get_current_run_tree()
        assert run is not None
        ids.append(str(run.id))
        usage = {"input_tokens": 1000, "output_tokens": 200, "total_tokens": 1200}
        return {"text": "ok", "usage_metadata": usage}

    with tracing_context(enabled=True, client=client, project_name="ls-cost"):
        priced()
    client.flush()
    _landed(client, "ls-cost", 1)
    run = client.read_run(ids[0])
    assert run.total_cost is not None
    price = PriceTable.load().price("gpt-4o-mini")
    assert price is not None
    assert float(run.total_cost) == pytest.approx((1000 * price.input + 200 * price.output) / 1e6)


@pytest.mark.parametrize(
    "body",
    [
        {"limit": "many"},
        {"cursor": -1},
        {"session": ["not-a-uuid"]},
        {"filter": "eq(name"},
        {"filter": 'nope(name, "x")'},
        {"start_time": "yesterday"},
        [1, 2],
    ],
)
def test_bad_run_queries_are_400(served: Served, body: Any) -> None:
    response = httpx.post(f"{served.url}/langsmith/runs/query", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_bad_project_and_feedback_reads(served: Served) -> None:
    assert httpx.get(f"{served.url}/langsmith/sessions", params={"id": "x"}).status_code == 400
    assert httpx.get(f"{served.url}/langsmith/sessions/x").status_code == 400
    assert httpx.get(f"{served.url}/langsmith/sessions/{uuid.uuid4()}").status_code == 404
    assert httpx.get(f"{served.url}/langsmith/feedback/{uuid.uuid4()}").status_code == 404
    assert httpx.get(f"{served.url}/langsmith/runs/not-an-id").status_code == 404


def test_made_projects_keep_the_sdk_id_and_take_runs(served: Served) -> None:
    client = served.client
    made = client.create_project("ls-made", description="made first", metadata={"team": "a"})
    read = client.read_project(project_name="ls-made")
    assert (read.id, read.name, read.description) == (made.id, "ls-made", "made first")
    assert (read.run_count, read.extra) == (0, {"metadata": {"team": "a"}})
    assert client.read_project(project_id=made.id).name == "ls-made"
    assert "ls-made" in {p.name for p in client.list_projects()}
    with pytest.raises(LangSmithConflictError):
        client.create_project("ls-made")
    again = client.create_project("ls-made", description="changed", upsert=True)
    assert (again.id, again.description) == (made.id, "changed")

    by_name, by_id = uuid.uuid4(), uuid.uuid4()
    client.create_run("by-name", {"q": 1}, "chain", id=by_name, project_name="ls-made")
    client.update_run(by_name, outputs={"a": 1}, end_time=datetime.now(UTC))
    # A run may name its project by id (as the SDK's RunTree does with project_id=).
    client.create_run("by-id", {"q": 2}, "chain", id=by_id, session_id=made.id)
    client.update_run(by_id, outputs={"a": 2}, end_time=datetime.now(UTC))
    client.flush()
    _landed(client, "ls-made", 2)
    assert {str(r.id) for r in _runs(client, project_name="ls-made")} == {str(by_name), str(by_id)}
    assert {str(r.id) for r in _runs(client, project_id=made.id)} == {str(by_name), str(by_id)}
    assert client.read_project(project_id=made.id).run_count == 2
    assert client.read_run(by_name).session_id == made.id

    # A name taken by runs alone is taken too; upsert keeps the id it had.
    _pipeline(client, "ls-by-runs", "lakes", "di")
    _landed(client, "ls-by-runs", 3)
    had = client.read_project(project_name="ls-by-runs").id
    with pytest.raises(LangSmithConflictError):
        client.create_project("ls-by-runs")
    assert client.create_project("ls-by-runs", upsert=True).id == had
    # A run whose project id names no project is kept, in the default project.
    stray = uuid.uuid4()
    client.create_run("stray", {"q": 3}, "chain", id=stray, session_id=uuid.uuid4())
    client.flush()
    wait_for(lambda: _exists(client, stray), timeout=30)
    assert str(stray) in {str(r.id) for r in _runs(client, project_name="default")}


def _landed_started(client: Client, project: str, count: int) -> None:
    wait_for(lambda: len(_runs(client, project_name=project)) >= count, timeout=30)


def test_a_project_is_renamed_described_and_ended_with_its_runs(served: Served) -> None:
    client = served.client
    ids = _pipeline(client, "ls-old", "dunes", "ed")
    running = uuid.uuid4()  # a run still open when the project is renamed
    client.create_run("open", {"q": 0}, "chain", id=running, project_name="ls-old")
    client.flush()
    wait_for(lambda: _exists(client, running), timeout=30)
    _landed_started(client, "ls-old", 4)
    had = client.read_project(project_name="ls-old").id
    ended = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    changed = client.update_project(
        had, name="ls-new", description="renamed", metadata={"team": "b"}, end_time=ended
    )
    assert (changed.id, changed.name, changed.description) == (had, "ls-new", "renamed")
    assert (changed.extra, changed.end_time) == ({"metadata": {"team": "b"}}, ended)
    read = client.read_project(project_id=had)
    assert (read.name, read.run_count, read.end_time) == ("ls-new", 4, ended)
    names = {p.name for p in client.list_projects()}
    assert "ls-new" in names
    assert "ls-old" not in names
    assert {str(r.id) for r in _runs(client, project_name="ls-new")} == {*ids, str(running)}
    assert {str(r.id) for r in _runs(client, project_id=had)} == {*ids, str(running)}
    # Its end still names the old project, as a RunTree's patch does: it stays renamed.
    client.update_run(running, outputs={"a": 0}, end_time=ended, session_name="ls-old")
    client.flush()
    wait_for(lambda: client.read_run(running).end_time is not None, timeout=30)
    assert str(running) in {str(r.id) for r in _runs(client, project_name="ls-new")}
    assert client.read_run(running).outputs == {"a": 0}
    with pytest.raises(LangSmithNotFoundError):
        client.read_project(project_name="ls-old")

    # Fields the SDK sends as null are left as they were.
    again = client.update_project(had, description="again")
    assert (again.name, again.description, again.extra) == ("ls-new", "again", changed.extra)
    # A run posted later by the project's id lands under its new name.
    late = uuid.uuid4()
    client.create_run("late", {"q": 1}, "chain", id=late, session_id=had)
    client.update_run(late, outputs={"a": 1}, end_time=datetime.now(UTC))
    client.flush()
    _landed(client, "ls-new", 5)
    assert client.read_project(project_id=had).run_count == 5

    # Runs posted later under the old name make a new project, with an id of its own.
    again_old = uuid.uuid4()
    client.create_run("again", {"q": 2}, "chain", id=again_old, project_name="ls-old")
    client.flush()
    wait_for(lambda: _exists(client, again_old), timeout=30)
    reborn = client.read_project(project_name="ls-old")
    assert reborn.id != had
    assert str(client.read_run(again_old).session_id) == str(reborn.id)
    assert [str(r.id) for r in _runs(client, project_id=reborn.id)] == [str(again_old)]
    assert client.read_project(project_id=had).name == "ls-new"
    listed = [p.id for p in client.list_projects()]
    assert len(listed) == len(set(listed))

    client.create_project("ls-taken")
    with pytest.raises(LangSmithConflictError):
        client.update_project(had, name="ls-taken")
    with pytest.raises(LangSmithNotFoundError):
        client.update_project(uuid.uuid4(), name="ls-nowhere")
    bad = httpx.patch(f"{served.url}/langsmith/sessions/{had}", json={"end_time": "soon"})
    assert bad.status_code == 400
    assert "end_time" in bad.json()["error"]["message"]


def test_deleting_a_project_deletes_its_runs_and_their_feedback(served: Served) -> None:
    client = served.client
    gone = _pipeline(client, "ls-gone", "caves", "fa")
    kept = _pipeline(client, "ls-kept", "reefs", "fa")
    _landed(client, "ls-gone", 3)
    _landed(client, "ls-kept", 3)
    project = client.read_project(project_name="ls-gone")
    client.create_feedback(gone.generate, key="right", score=1.0, trace_id=gone.root)
    client.create_feedback(kept.generate, key="right", score=1.0, trace_id=kept.root)
    client.flush()
    wait_for(lambda: bool(list(client.list_feedback(run_ids=[gone.generate]))), timeout=30)
    wait_for(lambda: bool(list(client.list_feedback(run_ids=[kept.generate]))), timeout=30)

    assert httpx.get(f"{served.url}/api/v1/traces/{gone.root}").status_code == 200

    client.delete_project(project_name="ls-gone")
    with pytest.raises(LangSmithNotFoundError):
        client.read_project(project_id=project.id)
    assert "ls-gone" not in {p.name for p in client.list_projects()}
    assert not any(_exists(client, uuid.UUID(run)) for run in gone)
    assert list(client.list_feedback(run_ids=[gone.generate])) == []
    trace = httpx.get(f"{served.url}/api/v1/traces/{gone.root}")
    assert trace.status_code == 404
    # Another project's runs and feedback are untouched.
    assert {str(r.id) for r in _runs(client, project_name="ls-kept")} == set(kept)
    assert len(list(client.list_feedback(run_ids=[kept.generate]))) == 1

    # A made project with no runs is deleted by its id; an unknown id is a 404.
    made = client.create_project("ls-empty")
    client.delete_project(project_id=str(made.id))
    assert "ls-empty" not in {p.name for p in client.list_projects()}
    with pytest.raises(LangSmithNotFoundError):
        client.delete_project(project_id=str(uuid.uuid4()))
    missing = uuid.uuid4()
    answer = httpx.delete(f"{served.url}/langsmith/sessions/{missing}")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == f"There is no project '{missing}'."


def test_the_default_project_is_neither_deleted_nor_renamed(served: Served) -> None:
    client = served.client
    run = uuid.uuid4()
    client.create_run("native", {"q": 1}, "chain", id=run, project_name="default")
    client.flush()
    wait_for(lambda: _exists(client, run), timeout=30)
    default = client.read_project(project_name="default").id
    sessions = f"{served.url}/langsmith/sessions/{default}"
    refused = httpx.delete(sessions)
    assert refused.status_code == 409
    assert "cannot be deleted" in refused.json()["error"]["message"]
    assert httpx.patch(sessions, json={"name": "other"}).status_code == 409
    assert client.update_project(default, description="lanza's own").description == "lanza's own"
    assert _exists(client, run)


@pytest.mark.parametrize("variable", ["LANGSMITH_PROJECT", "LANGCHAIN_PROJECT"])
def test_the_environment_picks_the_project(served: Served, variable: str) -> None:
    prefix = variable.removesuffix("_PROJECT")
    project = f"ls-env-{prefix.lower()}"
    env = {
        **os.environ,
        f"{prefix}_ENDPOINT": f"{served.url}/langsmith",
        f"{prefix}_API_KEY": "anything",
        f"{prefix}_TRACING" if prefix == "LANGSMITH" else "LANGCHAIN_TRACING_V2": "true",
        variable: project,
    }
    for other in ("LANGSMITH_PROJECT", "LANGCHAIN_PROJECT", "LANGSMITH_ENDPOINT"):
        if other not in (variable, f"{prefix}_ENDPOINT"):
            env.pop(other, None)
    subprocess.run([sys.executable, "-c", ENV_TRACED], env=env, check=True, timeout=120)
    _landed(served.client, project, 1)
    runs = _runs(served.client, project_name=project)
    assert [(r.name, r.outputs) for r in runs] == [("from-env", {"output": 42})]


ENV_TRACED = """
from langsmith import traceable
from langsmith.run_trees import get_cached_client


@traceable(name="from-env")
def answer() -> int:
    return 42


answer()
get_cached_client().flush()
"""
