"""Every mutating route, read from the route table, refuses missing, wrong, revoked and low keys.

The routes are not listed by hand: a route added later is walked too, so it cannot ship
without a key check. Admin routes also refuse ``predict`` keys, and each refusal of an
admin route is written to the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from lanza.security.keys import KeyStore
from lanza.server import create_app
from lanza.settings import Settings
from lanza.store.tables import AuditEntry
from lanza.workspace import Workspace
from tests.servers import running

pytestmark = pytest.mark.slow
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# POSTs that only read (a query too large for a URL, as the LangSmith SDK sends it).
READ_QUERIES = {("POST", "/langsmith/runs/query")}


def mutating_routes(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, path, role) of every mutating route; role is None when not declared up front."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        dependant = getattr(context, "dependant", None) or route.dependant
        for method in sorted(route.methods & MUTATING):
            found.append((method, str(context.path), _declared_role(dependant)))
    return found


def _declared_role(dependant: Any) -> str | None:
    for dependency in dependant.dependencies:
        for cell in getattr(dependency.call, "__closure__", None) or ():
            if cell.cell_contents in ("read", "predict", "admin"):
                return str(cell.cell_contents)
    return None


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.fixture
def keyed(home: Path) -> Iterator[tuple[Workspace, dict[str, str]]]:
    ws = Workspace(Settings(home=home))
    store = KeyStore(ws.database)
    keys = {role: store.create(role, role)[1] for role in ("admin", "predict", "read")}
    revoked_info, keys["revoked"] = store.create("gone", "admin")
    store.revoke(revoked_info.id)
    yield ws, keys
    ws.close()


def test_the_walk_finds_the_routes_that_matter(keyed: tuple[Workspace, dict[str, str]]) -> None:
    found = mutating_routes(create_app(workspace=keyed[0]))
    routes = {(m, p) for m, p, _ in found}
    roles = {(m, p): r for m, p, r in found}
    assert roles[("POST", "/api/v1/deployments")] == "admin"
    assert roles[("POST", "/api/v1/deployments/{name}/predict")] == "predict"
    for expected in [
        ("POST", "/api/v1/deployments"),
        ("POST", "/api/v1/deployments/{name}/predict"),
        ("POST", "/invocations"),
        ("POST", "/v2/models/{name}/infer"),
        ("POST", "/vertex/predict"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/api/v1/traces"),
        ("POST", "/otlp/v1/traces"),
        ("POST", "/langsmith/runs/multipart"),
        ("POST", "/api/v1/batch-jobs"),
    ]:
        assert expected in routes


def test_every_mutating_route_refuses_bad_keys(keyed: tuple[Workspace, dict[str, str]]) -> None:
    ws, keys = keyed
    app = create_app(workspace=ws)
    routes = mutating_routes(app)
    failures: list[str] = []
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as http:

        def send(method: str, path: str, key: str | None) -> int:
            headers: dict[str, Any] = {"content-type": "application/json"}
            if key is not None:
                headers["authorization"] = f"Bearer {key}"
            return http.request(method, _concrete(path), content=b"{}", headers=headers).status_code

        for method, path, role in routes:
            cases = [(None, 401), ("lz_not_a_key", 401), (keys["revoked"], 401)]
            if (method, path) in READ_QUERIES:
                assert role == "read"
            else:
                cases.append((keys["read"], 403))
            if role == "admin":
                cases.append((keys["predict"], 403))
            for key, expected in cases:
                status = send(method, path, key)
                if status != expected:
                    label = "no key" if key is None else key[:8]
                    failures.append(f"{method} {path} with {label}: {status}, not {expected}")
    with ws.database.session() as session:
        audited = {(e.action, e.path, e.status) for e in session.scalars(select(AuditEntry))}
    assert failures == []
    assert ("POST", "/api/v1/deployments", 403) in audited
    assert ("DELETE", "/api/v1/deployments/x", 401) in audited
    # Ground truth changes what lanza reports: its refusals are audited too.
    assert ("POST", "/api/v1/deployments/x/feedback", 403) in audited
    # Predictions are recorded in the prediction log, not here.
    assert not any(path.endswith("/predict") for _, path, _ in audited)


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(home: Path) -> None:
    settings = Settings(home=home)
    settings.server.key_rpm = 3
    ws = Workspace(settings)
    store = KeyStore(ws.database)
    _, first = store.create("first", "read")
    _, second = store.create("second", "read")
    try:
        with running(create_app(workspace=ws)) as url, httpx.Client(base_url=url) as http:

            def get(key: str) -> httpx.Response:
                return http.get("/api/v1/deployments", headers={"authorization": f"Bearer {key}"})

            assert [get(first).status_code for _ in range(3)] == [200, 200, 200]
            limited = get(first)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            assert "3 requests per minute" in limited.json()["error"]["message"]
            assert get(second).status_code == 200  # the limit is per key
    finally:
        ws.close()


def test_metrics_docs_and_v2_readiness_reveal_nothing_without_a_key(
    keyed: tuple[Workspace, dict[str, str]],
) -> None:
    ws, keys = keyed
    read = {"authorization": f"Bearer {keys['read']}"}
    admin = {"authorization": f"Bearer {keys['admin']}"}
    with running(create_app(workspace=ws)) as url, httpx.Client(base_url=url) as http:
        made = http.post(
            "/api/v1/deployments", json={"name": "gone", "model": "nope/1"}, headers=admin
        )
        assert made.status_code == 201, made.text
        for path in ("/metrics", "/openapi.json", "/docs"):
            assert http.get(path).status_code == 401, path
            assert http.get(path, headers=read).status_code == 200, path
        unknown = http.get("/v2/models/nothing/ready")
        unready = http.get("/v2/models/gone/ready")  # failed to load: not ready
        assert (unknown.status_code, unready.status_code) == (503, 503)
        assert unknown.json()["ready"] is unready.json()["ready"] is False
        assert set(unknown.json()) == set(unready.json())
        assert http.get("/v2/models/nothing/ready", headers=read).status_code == 404


def test_metrics_and_docs_can_be_opened_by_setting(home: Path) -> None:
    settings = Settings(home=home)
    settings.server.expose_metrics = settings.server.expose_docs = True
    ws = Workspace(settings)
    KeyStore(ws.database).create("a", "admin")
    try:
        with running(create_app(workspace=ws)) as url:
            for path in ("/metrics", "/openapi.json", "/docs"):
                assert httpx.get(url + path).status_code == 200, path
            assert httpx.get(url + "/api/v1/deployments").status_code == 401
    finally:
        ws.close()
