"""Retrain and promote over a real server: shadow trial, labels, decision, rollback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from lanza.automation.apply import Applier
from lanza.automation.loader import load_text
from lanza.automation.pipelines import PipelineRunner
from lanza.clock import utcnow
from lanza.monitoring.tables import PredictionLogRow
from lanza.server import create_app
from lanza.serving.store import DeploymentStore
from lanza.settings import AutomationSettings, MonitoringSettings, ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.integration.automation.conftest import churn_frame
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow
FEATURES = ["a", "b"]
PIPELINE = """
deployments:
  - name: churn
    model: churn@champion
pipelines:
  - name: retrain
    model: churn
    deployment: churn
    data: {data}
    target: churned
    candidates: [logistic_regression]
    folds: 2
    window: 1h
    min_labelled: 50
    margin: 0.05
    include_feedback: {feedback}
"""


def noisy(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows with labels that carry no signal."""
    return frame.assign(churned=frame["churned"].sample(frac=1, random_state=7).to_numpy())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        server=ServerSettings(poll_interval_s=0.3),
        monitoring=MonitoringSettings(flush_interval_s=0.1, interval_s=60),
        automation=AutomationSettings(enabled=False),
    )


@contextmanager
def serving(workspace: Workspace) -> Iterator[httpx.Client]:
    with running(create_app(workspace=workspace)) as url, httpx.Client(base_url=url) as http:
        made = http.post("/api/v1/deployments", json={"name": "churn", "model": "churn@champion"})
        assert made.status_code == 201, made.text
        wait_for(lambda: http.get("/api/v1/deployments/churn").json()["status"] == "ready")
        yield http


def traffic(http: httpx.Client, workspace: Workspace, rows: pd.DataFrame) -> None:
    """Predict each row, wait for the answers' log rows, then post the labels."""
    ids = []
    for record in rows[FEATURES].to_dict(orient="records"):
        answer = http.post("/api/v1/deployments/churn/predict", json={"instances": [record]})
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["request_id"])

    def logged() -> bool:
        query = select(func.count()).where(
            PredictionLogRow.request_id.in_(ids), PredictionLogRow.shadow.is_(False)
        )
        with workspace.database.session() as session:
            return session.scalar(query) == len(ids)

    wait_for(logged, timeout=60)
    items = [{"request_id": i, "value": int(v)} for i, v in zip(ids, rows["churned"], strict=True)]
    posted = http.post("/api/v1/deployments/churn/feedback", json={"items": items})
    assert posted.status_code < 300, posted.text


def run_pipeline(
    tmp_path: Path,
    settings: Settings,
    champion: pd.DataFrame,
    retrain: pd.DataFrame,
    feedback: bool,
) -> tuple[Workspace, dict[str, Any]]:
    workspace = Workspace(settings)
    train(
        workspace,
        TrainRequest(champion, "churned", "churn", candidates=["logistic_regression"], folds=2),
    )
    retrain.to_csv(tmp_path / "retrain.csv", index=False)
    text = PIPELINE.format(data=tmp_path / "retrain.csv", feedback=str(feedback).lower())
    runner = PipelineRunner(workspace, tmp_path)
    with serving(workspace) as http:
        traffic(http, workspace, churn_frame(40, seed=11))
        applied = Applier(workspace, tmp_path).apply(load_text(text))
        # the deployment made over the API is adopted by the file that names it
        assert [(c.action, c.kind) for c in applied.changes] == [
            ("adopt", "deployment"),
            ("create", "pipeline"),
        ]
        run_id = runner.start("retrain")
        assert runner.get(run_id)["state"] == "trial"
        assert DeploymentStore(workspace.database).get("churn").spec.shadow == "churn/2"
        wait_for(lambda: http.get("/api/v1/deployments/churn").json()["shadow"] == "churn/2")
        traffic(http, workspace, churn_frame(80, seed=12))
        assert runner.decide(run_id, utcnow()) == "trial"  # the window is not over yet
        state = runner.decide(run_id, utcnow() + timedelta(hours=1, seconds=1))
        runs = http.get("/api/v1/pipelines/retrain/runs").json()
        listed = http.get("/api/v1/pipelines").json()
    assert runs[0]["id"] == run_id
    assert runs[0]["state"] == state
    assert listed[0]["latest_run"]["id"] == run_id
    return workspace, runs[0]


def steps(run: dict[str, Any]) -> list[str]:
    return [s["step"] for s in run["detail"]["steps"]]


def test_a_better_model_is_promoted_and_can_be_rolled_back(
    tmp_path: Path, settings: Settings
) -> None:
    good = churn_frame(200, seed=1)
    workspace, run = run_pipeline(tmp_path, settings, noisy(good), good, feedback=True)
    try:
        assert run["state"] == "promoted", run["reason"]
        assert run["reason"].startswith("Promoted the challenger: accuracy ")
        assert "on 80 labelled rows" in run["reason"]
        assert steps(run) == ["start", "train", "register", "trial", "decide"]
        assert run["detail"]["steps"][1]["rows"] == 240  # 200 table rows + 40 labelled
        decision = run["detail"]["steps"][-1]
        assert decision["challenger"] > decision["champion"] + 0.05
        assert workspace.registry.resolve("churn@champion").version == "2"
        assert "challenger" not in workspace.registry.get_model("churn").aliases
        assert DeploymentStore(workspace.database).get("churn").spec.shadow is None
        mlflow_run = workspace.mlflow.get_run(run["mlflow_run_id"])
        assert mlflow_run.data.tags["decision"] == "promoted"
        assert mlflow_run.data.metrics["labelled"] == 80
        workspace.registry.rollback("churn")
        assert workspace.registry.resolve("churn@champion").version == "1"
    finally:
        workspace.close()


def test_a_worse_model_keeps_the_champion_and_says_why(tmp_path: Path, settings: Settings) -> None:
    good = churn_frame(200, seed=1)
    workspace, run = run_pipeline(tmp_path, settings, good, noisy(good), feedback=False)
    try:
        assert run["state"] == "kept"
        assert run["reason"].startswith("Kept the champion: accuracy ")
        assert run["reason"].endswith("the challenger is not better by more than 0.05.")
        assert run["detail"]["steps"][1]["rows"] == 200
        decision = run["detail"]["steps"][-1]
        assert decision["challenger"] < decision["champion"]
        assert decision["labelled"] == 80
        assert workspace.registry.resolve("churn@champion").version == "1"
        assert workspace.registry.resolve("churn@challenger").version == "2"
        assert DeploymentStore(workspace.database).get("churn").spec.shadow is None
        tags = workspace.mlflow.get_run(run["mlflow_run_id"]).data.tags
        assert tags["decision"] == "kept"
        assert tags["reason"] == run["reason"]
    finally:
        workspace.close()
