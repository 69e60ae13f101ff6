"""Demo traffic for ``lanza quickstart --simulate``: predictions, drift and ground truth.

A daemon thread waits for the deployment to serve, then sends rows of the quickstart
table one request at a time; after ``drift_after`` requests one feature is shifted by
two standard deviations, so the dashboard shows that feature drifting. Four requests in
five get their true label posted back as feedback, so live quality shows beside the
training score; the fifth is left for the labelling page to ask a person about.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

log = logging.getLogger("lanza.monitoring")


def start_simulation(
    url: str,
    table: Path,
    deployment: str,
    target: str,
    drift_feature: str = "mean_radius",
    drift_after: int = 300,
    pause_s: float = 0.05,
) -> threading.Thread:
    """Start the traffic thread (it stops with the process) and shorten monitoring rounds."""
    os.environ.setdefault("LANZA_MONITORING__INTERVAL_S", "3")
    frame = pd.read_csv(table)

    def run() -> None:
        try:
            with httpx.Client(base_url=url, timeout=10) as http:
                _wait_ready(http, deployment)
                _send(http, frame, deployment, target, drift_feature, drift_after, pause_s)
        except httpx.HTTPError as exc:
            log.warning("simulated traffic stopped: %s", exc)

    thread = threading.Thread(target=run, name="lanza-simulate", daemon=True)
    thread.start()
    return thread


def _wait_ready(http: httpx.Client, deployment: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http.get(f"/api/v1/deployments/{deployment}").json().get("status") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise httpx.TimeoutException(f"deployment '{deployment}' did not become ready")


def _send(
    http: httpx.Client,
    frame: pd.DataFrame,
    deployment: str,
    target: str,
    drift_feature: str,
    drift_after: int,
    pause_s: float,
    limit: int | None = None,
) -> int:
    """Send requests until ``limit`` (forever when None); returns how many were sent."""
    features = frame.drop(columns=[target])
    shift = 2 * float(features[drift_feature].std()) if drift_feature in features else 0.0
    sent = 0
    while limit is None or sent < limit:
        index = sent % len(frame)
        row = features.iloc[index].to_dict()
        if sent >= drift_after and drift_feature in row:
            row[drift_feature] += shift
        answer = http.post(
            f"/api/v1/deployments/{deployment}/predict",
            json={"instances": [row], "probabilities": True},
        )
        if answer.status_code == 200 and sent % 5 != 4:
            truth = int(frame[target].iloc[index])
            feedback = {"request_id": answer.json()["request_id"], "value": truth}
            http.post(f"/api/v1/deployments/{deployment}/feedback", json=feedback)
        sent += 1
        time.sleep(pause_s)
    return sent
