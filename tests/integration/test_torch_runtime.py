"""PyTorch and XGBoost flavours through lanza's runtime, server and batch engine.

``device=auto`` must land where the framework itself says a GPU is usable
(``torch.cuda.is_available()``, XGBoost's CUDA build), so the same tests assert ``cuda``
on a GPU machine and ``cpu`` elsewhere; tests of one case only are marked and show as
skipped, with the reason, on the other.

The network is built and trained here (a few steps on a synthetic table), saved with
MLflow's ``pytorch`` flavour and registered; nothing is downloaded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.errors import DeviceUnavailableError, UntrustedModelError
from lanza.registry import ModelVersionInfo
from lanza.runtime.devices import any_gpu
from lanza.runtime.pytorch import TorchRuntime
from lanza.runtime.rules import check_frame
from lanza.runtime.xgb import XGBoostRuntime
from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.servers import running, wait_for

torch = pytest.importorskip("torch")
COLUMNS = ["x1", "x2", "x3"]
no_gpu = pytest.mark.skipif(any_gpu(), reason="checks the error on a machine without a GPU")
TORCH_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
needs_gpu = pytest.mark.skipif(TORCH_DEVICE != "cuda", reason="needs a GPU that PyTorch can use")
# TF32 and other GPU kernels round differently from the CPU's.
RTOL = 1e-3 if TORCH_DEVICE == "cuda" else 1e-5


def _xgboost_device() -> str:
    """Where XGBoost itself can train: its CUDA build and a GPU, else the CPU."""
    import xgboost

    if TORCH_DEVICE != "cuda" or not xgboost.build_info().get("USE_CUDA"):
        return "cpu"
    return "cuda"


def _table(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=COLUMNS)
    frame["y"] = 2 * frame.x1 - frame.x2 + 0.5 * frame.x3
    return frame


def _network(frame: pd.DataFrame) -> Any:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    x = torch.tensor(frame[COLUMNS].to_numpy(np.float32))
    y = torch.tensor(frame[["y"]].to_numpy(np.float32))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(50):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimiser.step()
    return net.eval()


def register(ws: Workspace, name: str, save: Callable[[Path], None]) -> ModelVersionInfo:
    """Save a model with ``save(folder)``, log it to a run and register it."""
    client = ws.mlflow
    run = client.create_run(ws.experiment_id("tests"))
    with tempfile.TemporaryDirectory() as tmp:
        save(Path(tmp) / "model")
        client.log_artifacts(run.info.run_id, str(Path(tmp) / "model"), "model")
    client.set_terminated(run.info.run_id)
    return ws.registry.register(name, f"{run.info.artifact_uri}/model", run.info.run_id)


@pytest.fixture
def torch_home(home: Path) -> Iterator[tuple[Workspace, Any, pd.DataFrame]]:
    import mlflow.pytorch
    from mlflow.models import infer_signature

    frame = _table()
    net = _network(frame)
    ws = Workspace(
        Settings(home=home, allow_pickle=True, server=ServerSettings(poll_interval_s=0.3))
    )
    signature = infer_signature(frame[COLUMNS], frame["y"].to_numpy())

    def save(folder: Path) -> None:
        mlflow.pytorch.save_model(
            net,
            str(folder),
            serialization_format="pickle",
            signature=signature,
            pip_requirements=[],
        )

    register(ws, "net", save)
    yield ws, net, frame
    ws.close()


def _expected(net: Any, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        out: np.ndarray[Any, Any] = net(torch.tensor(frame[COLUMNS].to_numpy(np.float32))).numpy()
    return out[:, 0]


def test_pytorch_flavour_loads_and_predicts_on_cpu(
    torch_home: tuple[Workspace, Any, pd.DataFrame],
) -> None:
    ws, net, frame = torch_home
    runtime = ws.loader.load("net/1", device="auto").runtime
    assert isinstance(runtime, TorchRuntime)
    assert runtime.device == TORCH_DEVICE
    runtime.batch_rows = 64  # several slices through the network, joined in order
    prediction = runtime.predict_frame(check_frame(frame[COLUMNS], runtime.schema))
    np.testing.assert_allclose(prediction.values, _expected(net, frame), rtol=RTOL, atol=1e-5)
    assert runtime.schema.names == COLUMNS


def test_pytorch_needs_pickle_to_be_allowed(
    torch_home: tuple[Workspace, Any, pd.DataFrame], home: Path
) -> None:
    strict = Workspace(Settings(home=home))
    with pytest.raises(UntrustedModelError, match="LANZA_ALLOW_PICKLE"):
        strict.loader.load("net/1")
    strict.close()


def test_exported_network_loads_without_pickle(home: Path) -> None:
    import mlflow.pytorch

    frame = _table()
    net = _network(frame)
    ws = Workspace(Settings(home=home))  # pickle not allowed: a torch.export archive has none
    example = frame[COLUMNS].head(4).to_numpy(np.float32)

    def save(folder: Path) -> None:
        mlflow.pytorch.save_model(net, str(folder), input_example=example, pip_requirements=[])

    register(ws, "exported", save)
    runtime = ws.loader.load("exported/1").runtime
    assert isinstance(runtime, TorchRuntime)
    prediction = runtime.predict_frame(frame[COLUMNS])
    np.testing.assert_allclose(prediction.values, _expected(net, frame), rtol=1e-5, atol=1e-6)
    ws.close()


@pytest.mark.slow
def test_a_network_logged_with_a_numpy_example_is_served(home: Path) -> None:
    """MLflow's usual way to log a network (a NumPy input example, so a tensor signature):
    requests carry each row's array, the runtime stacks them into the logged shape."""
    import mlflow.pytorch

    frame = _table()
    net = _network(frame)
    ws = Workspace(Settings(home=home, server=ServerSettings(poll_interval_s=0.3)))
    example = frame[COLUMNS].head(4).to_numpy(np.float32)

    def save(folder: Path) -> None:
        mlflow.pytorch.save_model(net, str(folder), input_example=example, pip_requirements=[])

    register(ws, "tensors", save)
    with running(create_app(workspace=ws)) as url:
        created = httpx.post(
            f"{url}/api/v1/deployments", json={"name": "tensors", "model": "tensors/1"}
        )
        assert created.status_code in (200, 201), created.text
        wait_for(lambda: httpx.get(f"{url}/api/v1/deployments/tensors").json()["status"] == "ready")
        rows = frame[COLUMNS].head(5).to_numpy(np.float32).tolist()
        answer = httpx.post(f"{url}/api/v1/deployments/tensors/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(
            answer.json()["predictions"], _expected(net, frame.head(5)), rtol=1e-5, atol=1e-6
        )
    ws.close()


