"""Several server processes over one database log each monitoring round to MLflow once."""

from __future__ import annotations

import pandas as pd

from lanza.monitoring.service import Monitor
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.monitoring.conftest import FEATURES, Serve, predict


def test_only_the_lease_holder_logs_to_mlflow(
    serve: Serve, cancer: pd.DataFrame, monitored_settings: Settings
) -> None:
    quiet = monitored_settings.monitoring.model_copy(update={"interval_s": 3600})
    with serve(monitored_settings.model_copy(update={"monitoring": quiet})) as http:
        predict(http, cancer[FEATURES].head(40))
    workspaces = [Workspace(monitored_settings) for _ in range(2)]
    try:
        monitors = [Monitor(ws) for ws in workspaces]
        # The registry is shared with other tests, which may have logged rounds of 'c'.
        run_id, before = monitors[0].runs.run_of("c")
        for _ in range(2):
            for monitor in monitors:
                monitor.tick()
        # Both processes report (their own dashboards show the figures)...
        assert all(m.latest["c"]["traffic"]["requests"] == 40 for m in monitors)
        # ...but only one wrote MLflow steps: two rounds, not four.
        runs = [m.latest["c"].get("mlflow_run") for m in monitors]
        assert runs.count(run_id) == 1
        assert runs.count(None) == 1
        history = workspaces[0].mlflow.get_metric_history(run_id, "requests")
        assert sorted(m.step for m in history)[before:] == [before, before + 1]
    finally:
        for ws in workspaces:
            ws.close()


def test_a_new_process_charts_the_rounds_logged_before_it(
    serve: Serve, cancer: pd.DataFrame, monitored_settings: Settings
) -> None:
    quiet = monitored_settings.monitoring.model_copy(update={"interval_s": 3600})
    with serve(monitored_settings.model_copy(update={"monitoring": quiet})) as http:
        predict(http, cancer[FEATURES].head(35))
    first = Workspace(monitored_settings)
    try:
        earlier = Monitor(first)
        earlier.tick()
        earlier.tick()
        earlier.lease.release()  # as a clean stop does
    finally:
        first.close()
    later_ws = Workspace(monitored_settings)
    try:
        later = Monitor(later_ws)
        later.tick()
        points = later.chart("c")
    finally:
        later_ws.close()
    assert len(points) >= 3
    assert [p["requests"] for p in points[-3:]] == [35, 35, 35]
    assert all(p["p99_ms"] is not None for p in points[-3:])


def test_a_process_that_does_not_lead_never_connects_to_mlflow(
    serve: Serve, cancer: pd.DataFrame, monitored_settings: Settings
) -> None:
    """Only the lease holder logs; the chart's past is read when the dashboard asks, so the
    other workers of a server never import MLflow for monitoring."""
    quiet = monitored_settings.monitoring.model_copy(update={"interval_s": 3600})
    with serve(monitored_settings.model_copy(update={"monitoring": quiet})) as http:
        predict(http, cancer[FEATURES].head(30))
    workspaces = [Workspace(monitored_settings) for _ in range(2)]
    try:
        leader, other = (Monitor(ws) for ws in workspaces)
        leader.tick()
        other.tick()
        assert other.latest["c"]["traffic"]["requests"] == 30
        assert "runs" not in other.__dict__  # its MLflow runs were never built
        assert other.chart("c")[-1]["requests"] == 30  # the dashboard's ask reads them
        assert "runs" in other.__dict__
    finally:
        for ws in workspaces:
            ws.close()
