"""Schemathesis against lanza's own OpenAPI document, over a real server with a deployment.

Every native operation (``/api/v1/...``, the health and metrics routes, and the
prediction faces) gets generated requests, valid and not: none may answer 5xx, and
every documented response must match its schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.reliability.conftest import deploy
from tests.servers import running

pytestmark = pytest.mark.slow
# The gateway calls outside providers and the batch API starts jobs on generated paths:
# both have their own hostile-input tests; here, what answers from lanza alone.
NATIVE = re.compile(
    r"^/(api/v1/(?!llm/|batch-jobs)|healthz|readyz|metrics|invocations|v2/|vertex/)"
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
# Online evaluators and annotation queues take bodies whose validity rests on rules
# between fields (a judge scorer needs a judge deployment, a regex scorer a pattern) and on
# traces that exist, which a JSON schema cannot say either.
MODEL_DEPENDENT = re.compile(
    r"(/predict|/invocations|/infer|/explain|/feedback|/labelling/answers|/uploads(/validate)?"
    r"|^/api/v1/datasets|^/api/v1/evaluators(/\{name\})?"
    r"|^/api/v1/annotation-queues(/\{name\}/reviews/\{trace_id\})?)$"
)


def test_no_operation_answers_5xx_or_breaks_its_schema(model_home: Path, tmp_path: Path) -> None:
    ws = Workspace(
        Settings(
            home=model_home,
            database_url=f"sqlite:///{tmp_path}/lanza.db",
            server=ServerSettings(poll_interval_s=0.3),
        )
    )
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


def _prober(operation: Any, url: str) -> Any:
    """A Hypothesis test that calls one operation and runs every check on the answers."""
    excluded: list[Any] = []
    if MODEL_DEPENDENT.search(operation.path) or MACHINE_DEPENDENT.search(operation.path):
        excluded.append(positive_data_acceptance)
    if READINESS.search(operation.path):
        excluded.append(not_a_server_error)

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