@no_gpu
def test_cuda_without_a_gpu_is_a_clear_error(
    torch_home: tuple[Workspace, Any, pd.DataFrame],
) -> None:
    ws, _, _ = torch_home
    with pytest.raises(DeviceUnavailableError, match="no usable GPU"):
        ws.loader.load("net/1", device="cuda")


@pytest.mark.slow
def test_server_serves_the_network_and_reports_the_device(
    torch_home: tuple[Workspace, Any, pd.DataFrame],
) -> None:
    ws, net, frame = torch_home
    with running(create_app(workspace=ws)) as url:
        created = httpx.post(
            f"{url}/api/v1/deployments", json={"name": "net", "model": "net/1", "device": "auto"}
        )
        assert created.status_code in (200, 201), created.text
        wait_for(lambda: httpx.get(f"{url}/api/v1/deployments/net").json()["status"] == "ready")
        status = httpx.get(f"{url}/api/v1/deployments/net").json()
        assert status["serving"][0]["device"] == TORCH_DEVICE
        assert status["device_requested"] == "auto"
        rows = frame[COLUMNS].head(5).to_dict(orient="records")
        answer = httpx.post(f"{url}/api/v1/deployments/net/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(
            answer.json()["predictions"], _expected(net, frame.head(5)), rtol=RTOL, atol=1e-5
        )
        metrics = httpx.get(f"{url}/metrics").text
        line = (
            f'lanza_model_device{{deployment="net",device="{TORCH_DEVICE}",model_version="net/1"}}'
        )
        assert f"{line} 1.0" in metrics
        asked = httpx.post(
            f"{url}/api/v1/deployments", json={"name": "gpu", "model": "net/1", "device": "cuda"}
        )
        if TORCH_DEVICE == "cuda":
            assert asked.status_code in (200, 201), asked.text
        else:
            assert asked.status_code == 422
            assert "no usable GPU" in asked.json()["error"]["message"]


def test_batch_scores_with_the_network_and_reports_the_device(
    torch_home: tuple[Workspace, Any, pd.DataFrame], tmp_path: Path
) -> None:
    ws, net, frame = torch_home
    source = tmp_path / "rows.parquet"
    frame[COLUMNS].to_parquet(source)
    options = BatchOptions(model="net/1", input=str(source), output=str(tmp_path / "out"))
    summary = run_batch(ws, options)
    assert summary.device == TORCH_DEVICE  # a batch job's device is auto by default
    assert summary.to_dict()["device"] == TORCH_DEVICE
    scored = pd.read_parquet(tmp_path / "out")
    np.testing.assert_allclose(scored["prediction"], _expected(net, frame), rtol=RTOL, atol=1e-5)


@pytest.mark.gpu
@needs_gpu
def test_batch_on_the_gpu_when_asked(
    torch_home: tuple[Workspace, Any, pd.DataFrame], tmp_path: Path
) -> None:
    ws, net, frame = torch_home
    source = tmp_path / "rows.parquet"
    frame[COLUMNS].to_parquet(source)
    options = BatchOptions(
        model="net/1", input=str(source), output=str(tmp_path / "out"), device="cuda"
    )
    summary = run_batch(ws, options)
    assert summary.device == "cuda"
    scored = pd.read_parquet(tmp_path / "out")
    np.testing.assert_allclose(scored["prediction"], _expected(net, frame), rtol=RTOL, atol=1e-5)


def test_xgboost_flavour_runs_from_its_own_file(home: Path) -> None:
    import mlflow.xgboost
    from mlflow.models import infer_signature
    from xgboost import XGBClassifier

    frame = _table()
    labels = (frame.y > 0).astype(int)
    model = XGBClassifier(n_estimators=20, max_depth=3).fit(frame[COLUMNS], labels)
    ws = Workspace(Settings(home=home))  # no pickle needed: XGBoost's own format

    def save(folder: Path) -> None:
        signature = infer_signature(frame[COLUMNS], labels.to_numpy())
        mlflow.xgboost.save_model(model, str(folder), signature=signature, pip_requirements=[])

    register(ws, "xgb", save)
    runtime = ws.loader.load("xgb/1", device="auto").runtime
    assert isinstance(runtime, XGBoostRuntime)
    assert runtime.device == _xgboost_device()
    prediction = runtime.predict_frame(check_frame(frame[COLUMNS], runtime.schema), True)
    np.testing.assert_array_equal(prediction.values, model.predict(frame[COLUMNS]))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, model.predict_proba(frame[COLUMNS]))
    assert prediction.classes == [0, 1]
    if _xgboost_device() == "cuda":
        assert ws.loader.load("xgb/1", device="cuda").runtime.device == "cuda"
    else:
        with pytest.raises(DeviceUnavailableError):
            ws.loader.load("xgb/1", device="cuda")
    ws.close()
