"""``lanza optimize``: ONNX conversion with parity and speed checks, registered and served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.errors import ConversionError
from lanza.optimize.service import optimize
from lanza.registry import ModelVersionInfo
from lanza.runtime.onnxrt import OnnxRuntime
from lanza.runtime.rules import check_frame
from lanza.settings import Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")


def register(ws: Workspace, name: str, save: Callable[[Path], None]) -> ModelVersionInfo:
    """Save a model with ``save(folder)``, log it to a run and register it."""
    client = ws.mlflow
    run = client.create_run(ws.experiment_id("tests"))
    with tempfile.TemporaryDirectory() as tmp:
        save(Path(tmp) / "model")
        client.log_artifacts(run.info.run_id, str(Path(tmp) / "model"), "model")
    client.set_terminated(run.info.run_id)
    return ws.registry.register(name, f"{run.info.artifact_uri}/model", run.info.run_id)


def _table(rows: int = 600) -> pd.DataFrame:
    """Numbers and a text column with missing values, as lanza's pipelines take them."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, rows),
            "age": rng.integers(18, 80, rows),
            "channel": rng.choice(["web", "shop", "phone", None], rows).astype(object),
        }
    )
    frame.loc[rng.random(rows) < 0.1, "amount"] = np.nan
    score = frame.amount.fillna(50) / 10 - frame.age / 20 + (frame.channel == "web") * 1.5
    frame["fraud"] = (score + rng.normal(0, 0.5, rows) > 1.5).astype(int)
    return frame


@pytest.fixture
def trained(home: Path) -> Iterator[tuple[Workspace, pd.DataFrame]]:
    ws = Workspace(Settings(home=home))
    frame = _table()
    train(ws, TrainRequest(frame, "fraud", "fraud", candidates=["logistic_regression"], folds=2))
    yield ws, frame
    ws.close()


def test_optimize_registers_an_onnx_version_that_matches(
    trained: tuple[Workspace, pd.DataFrame], tmp_path: Path
) -> None:
    ws, frame = trained
    result = optimize(ws, "fraud/1", seconds=0.2)
    assert result.created.ref == "fraud/2"
    assert result.parity.ok
    assert result.parity.rows == len(frame)
    assert result.parity.max_abs_diff < 1e-4
    assert result.parity.label_mismatches == 0
    assert any("MISSING" in r or "__lanza_missing__" in r for r in result.rewrites)
    assert result.speed.single_after_s > 0
    assert result.speed.batch_after_s > 0
    tags = ws.registry.get_version("fraud", "2").tags
    assert tags["lanza.optimized_from"] == "fraud/1"
    assert tags["lanza.runtime"] == "onnxruntime"
    assert float(tags["lanza.onnx.max_abs_diff"]) == pytest.approx(
        result.parity.max_abs_diff, rel=1e-2
    )
    assert "lanza.onnx.single_speedup" in tags
    assert tags["lanza.reference"] == ws.registry.get_version("fraud", "1").tags["lanza.reference"]
    assert ws.registry.get_model("fraud").aliases == {"champion": "1"}  # no alias moved

    onnx = ws.loader.load("fraud/2").runtime
    original = ws.loader.load("fraud/1").runtime
    assert isinstance(onnx, OnnxRuntime)
    rows = check_frame(frame.drop(columns="fraud").head(50), onnx.schema)
    got, want = onnx.predict_frame(rows, True), original.predict_frame(rows, True)
    np.testing.assert_array_equal(got.values, want.values)
    assert got.probabilities is not None
    assert want.probabilities is not None
    np.testing.assert_allclose(got.probabilities, want.probabilities, atol=1e-5)
    assert got.classes == [0, 1]

    source = tmp_path / "rows.csv"
    frame.drop(columns="fraud").to_csv(source, index=False)
    out = tmp_path / "scored"
    summary = run_batch(ws, BatchOptions("fraud/2", str(source), str(out), probabilities=True))
    assert summary.rows == len(frame)
    assert summary.errors == 0
    assert summary.device == "cpu"
    scored = pd.read_parquet(out)
    expected = original.predict_frame(check_frame(frame.drop(columns="fraud"), original.schema))
    np.testing.assert_array_equal(scored["prediction"], expected.values)


