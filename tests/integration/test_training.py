"""Training end to end: the simplest adequate pick, tracked in MLflow, loadable back."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_moons

from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.zoo import load

LINEAR = {"logistic_regression", "linear_svm", "ridge_regression", "linear_svr"}
BASELINES = {"majority_baseline", "mean_baseline"}

pytestmark = pytest.mark.slow


def _load(workspace: Workspace, ref: str, monkeypatch: pytest.MonkeyPatch) -> object:
    # MLflow gates every sklearn format behind this flag, skops included.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    mlflow.set_tracking_uri(workspace.settings.tracking)
    try:
        return mlflow.pyfunc.load_model(f"models:/{ref}")
    finally:
        mlflow.set_tracking_uri(None)


def test_breast_cancer_picks_a_linear_model_and_loads_back(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    outcome = train(workspace, TrainRequest(frame, "target", "cancer"))
    assert outcome.leaderboard.selection.picked in LINEAR
    assert outcome.model.alias == "champion"
    assert "within one SE" in outcome.model.reason or "the best score" in outcome.model.reason
    model = _load(workspace, "cancer@champion", monkeypatch)
    raw = frame.drop(columns="target").head(20)
    predictions = model.predict(raw)  # type: ignore[attr-defined]
    assert (np.asarray(predictions) == frame["target"].head(20).to_numpy()).mean() > 0.9


def test_moons_picks_a_nonlinear_model(workspace: Workspace) -> None:
    x, y = make_moons(n_samples=600, noise=0.15, random_state=0)
    frame = pd.DataFrame(x, columns=["x1", "x2"]).assign(label=y)
    outcome = train(workspace, TrainRequest(frame, "label", "moons"))
    assert outcome.leaderboard.selection.picked not in LINEAR | BASELINES
    assert outcome.leaderboard.pick.mean > 0.95


def test_xor_picks_a_nonlinear_model(workspace: Workspace) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(600, 2))
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(y=((x[:, 0] > 0) ^ (x[:, 1] > 0)))
    outcome = train(workspace, TrainRequest(frame, "y", "xor"))
    assert outcome.leaderboard.selection.picked not in LINEAR | BASELINES


def test_regression_end_to_end(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = load_diabetes(as_frame=True).frame
    outcome = train(workspace, TrainRequest(frame, "target", "diabetes", time_budget=20))
    assert outcome.data.task == "regression"
    assert outcome.leaderboard.metric.name == "rmse"
    assert outcome.leaderboard.pick.mean < frame["target"].std()
    model = _load(workspace, "diabetes/1", monkeypatch)
    assert len(model.predict(frame.drop(columns="target").head(5))) == 5  # type: ignore[attr-defined]


def test_multiclass_with_categoricals_and_missing_values(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = load_wine(as_frame=True).frame
    frame["colour"] = np.where(frame["alcohol"] > 13, "deep", "light")
    frame.loc[::7, "magnesium"] = np.nan
    outcome = train(
        workspace,
        TrainRequest(frame, "target", "wine", candidates=["logistic_regression", "decision_tree"]),
    )
    assert outcome.leaderboard.metric.name == "f1_macro"
    assert [r.name for r in outcome.leaderboard.results] == ["logistic_regression", "decision_tree"]
    model = _load(workspace, "wine@champion", monkeypatch)
    raw = frame.drop(columns="target").head(3)
    assert len(model.predict(raw)) == 3  # type: ignore[attr-defined]


def test_mlflow_holds_parent_nested_runs_artifacts_and_lineage(workspace: Workspace) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    outcome = train(
        workspace,
        TrainRequest(
            frame, "target", "tracked", candidates=["majority_baseline", "logistic_regression"]
        ),
    )
    client = MlflowClient(workspace.settings.tracking)
    parent = client.get_run(outcome.model.run_id)
    assert parent.data.params["picked"] == "logistic_regression"
    children = client.search_runs(
        [outcome.model.experiment_id],
        f"tags.mlflow.parentRunId = '{outcome.model.run_id}'",
    )
    assert sorted(r.info.run_name for r in children) == ["logistic_regression", "majority_baseline"]
    artifacts = {a.path for a in client.list_artifacts(outcome.model.run_id)}
    assert {"leaderboard.json", "selection.json", "model", "reference"} <= artifacts
    board = json.loads(
        Path(client.download_artifacts(outcome.model.run_id, "leaderboard.json")).read_text()
    )
    assert [r["candidate"] for r in board] == ["majority_baseline", "logistic_regression"]
    version = workspace.registry.get_version("tracked", "1")
    assert version.tags["lanza.candidate"] == "logistic_regression"
    assert version.tags["lanza.reference"].endswith("reference/reference.parquet")
    assert parent.inputs.dataset_inputs[0].dataset.digest == outcome.data.digest
    reference = pd.read_parquet(
        client.download_artifacts(outcome.model.run_id, "reference/reference.parquet")
    )
    assert list(reference.columns) == [*frame.columns]
    mlmodel = Path(client.download_artifacts(outcome.model.run_id, "model/MLmodel")).read_text()
    assert "serialization_format: skops" in mlmodel
    assert "signature" in mlmodel


def test_second_version_is_challenger_unless_promoted(workspace: Workspace) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    quick = ["logistic_regression"]
    first = train(workspace, TrainRequest(frame, "target", "m", candidates=quick))
    second = train(workspace, TrainRequest(frame, "target", "m", candidates=quick))
    third = train(workspace, TrainRequest(frame, "target", "m", candidates=quick, promote=True))
    assert (first.model.alias, second.model.alias, third.model.alias) == (
        "champion",
        "challenger",
        "champion",
    )
    assert workspace.registry.get_model("m").aliases == {"champion": "3", "challenger": "2"}


def test_time_budget_skips_and_says_so(workspace: Workspace) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    outcome = train(workspace, TrainRequest(frame, "target", "budget", time_budget=0.0))
    assert [r.name for r in outcome.leaderboard.results] == ["majority_baseline"]
    assert all("time budget" in s.reason for s in outcome.leaderboard.skipped)
    assert len(outcome.leaderboard.skipped) >= 8


BUDGET_S = 25.0


@pytest.mark.parametrize(("table", "target"), [("penguins", "species"), ("fair", "affairs")])
def test_a_time_budget_is_kept_on_a_real_table(
    workspace: Workspace, table: str, target: str
) -> None:
    """The run's own clock, from the request to the registered model, stays within 10 %.

    Measured inside the process (a ``lanza`` command's start, seconds of imports on a
    loaded machine, comes before its clock starts; bench/train.py reports real wall
    times). Penguins (344 rows) runs without cost estimates; fair (6,366 rows) has each
    candidate's cost estimated on a sample first.
    """
    workspace.registry.check()  # the home's first-use setup is not the budget's to pay
    frame = load(table)
    outcome = train(workspace, TrainRequest(frame, target, table, time_budget=BUDGET_S))
    board = outcome.leaderboard
    assert board.seconds <= outcome.seconds <= 1.1 * BUDGET_S, (outcome.seconds, board.rows())
    # The budget went to candidates, not only to the baseline, and what it left is listed.
    assert len(board.results) >= 2, board.skipped
    assert all(s.reason for s in board.skipped)


def test_text_labels_work_with_every_candidate_and_come_back_as_labels(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    quick = ["majority_baseline", "logistic_regression", "xgboost"]
    outcome = train(workspace, TrainRequest(frame, "species", "penguins", candidates=quick))
    assert [r.name for r in outcome.leaderboard.results] == quick
    assert not outcome.leaderboard.failed
    species = ["Adelie", "Chinstrap", "Gentoo"]
    xgb = next(r for r in outcome.leaderboard.results if r.name == "xgboost")
    assert list(xgb.model.classes_) == species
    model = _load(workspace, "penguins@champion", monkeypatch)
    rows = frame.drop(columns="species").head(30).astype({"year": "float64"})  # as signed
    predicted = model.predict(rows)  # type: ignore[attr-defined]
    assert set(np.asarray(predicted)) <= set(species)


def test_yes_no_labels_and_a_failing_candidate(workspace: Workspace) -> None:
    x, y = make_moons(n_samples=300, noise=0.2, random_state=0)
    frame = pd.DataFrame(x, columns=["x1", "x2"]).assign(churned=np.where(y == 1, "yes", "no"))
    quick = ["majority_baseline", "linear_svm", "xgboost"]
    request = TrainRequest(frame, "churned", "yesno", metric="log_loss", candidates=quick)
    outcome = train(workspace, request)
    board = outcome.leaderboard
    # LinearSVC has no probabilities, so log loss cannot score it: failed, and the run goes on.
    assert [f.name for f in board.failed] == ["linear_svm"]
    assert "predict_proba" in board.failed[0].reason
    assert board.selection.picked == "xgboost"
    rows = {r["candidate"]: r for r in board.rows()}
    assert rows["linear_svm"]["status"].startswith("failed: ")
    assert list(board.pick.model.classes_) == ["no", "yes"]
    assert set(board.pick.model.predict(frame.head(20))) <= {"no", "yes"}
