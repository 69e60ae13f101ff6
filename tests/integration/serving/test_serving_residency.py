"""On-demand deployments over a real port: one shared first load, eviction under a memory
budget with concurrent traffic and no failed request, a swap of an evicted model, and the
state readiness, the deployment and the metrics report."""

from __future__ import annotations

import random
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lanza.server import create_app
from lanza.serving.residency import folder_bytes
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow
MB = 1024 * 1024


def _workspace(home: Path, tmp_path: Path, **server: float) -> Workspace:
    return Workspace(
        Settings(
            home=home,
            database_url=f"sqlite:///{tmp_path}/lanza.db",
            server=ServerSettings(poll_interval_s=0.3, **server),  # type: ignore[arg-type]
        )
    )


@pytest.fixture
def sizes(model_home: Path, tmp_path: Path) -> Iterator[dict[str, int]]:
    """Artifact bytes of cancer/1 and cancer/2, as the server measures them."""
    ws = _workspace(model_home, tmp_path / "sizes")
    try:
        yield {
            ref: folder_bytes(ws.loader.download(ws.registry.resolve(ref)))
            for ref in ("cancer/1", "cancer/2")
        }
    finally:
        ws.close()


def _body(cancer: pd.DataFrame) -> dict[str, object]:
    return {"instances": cancer.drop(columns="target").head(2).to_dict(orient="records")}