def test_a_model_without_a_converter_gets_a_reason(home: Path) -> None:
    ws = Workspace(Settings(home=home))
    frame = _table(200)
    train(ws, TrainRequest(frame, "fraud", "base", candidates=["majority_baseline"], folds=2))
    with pytest.raises(ConversionError, match="DummyClassifier is a baseline that ignores"):
        optimize(ws, "base/1", seconds=0.1)
    assert [v.version for v in ws.registry.list_versions("base")] == ["1"]
    ws.close()


def test_parity_failure_registers_nothing(trained: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = trained
    with pytest.raises(ConversionError, match="differ by up to") as caught:
        optimize(ws, "fraud/1", tolerance=0.0, seconds=0.1)
    assert "nothing was registered" in caught.value.message
    assert [v.version for v in ws.registry.list_versions("fraud")] == ["1"]


def test_xgboost_and_lightgbm_models_convert(home: Path, tmp_path: Path) -> None:
    pytest.importorskip("lightgbm")
    import mlflow.lightgbm
    import mlflow.xgboost
    from lightgbm import LGBMRegressor
    from mlflow.models import infer_signature
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "d"])
    labels = (features.a + features.b > 0).astype(int)
    ws = Workspace(Settings(home=home, allow_pickle=True))  # mlflow.lightgbm pickles sklearn API
    reference = tmp_path / "reference.parquet"
    features.to_parquet(reference)
    models = {
        "xgb": (mlflow.xgboost, XGBClassifier(n_estimators=20).fit(features, labels)),
        "lgbm": (mlflow.lightgbm, LGBMRegressor(n_estimators=20, verbose=-1).fit(features, labels)),
    }
    for name, (flavour, model) in models.items():
        signature = infer_signature(features, model.predict(features))
        register(
            ws,
            name,
            lambda folder, f=flavour, m=model, s=signature: f.save_model(
                m, str(folder), signature=s, pip_requirements=[]
            ),
        )
        ws.registry.set_tags(name, "1", {"lanza.reference": str(reference)})
        result = optimize(ws, f"{name}/1", seconds=0.1)
        assert result.parity.ok, result.parity
        runtime = ws.loader.load(result.created.ref).runtime
        assert isinstance(runtime, OnnxRuntime)
        got = runtime.predict_frame(check_frame(features, runtime.schema)).values
        np.testing.assert_allclose(got, model.predict(features), rtol=1e-5, atol=1e-5)
    ws.close()


