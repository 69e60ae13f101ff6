"""Faults while serving: the database goes away, a swap cannot load, the model is too slow."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
from sqlalchemy import text

from lanza.security.keys import KeyStore
from lanza.server import create_app
from lanza.settings import MonitoringSettings, ServerSettings, Settings
from lanza.workspace import Workspace
from tests.conftest import PG_ADMIN
from tests.pgcluster import PgCluster
from tests.reliability.conftest import FEATURES, deploy
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


def _settings(home: Path, database_url: str, **extra: object) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        server=ServerSettings(poll_interval_s=0.3, **extra),  # type: ignore[arg-type]
        monitoring=MonitoringSettings(flush_interval_s=0.2),
    )


def _connections(name: str, allowed: bool) -> None:
    """Refuse (and cut) or allow again every connection to one Postgres database."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


@pytest.mark.postgres
def test_predictions_continue_while_the_database_is_away_and_rows_arrive_after(
    model_home: Path, postgres_url: str, cancer: pd.DataFrame
) -> None:
    ws = Workspace(_settings(model_home, postgres_url))
    name = postgres_url.rsplit("/", 1)[1]
    row = cancer[FEATURES].iloc[0].to_dict()
    answered: list[str] = []
    try:
        with running(create_app(workspace=ws)) as url, httpx.Client(base_url=url) as http:
            deploy(url)
            _connections(name, allowed=False)
            try:
                for i in range(40):
                    answer = http.post(
                        "/api/v1/deployments/c/predict",
                        json={"instances": [row]},
                        headers={"x-request-id": f"away-{i}"},
                    )
                    assert answer.status_code == 200, answer.text
                    answered.append(f"away-{i}")
                wait_for(  # the writer has met the refusal: the rows wait in the journal
                    lambda: "lanza_monitoring_write_errors_total 0.0" not in _metrics(url)
                )
            finally:
                _connections(name, allowed=True)

            def logged() -> set[str]:
                with ws.database.session() as session:
                    rows = session.execute(
                        text("SELECT request_id FROM monitoring_predictions")
                    ).scalars()
                    return set(rows) & set(answered)

            wait_for(lambda: logged() == set(answered), timeout=30, interval=0.3)
    finally:
        ws.close()


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    model_home: Path, slow_model: str, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    """slow/1 is a pyfunc (runs code when loaded); without LANZA_ALLOW_PICKLE it is refused."""
    ws = Workspace(_settings(model_home, f"sqlite:///{tmp_path}/lanza.db"))
    body = {"instances": [cancer[FEATURES].iloc[0].to_dict()]}
    statuses: Counter[int] = Counter()
    stop = threading.Event()
    try:
        with running(create_app(workspace=ws)) as url:
            deploy(url)

            def traffic() -> None:
                with httpx.Client(base_url=url, timeout=30) as http:
                    while not stop.is_set():
                        answer = http.post("/api/v1/deployments/c/predict", json=body)
                        statuses[answer.status_code] += 1

            thread = threading.Thread(target=traffic)
            thread.start()
            try:
                swap = httpx.put(f"{url}/api/v1/deployments/c", json={"model": slow_model})
                assert swap.status_code == 200, swap.text
                wait_for(lambda: httpx.get(f"{url}/api/v1/deployments/c").json()["last_swap_error"])
                state = httpx.get(f"{url}/api/v1/deployments/c").json()
                wait_for(lambda: statuses[200] > 20)
            finally:
                stop.set()
                thread.join()
        assert "LANZA_ALLOW_PICKLE" in state["last_swap_error"]
        assert [s["version"] for s in state["serving"]] == ["cancer/1"]
        assert set(statuses) == {200}, statuses
    finally:
        ws.close()


def test_a_slow_model_answers_504_at_the_deadline_and_health_stays_responsive(
    model_home: Path,
    slow_model: str,
    tmp_path: Path,
    cancer: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLOW_SECONDS", "3")
    settings = _settings(model_home, f"sqlite:///{tmp_path}/lanza.db", request_timeout_s=1.0)
    settings.allow_pickle = True
    ws = Workspace(settings)
    body = {"instances": [cancer[FEATURES].iloc[0].to_dict()]}
    answers: list[httpx.Response] = []
    try:
        with running(create_app(workspace=ws)) as url:
            deploy(url, "c", slow_model)
            slow = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(f"{url}/api/v1/deployments/c/predict", json=body, timeout=30)
                )
            )
            slow.start()
            wait_for(lambda: 'lanza_in_flight_requests{deployment="c"} 1.0' in _metrics(url))
            health = httpx.get(f"{url}/healthz", timeout=5)
            assert health.status_code == 200
            slow.join()
        (answer,) = answers
        assert answer.status_code == 504
        assert "did not answer within 1s" in answer.json()["error"]["message"]
    finally:
        ws.close()


def _metrics(url: str) -> str:
    return httpx.get(f"{url}/metrics", timeout=5).text


