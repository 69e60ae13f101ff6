"""Quality estimated without labels, end to end: train, serve a shift that costs accuracy.

The classifier is trained by ``lanza train`` (which registers its performance
estimator), served without probabilities in the requests, and fed a window moved
towards its decision boundary; the estimate the report gives before and after labels
arrive must be within 0.03 of the accuracy the labels then reveal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from lanza.server import create_app
from lanza.settings import MonitoringSettings, ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow
WEIGHTS = np.array([2.0, -1.5, 1.0, 0.5, 0.0])
WINDOW = 3000


def _draw(rng: np.random.Generator, rows: int, scale: float) -> pd.DataFrame:
    """Rows of a logistic model: the label depends on the features the same way throughout."""
    x = rng.normal(0.0, 1.0, (rows, len(WEIGHTS))) * scale
    p = 1 / (1 + np.exp(-(x @ WEIGHTS)))
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(len(WEIGHTS))])
    frame["label"] = np.where(rng.random(rows) < p, "yes", "no")
    return frame


@pytest.fixture
def server(tmp_path: Path) -> Iterator[httpx.Client]:
    """A server with deployment 'm' on a logistic regression trained here."""
    settings = Settings(
        home=tmp_path,
        server=ServerSettings(poll_interval_s=0.3),
        monitoring=MonitoringSettings(flush_interval_s=0.1, interval_s=0.5, window=WINDOW),
    )
    ws = Workspace(settings)
    try:
        train(
            ws,
            TrainRequest(_draw(np.random.default_rng(0), 4000, 1.0), "label", "logit",
                         candidates=["logistic_regression"], folds=3),
        )  # fmt: skip
        with (
            running(create_app(workspace=ws)) as url,
            httpx.Client(base_url=url, timeout=30) as http,
        ):
            made = http.post("/api/v1/deployments", json={"name": "m", "model": "logit/1"})
            assert made.status_code == 201, made.text
            wait_for(lambda: http.get("/api/v1/deployments/m").json()["status"] == "ready")
            yield http
    finally:
        ws.close()


def _report(http: httpx.Client, requests: int, labelled: int) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def ready() -> bool:
        found.update(http.get("/api/v1/deployments/m/monitoring").json())
        return bool(found["traffic"]["requests"] == requests) and (
            found["quality"]["labelled"] == labelled
        )

    wait_for(ready, timeout=60, interval=0.3)
    return found


def test_estimate_before_labels_matches_realised_accuracy_after_a_shift(
    server: httpx.Client,
) -> None:
    shifted = _draw(np.random.default_rng(1), WINDOW, 0.4)  # closer to the boundary
    ids, truth = [], []
    for start in range(0, WINDOW, 100):
        chunk = shifted.iloc[start : start + 100]
        answer = server.post(
            "/api/v1/deployments/m/predict",
            json={"instances": chunk.drop(columns="label").to_dict(orient="records")},
        )
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["request_id"])
        truth.append(chunk["label"].tolist())
    before = _report(server, len(ids), 0)
    estimated = before["estimated"]
    assert estimated["rows"] == WINDOW, estimated
    baseline = estimated["baseline"]["accuracy"]
    items = [{"request_id": i, "value": t} for i, t in zip(ids, truth, strict=True)]
    assert server.post("/api/v1/deployments/m/feedback", json={"items": items}).status_code == 200
    after = _report(server, len(ids), WINDOW)
    realised = after["quality"]["metrics"]["accuracy"]
    assert baseline - realised > 0.1  # the shift costs real accuracy
    assert abs(estimated["metrics"]["accuracy"] - realised) <= 0.03, (estimated, realised)
    assert abs(estimated["metrics"]["f1"] - after["quality"]["metrics"]["f1"]) <= 0.03
    assert before["health"]["status"] == "degraded"
    assert before["health"]["reasons"][0]["text"].startswith("estimated accuracy")
    # The gauges are set by the monitor's own rounds, which run on their clock: wait for one.
    gauges = ['lanza_estimated_quality{deployment="m",metric="accuracy"}']
    gauges.append('lanza_deployment_health{deployment="m"} 2.0')
    wait_for(lambda: all(g in server.get("/metrics").text for g in gauges), timeout=60)
