"""Clients that already exist, unchanged: MLflow's scoring client, tritonclient, Vertex AI."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

from lanza.server import create_app
from lanza.workspace import Workspace
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(serving_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AIP_HEALTH_ROUTE", "/v1/endpoints/7/deployedModels/9")
    monkeypatch.setenv("AIP_PREDICT_ROUTE", "/v1/endpoints/7/deployedModels/9:predict")
    with running(create_app(workspace=serving_workspace)) as url:
        httpx.post(f"{url}/api/v1/deployments", json={"name": "c", "model": "cancer@champion"})
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        yield url


def _native(url: str, frame: pd.DataFrame) -> list[object]:
    body = {"instances": frame.to_dict(orient="records")}
    result: list[object] = httpx.post(f"{url}/api/v1/deployments/c/predict", json=body).json()[
        "predictions"
    ]
    return result


def test_mlflow_scoring_client(server: str, cancer: pd.DataFrame) -> None:
    frame = cancer.drop(columns="target").head(5)
    port = int(server.rsplit(":", 1)[1])
    client = ScoringServerClient("127.0.0.1", port)
    client.wait_server_ready(timeout=10)
    response = client.invoke(frame)
    assert list(response.get_predictions().iloc[:, 0]) == _native(server, frame)


@pytest.mark.parametrize(
    "form", ["dataframe_split", "dataframe_records", "instances", "inputs", "csv"]
)
def test_every_mlflow_payload_form(server: str, cancer: pd.DataFrame, form: str) -> None:
    frame = cancer.drop(columns="target").head(4)
    if form == "csv":
        response = httpx.post(
            f"{server}/deployments/c/invocations",
            content=frame.to_csv(index=False),
            headers={"content-type": "text/csv"},
        )
    else:
        body = {
            "dataframe_split": frame.to_dict(orient="split"),
            "dataframe_records": frame.to_dict(orient="records"),
            "instances": frame.to_dict(orient="records"),
            "inputs": frame.to_dict(orient="list"),
        }[form]
        response = httpx.post(f"{server}/invocations", json={form: body})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == _native(server, frame)


def test_mlflow_routes_per_deployment(server: str) -> None:
    assert httpx.get(f"{server}/deployments/c/ping").status_code == 200
    assert httpx.get(f"{server}/deployments/c/health").status_code == 200
    assert httpx.get(f"{server}/deployments/c/version").text
    missing = httpx.get(f"{server}/deployments/nope/ping")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_mlflow_error_shape(server: str) -> None:
    response = httpx.post(f"{server}/invocations", json={"instances": [{"mean_radius": 1}]})
    assert response.status_code == 422
    assert response.json() == {
        "error_code": "BAD_REQUEST",
        "message": "Column 'mean_texture' is missing (and 2 more).",
    }
    assert httpx.get(f"{server}/ping").status_code == 200


def test_triton_client_binary_and_json(server: str, cancer: pd.DataFrame) -> None:
    frame = cancer.drop(columns="target").head(6)
    client = triton.InferenceServerClient(server.removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("c")
    metadata = client.get_model_metadata("c")
    assert [i["name"] for i in metadata["inputs"]] == list(frame.columns)
    for binary in (True, False):
        inputs = []
        for column in frame.columns:
            tensor = triton.InferInput(column, [len(frame)], "FP32")
            tensor.set_data_from_numpy(frame[column].to_numpy(np.float32), binary_data=binary)
            inputs.append(tensor)
        result = client.infer("c", inputs)
        assert result.as_numpy("predict").tolist() == _native(server, frame)
    matrix = triton.InferInput("input", list(frame.shape), "FP64")
    matrix.set_data_from_numpy(frame.to_numpy(np.float64))
    result = client.infer("c", [matrix], outputs=[triton.InferRequestedOutput("predict_proba")])
    assert result.as_numpy("predict_proba").shape == (6, 2)


def test_triton_errors(server: str) -> None:
    client = triton.InferenceServerClient(server.removeprefix("http://"))
    bad = triton.InferInput("mean_radius", [2], "FP32")
    bad.set_data_from_numpy(np.ones(2, np.float32))
    with pytest.raises(triton.InferenceServerException, match="Column 'mean_texture' is missing"):
        client.infer("c", [bad])
    with pytest.raises(triton.InferenceServerException, match="no deployment named 'nope'"):
        client.infer("nope", [bad])
    raw = httpx.post(
        f"{server}/v2/models/c/infer",
        json={"inputs": [{"name": "x", "datatype": "FP99", "shape": [1], "data": [1]}]},
    )
    assert raw.status_code == 400
    assert raw.json() == {"error": "Input 'x' has unknown datatype 'FP99'."}
    shape = httpx.post(
        f"{server}/v2/models/c/infer",
        json={
            "inputs": [{"name": "mean_radius", "datatype": "FP32", "shape": [3], "data": [1, 2]}]
        },
    )
    assert "has 2 values but shape [3] needs 3" in shape.json()["error"]


def test_vertex_ai_contract(server: str, cancer: pd.DataFrame) -> None:
    frame = cancer.drop(columns="target").head(3)
    health = httpx.get(f"{server}/v1/endpoints/7/deployedModels/9")
    assert health.status_code == 200
    response = httpx.post(
        f"{server}/v1/endpoints/7/deployedModels/9:predict",
        json={"instances": frame.to_dict(orient="records"), "parameters": {}},
    )
    assert response.status_code == 200
    assert response.json()["predictions"] == _native(server, frame)
    rows = httpx.post(
        f"{server}/v1/endpoints/7/deployedModels/9:predict",
        json={"instances": frame.to_numpy().tolist()},
    )
    assert rows.json()["predictions"] == _native(server, frame)