@pytest.mark.postgres
def test_trace_ingest_answers_503_while_the_database_is_away_then_accepts(
    home: Path, postgres_url: str
) -> None:
    ws = Workspace(_settings(home, postgres_url))
    name = postgres_url.rsplit("/", 1)[1]
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "answer",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000100000000",
    }
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    try:
        with running(create_app(workspace=ws)) as url, httpx.Client(base_url=url) as http:
            _connections(name, allowed=False)
            try:
                refused = http.post("/otlp/v1/traces", json=body)
            finally:
                _connections(name, allowed=True)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert "nothing was stored" in refused.json()["error"]["message"]
            accepted = http.post("/otlp/v1/traces", json=body)
            assert accepted.status_code == 200, accepted.text
            tree = http.get(f"/api/v1/traces/{span['traceId']}").json()
            assert [s["name"] for s in tree["spans"]] == ["answer"]
    finally:
        ws.close()


def _traffic(
    url: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[threading.Event, threading.Thread, Counter[int], list[str]]:
    """Predictions in a loop until the event is set: status counts and answered request ids."""
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    answered: list[str] = []

    def loop() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = 0
            while not stop.is_set():
                rid = f"{headers.get('authorization', 'open')[-6:]}-{i}"
                answer = http.post(
                    "/api/v1/deployments/c/predict",
                    json=body,
                    headers={**headers, "x-request-id": rid},
                )
                statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    answered.append(rid)
                i += 1
                time.sleep(0.01)

    thread = threading.Thread(target=loop)
    thread.start()
    return stop, thread, statuses, answered


@pytest.mark.postgres
def test_open_and_keyed_predictions_answer_200_while_postgres_is_stopped(
    model_home: Path, own_postgres: PgCluster, cancer: pd.DataFrame
) -> None:
    """Postgres stopped for longer than the key cache's refresh: no 5xx, no 404, rows arrive."""
    url_db = own_postgres.create_database("lanza")
    ws = Workspace(_settings(model_home, url_db))
    body = {"instances": [cancer[FEATURES].iloc[0].to_dict()]}
    answered: list[str] = []
    try:
        with running(create_app(workspace=ws)) as url:
            deploy(url)
            # No key exists: predictions are open, and stay open through the outage.
            stop, thread, open_statuses, ids = _traffic(url, body, {})
            wait_for(lambda: open_statuses[200] > 10)
            own_postgres.stop()
            time.sleep(6)
            own_postgres.start()
            time.sleep(1)
            stop.set()
            thread.join()
            answered += ids
            assert set(open_statuses) == {200}, open_statuses

            _, secret = KeyStore(ws.database).create("app", "predict")
            keyed = {"authorization": f"Bearer {secret}"}
            wait_for(
                lambda: (
                    httpx.post(f"{url}/api/v1/deployments/c/predict", json=body).status_code == 401
                )
            )
            stop, thread, keyed_statuses, ids = _traffic(url, body, keyed)
            wait_for(lambda: keyed_statuses[200] > 10)
            own_postgres.stop()
            time.sleep(6)
            keyless = httpx.post(f"{url}/api/v1/deployments/c/predict", json=body)
            wrong = httpx.post(
                f"{url}/api/v1/deployments/c/predict",
                json=body,
                headers={"authorization": "Bearer lz_nope_nope"},
            )
            own_postgres.start()
            time.sleep(1)
            stop.set()
            thread.join()
            answered += ids
            assert set(keyed_statuses) == {200}, keyed_statuses
            assert keyless.status_code == 401, keyless.text
            assert wrong.status_code == 401, wrong.text

            def logged() -> set[str]:
                with ws.database.session() as session:
                    rows = session.execute(
                        text("SELECT request_id FROM monitoring_predictions")
                    ).scalars()
                    return set(rows) & set(answered)

            wait_for(lambda: logged() == set(answered), timeout=30, interval=0.3)
    finally:
        ws.close()


def test_a_swap_to_an_incompatible_signature_is_refused_unless_forced(
    model_home: Path, renamed_model: str, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    ws = Workspace(_settings(model_home, f"sqlite:///{tmp_path}/lanza.db"))
    body = {"instances": [cancer[FEATURES].iloc[0].to_dict()]}
    try:
        with running(create_app(workspace=ws)) as url, httpx.Client(base_url=url) as http:
            deploy(url)
            stop, thread, statuses, _ = _traffic(url, body, {})
            try:
                swap = http.put("/api/v1/deployments/c", json={"model": renamed_model})
                assert swap.status_code == 200, swap.text
                wait_for(lambda: http.get("/api/v1/deployments/c").json()["last_swap_error"])
                state = http.get("/api/v1/deployments/c").json()
                assert "refused" in state["last_swap_error"]
                assert "'mean_radius'" in state["last_swap_error"]
                time.sleep(1)  # several polls: the refused version is not loaded again
                assert [s["version"] for s in state["serving"]] == ["cancer/1"]
                wait_for(lambda: statuses[200] > 20)
            finally:
                stop.set()
                thread.join()
            assert set(statuses) == {200}, statuses

            forced = http.put("/api/v1/deployments/c", json={"model": renamed_model, "force": True})
            assert forced.status_code == 200, forced.text
            wait_for(
                lambda: (
                    [s["version"] for s in http.get("/api/v1/deployments/c").json()["serving"]]
                    == ["renamed/1"]
                )
            )
            # Moving back is refused again: force applied to that one change only.
            http.put("/api/v1/deployments/c", json={"model": "cancer/1"})
            wait_for(
                lambda: (
                    "swap to cancer/1 refused"
                    in (http.get("/api/v1/deployments/c").json()["last_swap_error"] or "")
                )
            )
    finally:
        ws.close()
