"""What starts a pipeline besides a person: an alert firing and its schedule."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from lanza.automation.apply import Applier
from lanza.automation.evidence import compare
from lanza.automation.loader import load_text
from lanza.automation.pipelines import PipelineRunner
from lanza.automation.scheduler import Scheduler
from lanza.clock import utcnow
from lanza.monitoring.feedback import FeedbackItem, FeedbackStore
from lanza.monitoring.tables import AlertEventRow, PredictionLogRow
from lanza.serving.store import DeploymentStore
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.integration.automation.conftest import churn_frame

FILE = """
deployments:
  - name: churn
    model: churn@champion
pipelines:
  - name: retrain
    model: churn
    deployment: churn
    data: churn.csv
    target: churned
    candidates: [logistic_regression]
    folds: 2
    min_labelled: 10
    triggers:
      every: 1d
      alerts: [drift_share]
"""


@pytest.mark.slow
def test_alert_and_schedule_start_runs(workspace: Workspace, tmp_path: Path) -> None:
    frame = churn_frame(60)
    project = tmp_path / "project"  # not the working directory: paths start at the file
    project.mkdir()
    frame.to_csv(project / "churn.csv", index=False)
    train(workspace, TrainRequest(frame, "churned", "churn", candidates=["logistic_regression"]))
    clock_now = [datetime(2026, 11, 27, tzinfo=UTC)]
    Applier(workspace, project, lambda: clock_now[0]).apply(load_text(FILE))
    runner = PipelineRunner(workspace)
    runner.watch()
    assert runner.runs("retrain") == []

    with workspace.database.session() as session:
        session.add(
            AlertEventRow(
                rule_id="r1",
                deployment="churn",
                metric="drift_share",
                value=0.6,
                threshold=0.3,
                comparison=">",
                delivered=False,
                created_at=utcnow(),
            )
        )
    runner.watch()
    (run,) = runner.runs("retrain")
    assert (run["trigger"], run["state"]) == ("alert:drift_share", "trial")
    assert DeploymentStore(workspace.database).get("churn").spec.shadow == "churn/2"
    runner.watch()  # a run is in progress and the alert is the same: nothing new
    assert len(runner.runs("retrain")) == 1

    # two server workers decide at once: one decision is made and recorded
    other = Workspace(workspace.settings)
    runners = [runner, PipelineRunner(other)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(each: PipelineRunner) -> None:
        barrier.wait()
        outcomes.append(each.decide(run["id"], force=True))

    threads = [threading.Thread(target=decide, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert "kept" in outcomes
    decided = runner.get(run["id"])
    assert decided["state"] == "kept"
    assert [s["step"] for s in decided["detail"]["steps"]].count("decide") == 1
    assert decided["reason"] == (
        "Kept the champion: only 0 labelled requests in the window, and 10 are needed to judge."
    )
    assert DeploymentStore(workspace.database).get("churn").spec.shadow is None
    runner.watch()  # the alert was handled by the run before
    assert len(runner.runs("retrain")) == 1

    clock_now[0] = datetime(2026, 11, 28, 0, 0, 30, tzinfo=UTC)
    (firing,) = Scheduler(workspace, lambda: clock_now[0], pipelines=runner).tick()
    assert (firing.kind, firing.state) == ("pipeline", "started")
    latest = runner.runs("retrain")[0]
    assert latest["trigger"] == "schedule"
    assert latest["due_at"].startswith("2026-11-28T00:00")


def test_shadow_and_canary_evidence(workspace: Workspace) -> None:
    since = utcnow()
    rows = [
        # request, shadow, model, prediction
        ("r1", False, "m/1", [1]),
        ("r1", True, "m/2", [0]),
        ("r2", False, "m/1", [1]),
        ("r2", True, "m/2", [1]),
        ("r3", False, "m/2", [0]),
    ]
    with workspace.database.session() as session:
        for request_id, shadow, model, prediction in rows:
            session.add(
                PredictionLogRow(
                    request_id=request_id,
                    deployment="d",
                    model=model,
                    face="native",
                    created_at=utcnow(),
                    features='{"a": [1.0]}',
                    prediction=str(prediction),
                    latency_ms=1.0,
                    shadow=shadow,
                )
            )
    truth = {"r1": 0, "r2": 1, "r3": 0}
    FeedbackStore(workspace.database).record(
        "d", [FeedbackItem(request_id=k, value=v) for k, v in truth.items()]
    )
    replayed: list[int] = []

    def replay(frame: object) -> list[int]:
        replayed.append(len(frame))  # type: ignore[arg-type]
        return [0]

    shadow = compare(workspace.database, "d", since, "accuracy", "m/2", False, replay)
    # r1 and r2 have shadow rows; r3 (answered by m/2 itself) is replayed.
    assert (shadow.champion, shadow.challenger, shadow.labelled) == (2 / 3, 1.0, 3)
    assert replayed == [1]
    canary = compare(workspace.database, "d", since, "accuracy", "m/2", True)
    assert (canary.champion, canary.challenger, canary.labelled) == (0.5, 1.0, 1)
    with workspace.database.session() as session:
        assert len(session.scalars(select(PredictionLogRow)).all()) == 5
