"""Schemathesis against lanza's own OpenAPI document, over a real server with a deployment.

Every native operation (``/api/v1/...``, the health and metrics routes, and the
prediction faces) gets generated requests, valid and not: none may answer 5xx, and
every documented response must match its schema.

The stateful test follows the document's ``links`` (create → read → change → delete):
the same checks on every step, and the state's own: what a create answered can be read
at once, and what a delete removed answers 404.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import positive_data_acceptance

from lanza.api.openapi import LINKS
from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.reliability.conftest import deploy
from tests.servers import running

pytestmark = pytest.mark.slow
# The gateway calls outside providers and the batch API starts jobs on generated paths:
# both have their own hostile-input tests; here, what answers from lanza alone (LLM
# deployments, budgets and spend included: none of them calls a provider).
NATIVE = re.compile(
    r"^/(api/v1/(?!llm/|batch-jobs)|api/v1/llm/(deployments|budgets|spend)"
    r"|healthz|readyz|metrics|invocations|v2/|vertex/)"
)
EXAMPLES = 15
# Whether a body is valid here depends on the deployed model's columns (on a request id
# the log holds, or on traces that exist), which no static document can say: the schema
# describes the shape, and these operations answer 400/422 to a well-shaped body the
# state cannot take. Every other check still runs on them; every check runs on every
# other operation.
# Whether a deployment can be created on a device depends on the machine: a schema-valid
# ``"device": "cuda"`` is a 422 on a machine without a GPU, by design.
MACHINE_DEPENDENT = re.compile(r"^/api/v1/deployments(/\{name\})?$")
# A readiness probe answers 503 while something is not ready (here, deployments the
# generated requests created with models that do not exist): documented, and the answer.
READINESS = re.compile(r"(^/readyz|/ready)$")
# Online evaluators, annotation queues and LLM deployments take bodies whose validity rests
# on rules between fields (a judge scorer needs a judge deployment, a regex scorer a
# pattern, an 'openai' provider a base_url) and on traces that exist, which a JSON schema
# cannot say either.
MODEL_DEPENDENT = re.compile(
    r"(/predict|/invocations|/infer|/explain|/feedback|/labelling/answers|/uploads(/validate)?"
    r"|^/api/v1/datasets|^/api/v1/evaluators(/\{name\})?|^/api/v1/llm/deployments(/\{name\})?"
    r"|^/api/v1/annotation-queues(/\{name\}/reviews/\{trace_id\})?)$"
)


def _workspace(model_home: Path, tmp_path: Path) -> Workspace:
    """A workspace on the registry of ``model_home`` with its own database."""
    return Workspace(
        Settings(
            home=model_home,
            database_url=f"sqlite:///{tmp_path}/lanza.db",
            server=ServerSettings(poll_interval_s=0.3),
        )
    )


def test_no_operation_answers_5xx_or_breaks_its_schema(model_home: Path, tmp_path: Path) -> None:
    ws = _workspace(model_home, tmp_path)
    app = create_app(workspace=ws)
    schema = schemathesis.openapi.from_dict(app.openapi())
    failures: list[str] = []
    checked = 0
    try:
        with running(app) as url:
            deploy(url)
            for result in schema.get_all_operations():
                operation = result.ok()
                if not NATIVE.match(operation.path):
                    continue
                checked += 1
                call = _prober(operation, url)
                try:
                    call()
                except (Exception, BaseExceptionGroup) as exc:  # every operation's, not the first
                    failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    finally:
        ws.close()
    assert checked > 20
    assert failures == [], "\n\n".join(failures)


def _excluded(path: str) -> list[Any]:
    """The checks that do not apply to one operation (see the patterns above)."""
    excluded: list[Any] = []
    if MODEL_DEPENDENT.search(path) or MACHINE_DEPENDENT.search(path):
        excluded.append(positive_data_acceptance)
    if READINESS.search(path):
        excluded.append(not_a_server_error)
    return excluded


def _prober(operation: Any, url: str) -> Any:
    """A Hypothesis test that calls one operation and runs every check on the answers."""
    excluded = _excluded(operation.path)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        # The same examples on every run, so CI is red only for a change.
        derandomize=True,
    )
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, timeout=30)
        case.validate_response(response, excluded_checks=excluded)

    return call


# The registry of ``model_home`` holds cancer/1: model references narrowed to it, so that
# generated creations succeed often enough for the links to be followed (the stateless
# test above sends every other reference the pattern allows, and every filter).
KNOWN_MODELS = ["cancer/1", "models:/cancer/1"]
# Annotation queues and reviews now document real bodies, so more generated creations
# succeed and follow their links: more scenarios keep the deployments' chains reached.
SCENARIOS = 60
STEPS = 8


def test_linked_operations_keep_their_state(model_home: Path, tmp_path: Path) -> None:
    ws = _workspace(model_home, tmp_path)
    app = create_app(workspace=ws)
    document = _known_models(copy.deepcopy(app.openapi()))
    schema = schemathesis.openapi.from_dict(document).include(path_regex=_linked())
    # The document's own links, not ones Schemathesis would guess from names.
    schema.config.phases.stateful.inference.algorithms = []
    seen: Counter[str] = Counter()
    try:
        with running(app) as url:
            deploy(url)
            machine = _machine(schema.as_state_machine(), url, seen)
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=STEPS,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                    derandomize=True,
                    phases=[Phase.generate],
                ),
            )
    finally:
        ws.close()
    # Not vacuous: creations were read back and deletions were seen to take.
    assert seen["created POST /api/v1/deployments"] >= 10, seen
    assert seen["deleted DELETE /api/v1/deployments/{name}"] >= 5, seen
    assert seen["link"] >= 30, seen
    assert seen["created POST /api/v1/evaluators"] >= 1, seen


def _linked() -> str:
    """A pattern of every native path a link starts or ends on."""
    paths = {path for _, path in LINKS} | {p for targets in LINKS.values() for _, p, _ in targets}
    # LLM deployments are fuzzed statelessly above; here they would take the scenarios
    # the model deployments' create → delete chains need.
    paths = {path for path in paths if NATIVE.match(path) and not path.startswith("/api/v1/llm/")}
    return "^(" + "|".join(re.escape(path) for path in sorted(paths)) + ")$"


def _known_models(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every model reference narrowed to the models the registry holds
    (and evaluators' filters to none)."""
    schemas = document["components"]["schemas"]
    for component, field in [
        ("DeploymentSpec", "model"),
        ("DeploymentUpdate", "model"),
        ("Route", "model"),
        ("DeploymentSpec", "shadow"),
        ("DeploymentUpdate", "shadow"),
    ]:
        described = schemas[component]["properties"][field]
        described.pop("pattern")
        nullable = {"type": "null"} in described.pop("anyOf", [])
        described.pop("type", None)
        described["enum"] = KNOWN_MODELS + ([None] if nullable else [])
    # An evaluator's filter is terms of known fields, which no pattern says: left empty
    # (every trace) so that generated evaluators can be made.
    for method, path in (("post", "/api/v1/evaluators"), ("put", "/api/v1/evaluators/{name}")):
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        body["schema"]["properties"]["filter"] = {"const": ""}
    return document


