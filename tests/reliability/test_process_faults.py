"""``lanza serve`` as a real process: kill -9 under load loses nothing, SIGTERM cuts nothing."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.reliability.conftest import FEATURES, Server, deploy
from tests.servers import wait_for

pytestmark = pytest.mark.slow


class Load:
    """Predictions and trace batches from background threads, recording what was accepted."""

    def __init__(self, url: str, row: dict[str, object]) -> None:
        self.url, self.row = url, row
        self.answered: list[str] = []
        self.spans: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._predict) for _ in range(3)]
        self._threads.append(threading.Thread(target=self._trace))

    def _predict(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self._stop.is_set():
                rid = uuid.uuid4().hex
                try:
                    answer = http.post(
                        "/api/v1/deployments/c/predict",
                        json={"instances": [self.row]},
                        headers={"x-request-id": rid},
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:
                    self.answered.append(rid)

    def _trace(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self._stop.is_set():
                now = time.time()
                ids = [uuid.uuid4().hex for _ in range(5)]
                spans = [
                    {"id": i, "trace_id": ids[0], "name": "step", "start_time": now} for i in ids
                ]
                try:
                    answer = http.post("/api/v1/traces", json={"spans": spans})
                except httpx.HTTPError:
                    return
                if answer.status_code == 202:
                    self.spans.extend(ids)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def _present(database: Path, table: str, ids: list[str], column: str) -> set[str]:
    with sqlite3.connect(database, timeout=30) as connection:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = connection.execute(
                f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk
            )
            found.update(r[0] for r in rows)
    return found


def test_kill_9_under_load_loses_no_answered_row_and_no_accepted_trace(
    lanza_server: Server, cancer: pd.DataFrame, tmp_path: Path
) -> None:
    lanza_server.start()
    deploy(lanza_server.url)
    row = cancer[FEATURES].iloc[0].to_dict()
    with Load(lanza_server.url, row) as load:
        wait_for(lambda: len(load.answered) >= 300 and len(load.spans) >= 100, timeout=60)
        lanza_server.signal(signal.SIGKILL)  # the log flushes every 5 s: rows are in flight
        lanza_server.wait()
    answered, spans = list(load.answered), list(load.spans)
    database = tmp_path / "lanza.db"
    assert len(_present(database, "monitoring_predictions", answered, "request_id")) < len(
        answered
    ), "every row was already written: the kill tested nothing"

    lanza_server.start()
    with httpx.Client(base_url=lanza_server.url, timeout=10) as http:
        wait_for(lambda: http.get("/api/v1/deployments/c").json()["status"] == "ready")
        again = http.post("/api/v1/deployments/c/predict", json={"instances": [row]})
        assert again.status_code == 200, again.text
    wait_for(
        lambda: (
            _present(database, "monitoring_predictions", answered, "request_id") == set(answered)
        ),
        timeout=30,
    )
    assert _present(database, "trace_spans", spans, "id") == set(spans)
    with sqlite3.connect(database) as connection:
        (rows,) = connection.execute(
            "SELECT count(*) FROM monitoring_predictions WHERE request_id IN "
            f"({','.join('?' * len(answered[:500]))})",
            answered[:500],
        ).fetchone()
    assert rows == len(answered[:500]), "a replayed row was written twice"


def test_sigterm_lets_in_flight_requests_finish_and_exits_in_time(
    lanza_server: Server, slow_model: str, cancer: pd.DataFrame
) -> None:
    lanza_server.env |= {"LANZA_ALLOW_PICKLE": "true", "SLOW_SECONDS": "2"}
    lanza_server.start()
    deploy(lanza_server.url, "c", slow_model)
    row = cancer[FEATURES].iloc[0].to_dict()

    def predict() -> int:
        answer = httpx.post(
            f"{lanza_server.url}/api/v1/deployments/c/predict",
            json={"instances": [row]},
            timeout=30,
        )
        return answer.status_code

    def in_flight() -> float:
        text = httpx.get(f"{lanza_server.url}/metrics", timeout=5).text
        lines = [ln for ln in text.splitlines() if ln.startswith("lanza_in_flight_requests{")]
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(predict) for _ in range(6)]
        wait_for(lambda: in_flight() >= 6, timeout=30, interval=0.05)
        lanza_server.signal(signal.SIGTERM)
        code = lanza_server.wait(timeout=10)  # the promised bound: TimeoutExpired fails the test
        statuses = [f.result() for f in futures]
    assert statuses == [200] * 6
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{lanza_server.url}/healthz", timeout=2)
