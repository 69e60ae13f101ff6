"""Open Inference v2 with Triton's own clients, unchanged: gRPC and REST, column and tensor
models, FP32/FP64/INT64/BYTES inputs, raw contents, binary outputs, compression, model
config and repository index; and tensor models on the MLflow and Vertex faces."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from lanza.security.keys import KeyStore
from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.conftest import CANCER_FEATURES
from tests.servers import free_port, running, wait_for

pytestmark = pytest.mark.slow


@dataclass
class Server:
    """A lanza server with HTTP and gRPC ports, and its workspace."""

    url: str
    grpc: str
    workspace: Workspace


def _register(tracking: str, artifacts: Path, cancer: pd.DataFrame) -> None:
    mlflow.set_tracking_uri(tracking)
    try:
        experiment = mlflow.create_experiment("v2", artifact_location=artifacts.as_uri())
        x, y = cancer[CANCER_FEATURES], cancer["target"]
        with mlflow.start_run(experiment_id=experiment):
            _log_cols(x, y)
            tensor = LogisticRegression(max_iter=5000).fit(x.to_numpy(), y)
            mlflow.sklearn.log_model(
                tensor,
                name="t",
                input_example=x.to_numpy()[:2],
                registered_model_name="tensor",
                pip_requirements=[],
            )
            text = _text_frame()
            pipeline = Pipeline(
                [
                    (
                        "encode",
                        ColumnTransformer(
                            [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])],
                            remainder="passthrough",
                        ),
                    ),
                    ("model", LogisticRegression()),
                ]
            ).fit(text, text["amount"] > 100)
            mlflow.sklearn.log_model(
                pipeline,
                name="p",
                signature=infer_signature(text, pipeline.predict(text)),
                registered_model_name="text",
                pip_requirements=[],
            )
    finally:
        mlflow.set_tracking_uri(None)


def _log_cols(x: pd.DataFrame, y: pd.Series) -> Any:
    """Log and register a new version of ``cols`` (named columns) in the active run."""
    model = LogisticRegression(max_iter=5000).fit(x, y)
    return mlflow.sklearn.log_model(
        model,
        name="m",
        signature=infer_signature(x, model.predict(x)),
        registered_model_name="cols",
        pip_requirements=[],
    )


def _text_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"city": ["Lima", "Quito", "Lima", "La Paz"] * 5, "amount": np.arange(20) * 10.0}
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cancer: pd.DataFrame) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("v2")
    grpc_port = free_port()
    settings = Settings(
        home=home,
        allow_pickle=True,
        server=ServerSettings(poll_interval_s=0.3, grpc_port=grpc_port),
    )
    _register(settings.tracking, home / "artifacts", cancer)
    workspace = Workspace(settings)
    with running(create_app(workspace=workspace)) as url:
        for name in ("cols", "tensor", "text"):
            httpx.post(f"{url}/api/v1/deployments", json={"name": name, "model": f"{name}/1"})
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, timeout=60)
        yield Server(url, f"127.0.0.1:{grpc_port}", workspace)
    workspace.close()


def _native(url: str, name: str, rows: list[dict[str, object]] | list[list[float]]) -> list[object]:
    response = httpx.post(f"{url}/api/v1/deployments/{name}/predict", json={"instances": rows})
    assert response.status_code == 200, response.text
    predictions: list[object] = response.json()["predictions"]
    return predictions


def test_grpc_health_metadata_config_and_index(server: Server) -> None:
    client = triton_grpc.InferenceServerClient(server.grpc)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("cols")
    meta = client.get_model_metadata("cols", as_json=True)
    assert [i["name"] for i in meta["inputs"]] == CANCER_FEATURES
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": ["-1"]}]
    tensor = client.get_model_metadata("tensor", as_json=True)
    assert tensor["inputs"] == [{"name": "input", "datatype": "FP64", "shape": ["-1", "4"]}]
    config = client.get_model_config("text", as_json=True)["config"]
    assert [(i["name"], i["data_type"]) for i in config["input"]] == [
        ("city", "TYPE_STRING"),
        ("amount", "TYPE_FP64"),
    ]
    index = client.get_model_repository_index(as_json=True)["models"]
    assert {(m["name"], m["state"]) for m in index} == {
        ("cols", "READY"),
        ("tensor", "READY"),
        ("text", "READY"),
    }


@pytest.mark.parametrize("datatype", ["FP32", "FP64", "INT64"])
def test_grpc_infer_numbers(server: Server, cancer: pd.DataFrame, datatype: str) -> None:
    frame = cancer[CANCER_FEATURES].head(6)
    if datatype == "INT64":
        frame = frame.round().astype("int64")
    client = triton_grpc.InferenceServerClient(server.grpc)
    dtype = triton_grpc.triton_to_np_dtype(datatype)
    inputs = []
    for column in CANCER_FEATURES:
        tensor = triton_grpc.InferInput(column, [len(frame)], datatype)
        tensor.set_data_from_numpy(frame[column].to_numpy(dtype))
        inputs.append(tensor)
    result = client.infer("cols", inputs)
    assert result.as_numpy("predict").tolist() == _native(
        server.url, "cols", frame.astype(float).to_dict(orient="records")
    )
    matrix = triton_grpc.InferInput("input", list(frame.shape), datatype)
    matrix.set_data_from_numpy(frame.to_numpy(dtype))
    proba = client.infer(
        "cols", [matrix], outputs=[triton_grpc.InferRequestedOutput("predict_proba")]
    )
    assert proba.as_numpy("predict_proba").shape == (6, 2)


def test_grpc_bytes_and_tensor_models(server: Server, cancer: pd.DataFrame) -> None:
    client = triton_grpc.InferenceServerClient(server.grpc)
    text = _text_frame().head(4)
    city = triton_grpc.InferInput("city", [4], "BYTES")
    city.set_data_from_numpy(text["city"].to_numpy(object))
    amount = triton_grpc.InferInput("amount", [4, 1], "FP64")
    amount.set_data_from_numpy(text[["amount"]].to_numpy())
    answer = client.infer("text", [city, amount]).as_numpy("predict")
    assert answer.tolist() == _native(server.url, "text", text.to_dict(orient="records"))

    rows = cancer[CANCER_FEATURES].head(5).to_numpy()
    tensor = triton_grpc.InferInput("input", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    predicted = client.infer("tensor", [tensor]).as_numpy("predict").tolist()
    assert predicted == _native(server.url, "tensor", rows.tolist())


def test_rest_config_index_compression_and_binary_outputs(
    server: Server, cancer: pd.DataFrame
) -> None:
    client = triton_http.InferenceServerClient(server.url.removeprefix("http://"))
    config = client.get_model_config("cols")
    assert config["max_batch_size"] == 32
    assert {i["data_type"] for i in config["input"]} == {"TYPE_FP64"}
    assert config["output"] == [{"name": "predict", "data_type": "TYPE_INT64", "dims": [1]}]
    index = client.get_model_repository_index()
    assert {m["name"] for m in index} == {"cols", "tensor", "text"}
    assert client.get_model_metadata("cols")["outputs"][0]["datatype"] == "INT64"

    frame = cancer[CANCER_FEATURES].head(7)
    expected = _native(server.url, "cols", frame.to_dict(orient="records"))
    matrix = triton_http.InferInput("input", list(frame.shape), "FP64")
    matrix.set_data_from_numpy(frame.to_numpy())
    for request, response in (("gzip", "deflate"), ("deflate", "gzip"), (None, None)):
        for binary in (True, False):
            result = client.infer(
                "cols",
                [matrix],
                outputs=[triton_http.InferRequestedOutput("predict", binary_data=binary)],
                request_compression_algorithm=request,
                response_compression_algorithm=response,
            )
            assert result.as_numpy("predict").tolist() == expected
            assert ("data" in result.get_output("predict")) is not binary

    raw = httpx.post(
        f"{server.url}/v2/models/cols/infer",
        json={
            "inputs": [
                {"name": "input", "datatype": "FP64", "shape": [1, 4], "data": [1, 2, 3, 4]}
            ],
            "parameters": {"binary_data_output": True},
        },
    )
    head = int(raw.headers["inference-header-content-length"])
    output = orjson.loads(raw.content[:head])["outputs"][0]
    assert output["parameters"]["binary_data_size"] == 8
    assert np.frombuffer(raw.content[head:], "<i8").shape == (1,)
    bomb = httpx.post(
        f"{server.url}/v2/models/cols/infer",
        content=gzip.compress(b" " * (20 * 1024 * 1024)),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    assert bomb.status_code == 413
    assert "decompressed body is over the limit" in bomb.json()["error"]


def test_tensor_model_on_v2_rest_vertex_and_mlflow(
    server: Server, cancer: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = cancer[CANCER_FEATURES].head(4).to_numpy()
    expected = _native(server.url, "tensor", rows.tolist())
    client = triton_http.InferenceServerClient(server.url.removeprefix("http://"))
    tensor = triton_http.InferInput("input", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    assert client.infer("tensor", [tensor]).as_numpy("predict").tolist() == expected
    assert client.get_model_metadata("tensor")["inputs"] == [
        {"name": "input", "datatype": "FP64", "shape": [-1, 4]}
    ]
    # What un-prefixed routes serve, for this test only.
    monkeypatch.setattr(server.workspace.settings, "serve_deployment", "tensor")
    vertex = httpx.post(f"{server.url}/vertex/predict", json={"instances": rows.tolist()})
    assert vertex.status_code == 200, vertex.text
    assert vertex.json()["predictions"] == expected
    for body in ({"inputs": rows.tolist()}, {"instances": rows.tolist()}):
        mlflow_face = httpx.post(f"{server.url}/invocations", json=body)
        assert mlflow_face.json() == {"predictions": expected}
    wrong = httpx.post(f"{server.url}/invocations", json={"inputs": [[1.0, 2.0]]})
    assert wrong.status_code == 422
    assert wrong.json()["message"] == "Tensor 'input' has shape [1, 2]; the model takes [-1, 4]."


def test_a_named_v2_version_answers_from_its_route_whatever_the_weights(
    server: Server, cancer: pd.DataFrame
) -> None:
    # A second version of the same model, logged as a user would.
    mlflow.set_tracking_uri(server.workspace.settings.tracking)
    try:
        x, y = cancer[CANCER_FEATURES], cancer["target"]
        with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("v2").experiment_id):
            logged = _log_cols(x, y)
    finally:
        mlflow.set_tracking_uri(None)
    second = server.workspace.registry.resolve(f"cols/{logged.registered_model_version}")
    url = server.url
    spec = {
        "name": "canary",
        "traffic": [
            {"model": "cols/1", "weight": 0.5},
            {"model": f"cols/{second.version}", "weight": 0.5},
        ],
    }
    assert httpx.post(f"{url}/api/v1/deployments", json=spec).status_code == 201
    wait_for(lambda: httpx.get(f"{url}/v2/models/canary/ready").status_code == 200, timeout=60)
    rows = cancer[CANCER_FEATURES].head(2)
    body = {
        "inputs": [
            {"name": c, "datatype": "FP64", "shape": [2], "data": rows[c].tolist()}
            for c in CANCER_FEATURES
        ]
    }
    for version in ("1", second.version):
        answered = {
            httpx.post(f"{url}/v2/models/canary/versions/{version}/infer", json=body).json()[
                "model_version"
            ]
            for _ in range(12)
        }
        assert answered == {version}
    missing = httpx.post(f"{url}/v2/models/canary/versions/99/infer", json=body)
    assert missing.status_code == 404
    assert "does not serve version 99" in missing.json()["error"]


def test_grpc_errors_and_keys(server: Server) -> None:
    client = triton_grpc.InferenceServerClient(server.grpc)
    bad = triton_grpc.InferInput("mean_radius", [2], "FP64")
    bad.set_data_from_numpy(np.ones(2))
    with pytest.raises(triton_grpc.InferenceServerException, match="mean_texture' is missing"):
        client.infer("cols", [bad])
    with pytest.raises(triton_grpc.InferenceServerException, match="no deployment named"):
        client.infer("nope", [bad])
    store = KeyStore(server.workspace.database)
    info, secret = store.create("grpc-client", "predict")
    try:
        wait_for(lambda: _refused(client, bad), timeout=10)
        good = []
        for column in CANCER_FEATURES:
            tensor = triton_grpc.InferInput(column, [1], "FP64")
            tensor.set_data_from_numpy(np.ones(1))
            good.append(tensor)
        result = client.infer("cols", good, headers={"authorization": f"Bearer {secret}"})
        assert result.as_numpy("predict").shape == (1,)
        # Once keys exist, /metrics needs a key too (LANZA_SERVER__EXPOSE_METRICS).
        metrics = httpx.get(
            f"{server.url}/metrics", headers={"authorization": f"Bearer {secret}"}
        ).text
        assert 'face="grpc"' in metrics
    finally:
        store.revoke(info.id)


def _refused(client: triton_grpc.InferenceServerClient, tensor: object) -> bool:
    try:
        client.infer("cols", [tensor])
    except triton_grpc.InferenceServerException as exc:
        return "API key" in str(exc)
    return False