def _metric(url: str, name: str, **labels: str) -> float:
    """The value of one sample in ``/metrics`` (0 when absent)."""
    text = httpx.get(f"{url}/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if match and match[1] == name and ",".join(sorted((match[2] or "").split(","))) == want:
            return float(match[3])
    return 0.0


def _residency(http: httpx.Client, name: str) -> dict[str, object]:
    body = http.get(f"/api/v1/deployments/{name}").json()
    assert isinstance(body["residency"], dict)
    return body["residency"]


def test_concurrent_first_requests_share_one_load(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    ws = _workspace(model_home, tmp_path)
    body = _body(cancer)
    with (
        running(create_app(workspace=ws)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        made = http.post(
            "/api/v1/deployments",
            json={"name": "d", "model": "cancer/2", "residency": "on_demand"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["residency"]["state"] == "unloaded"
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert "0 deployments loaded, 1 loadable on demand" in ready.text
        index = http.post("/v2/repository/index").json()
        assert index == [
            {
                "name": "d",
                "version": "",
                "state": "UNAVAILABLE",
                "reason": "unloaded; loads on its first request",
            }
        ]

        statuses: Counter[int] = Counter()
        gate = threading.Barrier(16)

        def first() -> None:
            gate.wait()
            with httpx.Client(timeout=60) as client:
                answer = client.post(f"{url}/api/v1/deployments/d/predict", json=body)
                statuses[answer.status_code] += 1

        threads = [threading.Thread(target=first) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == Counter({200: 16})

        state = _residency(http, "d")
        assert state["state"] == "loaded"
        assert state["loads"] == 1
        assert state["size_bytes"] > 0
        assert state["last_used"] is not None
        assert _metric(url, "lanza_model_loads_total", deployment="d") == 1
        cold = _metric(
            url, "lanza_request_start_duration_seconds_count", deployment="d", start="cold"
        )
        assert cold >= 1
        assert http.post("/api/v1/deployments/d/predict", json=body).status_code == 200
        warm = _metric(
            url, "lanza_request_start_duration_seconds_count", deployment="d", start="warm"
        )
        assert warm >= 1
        assert cold + warm == 17
        assert "1 deployments loaded, 0 loadable on demand" in http.get("/readyz").text
        index = http.post("/v2/repository/index").json()
        assert index == [{"name": "d", "version": "2", "state": "READY"}]
    ws.close()


def test_eviction_under_a_budget_fails_no_request(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame, sizes: dict[str, int]
) -> None:
    largest = max(sizes.values())
    budget = 2 * largest + largest // 2  # room for two of the four deployments
    ws = _workspace(model_home, tmp_path, model_memory_mb=budget / MB)
    body = _body(cancer)
    names = [f"m{i}" for i in range(4)]
    with (
        running(create_app(workspace=ws)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        always = http.post("/api/v1/deployments", json={"name": "a", "model": "cancer/1"})
        assert always.status_code == 201, always.text
        wait_for(lambda: http.get("/api/v1/deployments/a").json()["status"] == "ready")
        for i, name in enumerate(names):
            made = http.post(
                "/api/v1/deployments",
                json={"name": name, "model": f"cancer/{i % 2 + 1}", "residency": "on_demand"},
            )
            assert made.status_code == 201, made.text

        statuses: Counter[int] = Counter()
        answered: Counter[str] = Counter()
        lock = threading.Lock()

        def traffic(seed: int) -> None:
            pick = random.Random(seed)
            with httpx.Client(timeout=60) as client:
                for _ in range(30):
                    name = pick.choice(names)
                    answer = client.post(f"{url}/api/v1/deployments/{name}/predict", json=body)
                    with lock:
                        statuses[answer.status_code] += 1
                        if answer.status_code == 200:
                            answered[name] += 1

        threads = [threading.Thread(target=traffic, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == Counter({200: 240}), statuses
        assert set(answered) == set(names)

        evictions = sum(
            _metric(url, "lanza_model_evictions_total", deployment=n, reason="budget")
            for n in names
        )
        assert evictions >= 1
        loads = sum(_metric(url, "lanza_model_loads_total", deployment=n) for n in names)
        assert loads >= len(names) + 1  # at least one model came back after an eviction
        # Past the budget only while every resident model answered a request; back under it
        # once they are done.
        wait_for(lambda: 0 < _metric(url, "lanza_models_resident_bytes") <= budget)
        states = {n: _residency(http, n)["state"] for n in names}
        assert set(states.values()) <= {"loaded", "unloaded"}
        assert "unloaded" in states.values()
        assert _residency(http, "a")["mode"] == "always"
        assert _residency(http, "a")["state"] == "loaded"  # never evicted
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert "loadable on demand" in ready.json()["components"]["serving"]["detail"]
    ws.close()


def test_a_model_larger_than_the_budget_is_refused_at_deploy_time(
    model_home: Path, tmp_path: Path, sizes: dict[str, int]
) -> None:
    budget = sizes["cancer/2"] // 2
    ws = _workspace(model_home, tmp_path, model_memory_mb=budget / MB)
    with (
        running(create_app(workspace=ws)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        refused = http.post(
            "/api/v1/deployments",
            json={"name": "big", "model": "cancer/2", "residency": "on_demand"},
        )
        assert refused.status_code == 422, refused.text
        message = refused.json()["error"]["message"]
        assert "Deployment 'big' needs" in message
        assert "LANZA_SERVER__MODEL_MEMORY_MB" in message
        assert http.get("/api/v1/deployments/big").status_code == 404
        unknown = http.post(
            "/api/v1/deployments",
            json={"name": "nope", "model": "cancer/99", "residency": "on_demand"},
        )
        assert unknown.status_code == 404, unknown.text
        assert http.get("/api/v1/deployments/nope").status_code == 404
    ws.close()


def test_an_evicted_model_swaps_to_the_promoted_version(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    ws = _workspace(model_home, tmp_path, model_idle_s=0.5)
    body = _body(cancer)
    with (
        running(create_app(workspace=ws)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        made = http.post(
            "/api/v1/deployments",
            json={"name": "s", "model": "cancer@champion", "residency": "on_demand"},
        )
        assert made.status_code == 201, made.text
        first = http.post("/api/v1/deployments/s/predict", json=body)
        assert first.json()["model"] == "cancer/1"
        wait_for(lambda: _residency(http, "s")["state"] == "unloaded")
        assert _metric(url, "lanza_model_evictions_total", deployment="s", reason="idle") == 1
        ws.registry.promote("cancer", "2")
        try:
            answer = http.post("/api/v1/deployments/s/predict", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == "cancer/2"
            assert http.get("/api/v1/deployments/s").json()["serving"][0]["version"] == "cancer/2"
            wait_for(lambda: _residency(http, "s")["state"] == "unloaded")
            changed = http.put("/api/v1/deployments/s", json={"model": "cancer/1"})
            assert changed.status_code == 200, changed.text
            again = http.post("/api/v1/deployments/s/predict", json=body)
            assert again.json()["model"] == "cancer/1"
            assert _residency(http, "s")["loads"] == 3
            # Every face loads an evicted model on demand: here the v2 protocol.
            wait_for(lambda: _residency(http, "s")["state"] == "unloaded")
            row = cancer.drop(columns="target").iloc[0]
            inputs = [
                {"name": str(c), "datatype": "FP64", "shape": [1], "data": [float(row[c])]}
                for c in row.index
            ]
            v2 = http.post("/v2/models/s/infer", json={"inputs": inputs})
            assert v2.status_code == 200, v2.text
            assert v2.json()["model_version"] == "1"
            assert _residency(http, "s")["loads"] == 4
            wait_for(lambda: _residency(http, "s")["state"] == "unloaded")
            mlflow = http.post("/deployments/s/invocations", json=body)
            assert mlflow.status_code == 200, mlflow.text
            assert _residency(http, "s")["loads"] == 5
        finally:
            ws.registry.promote("cancer", "1")
    ws.close()


def test_the_pages_load_an_on_demand_model_and_say_why_its_load_fails(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    home = tmp_path / "home"
    shutil.copytree(model_home, home)  # its downloaded artifacts are broken below
    ws = _workspace(home, tmp_path)
    with (
        running(create_app(workspace=ws)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        for name, model in (("fine", "cancer/1"), ("broken", "cancer/2")):
            spec = {"name": name, "model": model, "residency": "on_demand"}
            assert http.post("/api/v1/deployments", json=spec).status_code == 201
        form = http.get("/api/v1/deployments/fine/form")
        assert form.status_code == 200, form.text
        assert form.json()["model"] == "cancer/1"
        assert _residency(http, "fine")["state"] == "loaded"

        for skops in (home / "models" / "cancer" / "2").rglob("*.skops"):
            skops.write_bytes(b"not a model")
        for path in ("/api/v1/deployments/broken/form", "/deployments/broken/invocations"):
            answer = (
                http.get(path) if path.endswith("/form") else http.post(path, json=_body(cancer))
            )
            assert answer.status_code == 503, answer.text
            body = answer.json()
            message = body["error"]["message"] if "error" in body else body["message"]  # MLflow's
            assert "Deployment 'broken' failed to load" in message, message
        assert _residency(http, "broken")["state"] == "unloaded"  # the next request tries again
    ws.close()


def test_an_evicted_model_named_by_version_loads_again_without_the_model_store(
    model_home: Path, tmp_path: Path, cancer: pd.DataFrame
) -> None:
    home = tmp_path / "home"
    shutil.copytree(model_home, home)  # its MLflow store is moved away below
    ws = _workspace(home, tmp_path, model_idle_s=0.5)
    body = _body(cancer)
    with (
        running(create_app(workspace=ws)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        spec = {"name": "pinned", "model": "cancer/1", "residency": "on_demand"}
        assert http.post("/api/v1/deployments", json=spec).status_code == 201
        assert http.post("/api/v1/deployments/pinned/predict", json=body).status_code == 200
        wait_for(lambda: _residency(http, "pinned")["state"] == "unloaded")
        # NAME/VERSION never moves: the load after an eviction asks nothing of the store.
        (home / "mlflow.db").rename(home / "mlflow.db.away")
        try:
            again = http.post("/api/v1/deployments/pinned/predict", json=body)
            assert again.status_code == 200, again.text
            assert again.json()["model"] == "cancer/1"
            assert _residency(http, "pinned")["loads"] == 2
        finally:
            (home / "mlflow.db.away").rename(home / "mlflow.db")
    ws.close()
