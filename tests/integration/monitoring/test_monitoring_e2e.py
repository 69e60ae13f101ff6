"""Monitoring over a real server: the log, drift, ground truth, alerts, MLflow, Prometheus."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from lanza.monitoring.tables import PredictionLogRow
from lanza.settings import MonitoringSettings, Settings
from lanza.store import Database
from lanza.workspace import Workspace
from tests.integration.monitoring.conftest import FEATURES, Serve, predict, report_after
from tests.servers import wait_for

pytestmark = pytest.mark.slow


def _drifted(report: dict[str, Any]) -> dict[str, bool]:
    return {f["column"]: f["drifted"] for f in report["drift"]["features"]}


def test_reference_traffic_shows_no_drift(serve: Serve, cancer: pd.DataFrame) -> None:
    rows = cancer[FEATURES].sample(200, random_state=1)
    with serve() as http:
        bad = http.post("/api/v1/deployments/c/predict", json={"instances": [{"x": 1}]})
        assert bad.status_code == 422
        predict(http, rows, per_request=10)
        report = report_after(http, 20)
    assert (report["errors"]["total"], report["errors"]["requests"]) == (1, 21)
    assert report["drift"]["rows"] == 200
    assert _drifted(report) == dict.fromkeys(FEATURES, False)
    assert report["drift"]["dataset_drift"] is False
    assert report["drift"]["prediction"]["drifted"] is False
    assert report["serving"] == {"cancer/1": 20}
    assert report["health"]["status"] == "healthy", report["health"]


def test_a_round_counts_requests_the_writer_has_not_written_yet(
    serve: Serve, cancer: pd.DataFrame, monitored_settings: Settings
) -> None:
    """The writer's clock is a minute; a round flushes the log first, so nothing is missed."""
    slow_writer = monitored_settings.model_copy(
        update={
            "monitoring": monitored_settings.monitoring.model_copy(update={"flush_interval_s": 60})
        }
    )
    with serve(slow_writer) as http:
        predict(http, cancer[FEATURES].head(12), per_request=1)
        report = report_after(http, 12)
    assert report["traffic"]["requests"] == 12


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A small local HTTP server that records the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_shifted_feature_drifts_alone_and_alerts(
    serve: Serve,
    cancer: pd.DataFrame,
    receiver: tuple[str, list[dict[str, Any]]],
    monitored_settings: Settings,
) -> None:
    hook, received = receiver
    rows = cancer[FEATURES].sample(200, random_state=2)
    rows["mean_texture"] += 3 * cancer["mean_texture"].std()
    with serve() as http:
        rule = {
            "metric": "drift_share",
            "comparison": ">=",
            "threshold": 0.25,
            "cooldown_s": 3600,
            "webhook_url": hook,
        }
        made = http.post("/api/v1/deployments/c/alerts", json=rule)
        assert made.status_code == 201, made.text
        bad = http.post("/api/v1/deployments/c/alerts", json={**rule, "metric": "nope"})
        assert bad.status_code == 422
        assert "Unknown alert metric 'nope'" in bad.json()["error"]["message"]
        predict(http, rows, per_request=10)
        report = report_after(http, 20)
        wait_for(lambda: len(received) >= 1)
        expected = dict.fromkeys(FEATURES, False) | {"mean_texture": True}
        assert _drifted(report) == expected
        assert report["drift"]["share"] == 0.25
        assert report["drift"]["dataset_drift"] is False
        wait_for(lambda: http.get("/api/v1/deployments/c/alerts").json()["history"])
        alerts = http.get("/api/v1/deployments/c/alerts").json()
        assert alerts["history"][0]["metric"] == "drift_share"
        assert alerts["history"][0]["delivered"] is True
        metrics = http.get("/metrics").text
        assert 'lanza_feature_drifted{deployment="c",feature="mean_texture"} 1.0' in metrics
        assert 'lanza_feature_drifted{deployment="c",feature="mean_radius"} 0.0' in metrics
        assert 'lanza_deployment_health{deployment="c"} 1.0' in metrics
        assert report["health"]["status"] == "watch"
        reasons = [r["text"] for r in report["health"]["reasons"]]
        drift = [r for r in reasons if r.startswith("1 of 4 features drift: mean_texture moved")]
        assert drift, reasons
        rule_id = made.json()["id"]
        assert http.delete(f"/api/v1/deployments/c/alerts/{rule_id}").status_code == 204
        assert http.get("/api/v1/deployments/c/alerts").json()["rules"] == []
    assert len(received) == 1  # the cool-down held it to one call
    assert received[0]["metric"] == "drift_share"
    assert received[0]["value"] == 0.25
    _check_mlflow(monitored_settings)


def _check_mlflow(settings: Settings) -> None:
    ws = Workspace(settings)
    client = ws.mlflow
    experiment = client.get_experiment_by_name("lanza-monitoring")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`lanza.deployment` = 'c'")
    assert len(runs) == 1
    history = client.get_metric_history(runs[0].info.run_id, "drift_mean_texture")
    steps = [m.step for m in history]
    assert steps
    assert steps == sorted(set(steps))
    assert max(history, key=lambda m: m.step).value > 0.1  # the shift's effect size in SDs
    p_values = client.get_metric_history(runs[0].info.run_id, "drift_p_mean_texture")
    assert max(p_values, key=lambda m: m.step).value < 0.01
    assert "health" in runs[0].data.metrics
    assert "latency_p99_ms" in runs[0].data.metrics
    tags = client.get_model_version("cancer", "1").tags
    assert tags["lanza.monitoring_run"] == runs[0].info.run_id
    ws.close()