def _machine(base: Any, url: str, seen: Counter[str]) -> Any:
    """``base`` calling ``url``, with the state-dependent checks after every step.

    After a create that answered 2xx, each linked ``GET`` must find what it names; after a
    ``DELETE`` that answered 2xx, a ``GET`` of the same path must answer 404.
    """
    probe = httpx.Client(base_url=url, timeout=30)
    # The thing itself, not what depends on its state (a probe answers 503 while it loads).
    reads = {
        source: [
            (path, parameters)
            for method, path, parameters in targets
            if method == "get"
            and (path == source[1] or (path.startswith(source[1] + "/") and path.endswith("}")))
        ]
        for source, targets in LINKS.items()
    }
    readable = {(m, p) for targets in LINKS.values() for m, p, _ in targets if m == "get"}

    class Lanza(base):  # type: ignore[misc, valid-type]
        def teardown(self) -> None:
            # Every scenario starts from the same state: Hypothesis replays a scenario's
            # prefix and needs the same answers to it.
            _reset(probe)
            super().teardown()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": url, "timeout": 30}

        def step(self, input: Any) -> Any:
            if input.transition is not None and input.is_applied:
                seen["link"] += 1
            return super().step(input)

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                excluded_checks=_excluded(case.operation.path),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )
            if not 200 <= response.status_code < 300:
                return
            method = case.operation.method.lower()
            label = f"{method.upper()} {case.operation.path}"
            for path, parameters in reads.get((method, case.operation.path), []):
                target = _fill(path, parameters, response.json(), case)
                found = probe.get(target)
                assert found.status_code == 200, (
                    f"{label} made what {target} cannot find: {found.text}"
                )
                seen[f"created {label}"] += 1
            if method == "delete" and ("get", case.operation.path) in readable:
                target = _fill(case.operation.path, {}, None, case)
                gone = probe.get(target)
                assert gone.status_code == 404, (
                    f"{label} left {target}: {gone.status_code} {gone.text}"
                )
                seen[f"deleted {label}"] += 1

    return Lanza


def _reset(http: httpx.Client) -> None:
    """Remove what scenarios made: deployments but the first, their alerts, evaluators."""
    for deployment in http.get("/api/v1/deployments").json():
        if deployment["name"] != "c":
            http.delete(f"/api/v1/deployments/{deployment['name']}")
    for rule in http.get("/api/v1/deployments/c/alerts").json()["rules"]:
        http.delete(f"/api/v1/deployments/c/alerts/{rule['id']}")
    for evaluator in http.get("/api/v1/evaluators").json():
        http.delete(f"/api/v1/evaluators/{evaluator['name']}")


def _fill(path: str, parameters: dict[str, str], body: Any, case: schemathesis.Case) -> str:
    """``path`` with its parameters from the answer's body (links) or the request's path."""
    values = dict(case.path_parameters or {})
    for name, expression in parameters.items():
        pointer = expression.removeprefix("$response.body#/")
        values[name] = body[pointer]
    return path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