@pytest.mark.slow
def test_cli_prints_parity_and_speed(trained: tuple[Workspace, pd.DataFrame], home: Path) -> None:
    env = {**os.environ, "LANZA_HOME": str(home)}
    run = [sys.executable, "-m", "lanza", "optimize"]
    done = subprocess.run(
        [*run, "fraud@champion", "--seconds", "0.2", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source"] == "fraud/1"
    assert report["model"] == "fraud/2"
    assert report["parity"]["max_abs_diff"] < 1e-4
    assert report["speed"]["single_speedup"] > 0
    again = subprocess.run(
        [*run, "fraud/2"], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert again.returncode == 1
    assert "already runs with ONNX Runtime" in again.stderr + again.stdout
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_server_answers_with_the_onnx_version(trained: tuple[Workspace, pd.DataFrame]) -> None:
    import httpx

    from lanza.server import create_app
    from tests.servers import running, wait_for

    ws, frame = trained
    optimize(ws, "fraud/1", seconds=0.1)
    original = ws.loader.load("fraud/1").runtime
    rows = frame.drop(columns="fraud").head(8)
    expected = original.predict_frame(check_frame(rows, original.schema)).values.tolist()
    with running(create_app(workspace=ws)) as url:
        created = httpx.post(
            f"{url}/api/v1/deployments", json={"name": "fraud", "model": "fraud/2"}
        )
        assert created.status_code in (200, 201), created.text
        wait_for(lambda: httpx.get(f"{url}/api/v1/deployments/fraud").json()["status"] == "ready")
        records = json.loads(rows.to_json(orient="records"))
        answer = httpx.post(f"{url}/api/v1/deployments/fraud/predict", json={"instances": records})
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "fraud/2"
        assert answer.json()["predictions"] == expected
        status = httpx.get(f"{url}/api/v1/deployments/fraud").json()
        assert status["serving"][0]["device"] == "cpu"


REFUSED = {
    "majority_baseline": "baseline that ignores its inputs",
    "mean_baseline": "baseline that ignores its inputs",
    "knn": "ignores weights='distance'",
}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_candidate_converts_with_parity_or_says_why(home: Path, task: str) -> None:
    """Each candidate lanza train can pick, on a table with missing numbers and text."""
    from lanza.training.candidates import candidate_names

    ws = Workspace(Settings(home=home))
    frame = _table(300)
    target = "fraud"
    if task == "regression":
        frame = frame.assign(spend=frame.amount.fillna(40) * 3 + frame.age).drop(columns="fraud")
        target = "spend"
    outcomes: dict[str, str] = {}
    for name in candidate_names(task):  # type: ignore[arg-type]
        model = f"{task[:3]}-{name}"
        train(ws, TrainRequest(frame, target, model, candidates=[name], folds=2))
        if name in REFUSED:
            with pytest.raises(ConversionError, match=REFUSED[name]) as refused:
                optimize(ws, f"{model}/1", seconds=0.05)
            assert "\n" not in refused.value.message
            assert [v.version for v in ws.registry.list_versions(model)] == ["1"]
            outcomes[name] = "refused"
            continue
        result = optimize(ws, f"{model}/1", seconds=0.05)
        outcomes[name] = "converted"
        assert result.parity.ok, (name, result.parity)
        assert result.parity.rows == len(frame)
        assert result.parity.label_mismatches == 0
        assert result.speed.single_before_s > 0
        assert result.speed.single_after_s > 0
        assert result.speed.batch_after_s > 0
    assert sum(o == "converted" for o in outcomes.values()) >= len(outcomes) - len(REFUSED)
    ws.close()


def _penguins() -> pd.DataFrame:
    """Palmer penguins: text labels, two categorical columns, missing values."""
    from palmerpenguins import load_penguins

    frame: pd.DataFrame = load_penguins().drop(columns="year")
    return frame


@pytest.mark.slow
def test_boosting_on_penguins_converts_with_text_labels(home: Path) -> None:
    """HistGradientBoosting and XGBoost as lanza train fits them on a real table."""
    pytest.importorskip("palmerpenguins")
    ws = Workspace(Settings(home=home))
    frame = _penguins()
    features = frame.drop(columns="species")
    for name in ("hist_gradient_boosting", "xgboost"):
        train(ws, TrainRequest(frame, "species", name, candidates=[name], folds=2))
        result = optimize(ws, f"{name}/1", seconds=0.05)
        assert result.parity.ok, (name, result.parity)
        assert result.parity.label_mismatches == 0
        assert result.sample_source == "reference sample"
        onnx = ws.loader.load(result.created.ref).runtime
        assert isinstance(onnx, OnnxRuntime)
        original = ws.loader.load(f"{name}/1").runtime
        raw = original.model  # type: ignore[attr-defined]
        labels = onnx.predict_frame(check_frame(features, onnx.schema)).values
        assert list(labels) == list(raw.predict(features))
        assert set(labels) <= {"Adelie", "Chinstrap", "Gentoo"}
    ws.close()


def _log_with_mlflow(ws: Workspace, name: str, log: Callable[[], None]) -> None:
    """Log and register a model with MLflow's own API, as a user who never ran lanza train."""
    import mlflow

    mlflow.set_tracking_uri(str(ws.mlflow.tracking_uri))
    try:
        with mlflow.start_run():
            log()
    finally:  # MLflow's tracking URI is process-wide: later tests must not inherit it
        mlflow.set_tracking_uri(None)


def test_models_registered_with_mlflow_alone_convert(home: Path) -> None:
    """No reference sample: parity is checked on the input example MLflow saved."""
    pytest.importorskip("lightgbm")
    import mlflow.lightgbm
    import mlflow.xgboost
    from lightgbm import LGBMClassifier
    from xgboost import XGBRegressor

    frame = _penguins().dropna()
    numbers = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    numbers = numbers.astype("float64")
    classifier = LGBMClassifier(n_estimators=20, verbose=-1).fit(numbers, frame.species)
    regressor = XGBRegressor(n_estimators=20).fit(numbers.iloc[:, :3], numbers.body_mass_g)
    ws = Workspace(Settings(home=home, allow_pickle=True))  # mlflow.lightgbm pickles
    _log_with_mlflow(
        ws,
        "lgbm",
        lambda: mlflow.lightgbm.log_model(
            classifier, name="model", input_example=numbers.head(20), registered_model_name="lgbm"
        ),
    )
    _log_with_mlflow(
        ws,
        "xgb",
        lambda: mlflow.xgboost.log_model(
            regressor,
            name="model",
            input_example=numbers.iloc[:20, :3],
            registered_model_name="xgb",
        ),
    )
    for name, model, columns in (
        ("lgbm", classifier, numbers),
        ("xgb", regressor, numbers.iloc[:, :3]),
    ):
        result = optimize(ws, f"{name}/1", seconds=0.05)
        assert result.parity.ok, (name, result.parity)
        assert result.sample_source == "input example"
        assert result.parity.rows == 20
        assert ws.registry.get_version(name, "2").tags["lanza.onnx.parity_sample"] == (
            "input example"
        )
        runtime = ws.loader.load(result.created.ref).runtime
        got = runtime.predict_frame(check_frame(columns, runtime.schema)).values
        if name == "lgbm":
            assert list(got) == list(model.predict(columns))
        else:
            np.testing.assert_allclose(got, model.predict(columns), rtol=1e-5)
    ws.close()


def test_native_categorical_splits_are_refused(home: Path) -> None:
    """skl2onnx has no categorical splits: converting would read categories as numbers."""
    import mlflow.sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _penguins().dropna()
    features = frame[["bill_length_mm", "flipper_length_mm"]].assign(
        island=frame.island.astype("category").cat.codes.astype("float64")
    )
    model = HistGradientBoostingClassifier(
        categorical_features=[False, False, True], max_iter=20, random_state=0
    ).fit(features, frame.species)
    ws = Workspace(Settings(home=home, allow_pickle=True))
    _log_with_mlflow(
        ws,
        "hgb",
        lambda: mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=features.head(20),
            registered_model_name="hgb",
            serialization_format="pickle",
        ),
    )
    with pytest.raises(ConversionError, match="has no categorical splits") as refused:
        optimize(ws, "hgb/1", seconds=0.05)
    assert "\n" not in refused.value.message
    assert [v.version for v in ws.registry.list_versions("hgb")] == ["1"]
    ws.close()


def test_steps_without_a_converter_are_named(home: Path) -> None:
    """Dates and free text become numbers through lanza's own steps, which ONNX lacks."""
    rng = np.random.default_rng(0)
    rows = 300
    words = np.array(["great", "bad", "slow", "fast", "refund", "love", "broken", "late"])
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, rows),
            "signup": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "review": [" ".join(rng.choice(words, 6)) for _ in range(rows)],
        }
    )
    frame["label"] = np.where(frame.review.str.contains("bad|broken"), "churn", "stay")
    ws = Workspace(Settings(home=home))
    train(ws, TrainRequest(frame, "label", "mixed", candidates=["logistic_regression"], folds=2))
    with pytest.raises(ConversionError) as refused:
        optimize(ws, "mixed/1", seconds=0.05)
    assert refused.value.message == (
        "mixed/1 cannot be converted to ONNX: there is no ONNX converter for DateParts "
        "(date columns) and TextVectors (free-text columns) in its pipeline."
    )
    assert [v.version for v in ws.registry.list_versions("mixed")] == ["1"]
    ws.close()


