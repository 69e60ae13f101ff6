"""Swaps with no failed request, alias following, failed loads, traffic split and shadow."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pandas as pd
import pytest

from lanza.server import create_app
from lanza.workspace import Workspace
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


class Traffic:
    """Steady predictions from a background thread, recording every answer."""

    def __init__(self, url: str, body: dict[str, object]) -> None:
        self.url, self.body = url, body
        self.statuses: Counter[int] = Counter()
        self.models: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(4)]

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                answer = http.post(f"{self.url}/api/v1/deployments/c/predict", json=self.body)
                self.statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    self.models[answer.json()["model"]] += 1

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _body(cancer: pd.DataFrame) -> dict[str, object]:
    return {"instances": cancer.drop(columns="target").head(1).to_dict(orient="records")}


def _serving(url: str) -> list[str]:
    return [s["version"] for s in httpx.get(f"{url}/api/v1/deployments/c").json()["serving"]]


def test_put_swaps_with_no_failed_request(
    serving_workspace: Workspace, cancer: pd.DataFrame
) -> None:
    with running(create_app(workspace=serving_workspace)) as url:
        httpx.post(f"{url}/api/v1/deployments", json={"name": "c", "model": "cancer/1"})
        wait_for(lambda: _serving(url) == ["cancer/1"])
        with Traffic(url, _body(cancer)) as traffic:
            wait_for(lambda: traffic.models["cancer/1"] > 20)
            httpx.put(f"{url}/api/v1/deployments/c", json={"model": "cancer/2"})
            wait_for(lambda: traffic.models["cancer/2"] > 20)
        assert set(traffic.statuses) == {200}, traffic.statuses


def test_follows_the_alias_and_keeps_serving_when_a_load_fails(
    serving_workspace: Workspace, cancer: pd.DataFrame
) -> None:
    registry = serving_workspace.registry
    with running(create_app(workspace=serving_workspace)) as url:
        httpx.post(f"{url}/api/v1/deployments", json={"name": "c", "model": "cancer@champion"})
        wait_for(lambda: _serving(url) == ["cancer/1"])
        with Traffic(url, _body(cancer)) as traffic:
            registry.promote("cancer", "2")
            try:
                wait_for(lambda: _serving(url) == ["cancer/2"])
                wait_for(lambda: traffic.models["cancer/2"] > 10)
            finally:
                registry.promote("cancer", "1")
            wait_for(lambda: _serving(url) == ["cancer/1"])
            broken = httpx.put(f"{url}/api/v1/deployments/c", json={"model": "cancer/99"})
            assert broken.status_code == 200
            wait_for(lambda: httpx.get(f"{url}/api/v1/deployments/c").json()["last_swap_error"])
            state = httpx.get(f"{url}/api/v1/deployments/c").json()
            assert state["status"] == "ready"
            assert "no version 99" in state["last_swap_error"]
            assert _serving(url) == ["cancer/1"]
        assert set(traffic.statuses) == {200}, traffic.statuses


def test_traffic_split_sticky_and_shadow(
    serving_workspace: Workspace, cancer: pd.DataFrame
) -> None:
    spec = {
        "name": "c",
        "traffic": [{"model": "cancer/1", "weight": 3}, {"model": "cancer/2", "weight": 1}],
        "sticky_header": "x-user",
        "shadow": "cancer/2",
    }
    with (
        running(create_app(workspace=serving_workspace)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        assert http.post("/api/v1/deployments", json=spec).status_code == 201
        wait_for(lambda: http.get("/api/v1/deployments/c").json()["status"] == "ready")
        served = Counter(
            http.post("/api/v1/deployments/c/predict", json=_body(cancer)).json()["model"]
            for _ in range(200)
        )
        assert 100 < served["cancer/1"] < 190
        assert served["cancer/2"] > 10
        sticky = {
            http.post(
                "/api/v1/deployments/c/predict", json=_body(cancer), headers={"x-user": "ada"}
            ).json()["model"]
            for _ in range(20)
        }
        assert len(sticky) == 1
        state = http.get("/api/v1/deployments/c").json()
        assert state["shadow"] == "cancer/2"
        assert [s["weight"] for s in state["serving"]] == [0.75, 0.25]
        metrics = http.get("/metrics").text
        wait_for(lambda: 'face="shadow"' in http.get("/metrics").text)
        assert "lanza_batch_size_bucket" in metrics
        assert "lanza_request_duration_seconds_bucket" in metrics


def test_concurrent_requests_are_batched(
    serving_workspace: Workspace, cancer: pd.DataFrame
) -> None:
    with running(create_app(workspace=serving_workspace)) as url:
        httpx.post(
            f"{url}/api/v1/deployments", json={"name": "c", "model": "cancer/1", "max_delay_ms": 20}
        )
        wait_for(lambda: _serving(url) == ["cancer/1"])
        frame = cancer.drop(columns="target").head(16)
        results: dict[int, object] = {}

        def one(index: int) -> None:
            body = {"instances": [frame.iloc[index].to_dict()]}
            results[index] = httpx.post(
                f"{url}/api/v1/deployments/c/predict", json=body, timeout=30
            ).json()["predictions"][0]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        whole = httpx.post(
            f"{url}/api/v1/deployments/c/predict",
            json={"instances": frame.to_dict(orient="records")},
        ).json()
        assert [results[i] for i in range(16)] == whole["predictions"]
        metrics = httpx.get(f"{url}/metrics").text
        count_line = next(
            line for line in metrics.splitlines() if line.startswith("lanza_batch_size_count")
        )
        calls = float(count_line.rsplit(" ", 1)[1])
        assert calls < 17  # 17 requests in fewer model calls