def test_feedback_gives_known_accuracy(serve: Serve, cancer: pd.DataFrame) -> None:
    rows = cancer[FEATURES].head(40)
    with serve() as http:
        answers = predict(http, rows)
        items = []
        for index, answer in enumerate(answers):
            predicted = answer["predictions"][0]  # type: ignore[index]
            truth = predicted if index < 30 else 1 - predicted  # type: ignore[operator]
            items.append({"request_id": answer["request_id"], "value": truth})
        one = http.post("/api/v1/deployments/c/feedback", json=items[0])
        assert one.status_code == 200, one.text
        bulk = http.post("/api/v1/deployments/c/feedback", json={"items": items[1:]})
        assert bulk.json() == {"accepted": 39}
        unknown = http.post(
            "/api/v1/deployments/c/feedback", json={"request_id": "nope", "value": 1}
        )
        assert unknown.status_code == 404
        assert "'nope'" in unknown.json()["error"]["message"]

        def scored() -> bool:
            return bool(
                http.get("/api/v1/deployments/c/monitoring").json()["quality"]["labelled"] == 40
            )

        wait_for(scored)
        quality = http.get("/api/v1/deployments/c/monitoring").json()["quality"]
    assert quality["metrics"]["accuracy"] == pytest.approx(0.75)
    assert "f1" in quality["metrics"]
    assert "roc_auc" in quality["metrics"]
    assert quality["training"]["metric"]
    assert 0.5 < quality["training"]["cv_mean"] <= 1


def test_restart_keeps_the_log(
    serve: Serve, cancer: pd.DataFrame, monitored_settings: Settings
) -> None:
    slow = monitored_settings.model_copy(
        update={"monitoring": MonitoringSettings(flush_interval_s=60, interval_s=60)}
    )
    with serve(slow) as http:
        answers = predict(http, cancer[FEATURES].head(15))
    database = Database(monitored_settings.database)
    with database.session() as session:
        stored = session.scalars(select(PredictionLogRow.request_id)).all()
        count = session.scalar(select(func.count()).select_from(PredictionLogRow))
    database.dispose()
    assert count == 15  # written on stop, though the flush interval had not come
    assert set(stored) == {a["request_id"] for a in answers}
    with serve(create=False) as http:
        report = http.get("/api/v1/deployments/c/monitoring").json()
        assert report["traffic"]["requests"] == 15
        assert report["serving"] == {"cancer/1": 15}


def test_alert_rules_of_an_unknown_deployment_are_404_and_metrics_documented(
    serve: Serve, cancer: pd.DataFrame
) -> None:
    with serve() as http:
        assert http.get("/api/v1/deployments/c/alerts").status_code == 200
        missing = http.get("/api/v1/deployments/nobody/alerts")
        assert missing.status_code == 404, missing.text
        assert "nobody" in missing.json()["error"]["message"]
        # A deleted deployment's monitoring history stays readable; its rules go with it.
        made = http.post("/api/v1/deployments", json={"name": "gone", "model": "cancer/1"})
        assert made.status_code == 201, made.text
        wait_for(lambda: http.get("/api/v1/deployments/gone").json()["status"] == "ready")
        rows = cancer[FEATURES].head(3).to_dict(orient="records")
        answered = http.post("/api/v1/deployments/gone/predict", json={"instances": rows})
        assert answered.status_code == 200, answered.text
        rule = {"metric": "error_rate", "threshold": 0.5}
        assert http.post("/api/v1/deployments/gone/alerts", json=rule).status_code == 201
        assert http.delete("/api/v1/deployments/gone").status_code == 204
        wait_for(lambda: http.get("/api/v1/deployments/gone/monitoring").status_code == 200)
        assert http.get("/api/v1/deployments/gone/alerts").status_code == 404
        assert http.post("/api/v1/deployments/gone/alerts", json=rule).status_code == 404
        # A new deployment of that name starts without the old one's rules.
        again = http.post("/api/v1/deployments", json={"name": "gone", "model": "cancer/1"})
        assert again.status_code == 201, again.text
        assert http.get("/api/v1/deployments/gone/alerts").json()["rules"] == []
        # The document's pattern for a rule's metric is what a create takes.
        document = http.get("/openapi.json").json()
        pattern = document["components"]["schemas"]["AlertRule"]["properties"]["metric"]
        for metric, documented in [("drift_share", True), ("drift.x", True), ("nope", False)]:
            assert bool(re.search(pattern["pattern"], metric)) is documented
            rule = {"metric": metric, "threshold": 1}
            made = http.post("/api/v1/deployments/c/alerts", json=rule)
            assert (made.status_code == 201) is documented, made.text
        huge = http.post(
            "/api/v1/deployments/c/alerts",
            json={"metric": "error_rate", "threshold": 1, "window": 2**70},
        )
        assert huge.status_code == 422, huge.text
        assert "window" in huge.text