@pytest.mark.slow
def test_a_tensor_signature_model_converts_and_serves(home: Path) -> None:
    """Fitted on a NumPy matrix and logged with MLflow: one tensor in, the same answers out."""
    import httpx
    import mlflow.sklearn
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from lanza.server import create_app
    from tests.servers import running, wait_for

    features, labels = load_wine(return_X_y=True)
    matrix = features.astype(np.float32)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(matrix, labels)
    ws = Workspace(Settings(home=home))
    _log_with_mlflow(
        ws,
        "wine",
        lambda: mlflow.sklearn.log_model(
            model, name="model", input_example=matrix[:30], registered_model_name="wine"
        ),
    )
    result = optimize(ws, "wine/1", seconds=0.05)
    assert result.parity.ok, result.parity
    assert result.sample_source == "input example"
    assert result.parity.rows == 30
    with running(create_app(workspace=ws)) as url:
        created = httpx.post(f"{url}/api/v1/deployments", json={"name": "wine", "model": "wine/2"})
        assert created.status_code in (200, 201), created.text
        wait_for(lambda: httpx.get(f"{url}/api/v1/deployments/wine").json()["status"] == "ready")
        rows = matrix[::10]
        answer = httpx.post(
            f"{url}/api/v1/deployments/wine/predict", json={"instances": rows.tolist()}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "wine/2"
        assert answer.json()["predictions"] == model.predict(rows).tolist()
    ws.close()
