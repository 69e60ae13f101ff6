"""Every face reports the data plane's readiness and model description, never its own.

One server holds a resident deployment, an on-demand one (asked before and after its
first request loads it), one that failed to load, and is asked about a name it does not
hold: Open Inference v2 over REST and gRPC, MLflow's ping, Vertex AI's health route, the
native deployment and ``/readyz`` must each answer what ``DataPlane.ready``,
``server_ready`` and ``metadata`` say.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
import tritonclient.grpc as triton_grpc
from fastapi import FastAPI

from lanza.errors import NotFoundError
from lanza.server import create_app
from lanza.serving.component import ServingComponent
from lanza.serving.dataplane import DataPlane
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.servers import free_port, running, wait_for

pytestmark = pytest.mark.slow
VERTEX_HEALTH = "/v1/endpoints/7/deployedModels/9"


@dataclass
class Served:
    """A running server, its gRPC client and the data plane inside it."""

    http: httpx.Client
    grpc: triton_grpc.InferenceServerClient
    plane: DataPlane


@pytest.fixture
def served(model_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("AIP_HEALTH_ROUTE", VERTEX_HEALTH)
    grpc_port = free_port()
    ws = Workspace(
        Settings(
            home=model_home,
            database_url=f"sqlite:///{tmp_path}/lanza.db",
            serve_deployment="lazy",  # the un-prefixed MLflow and Vertex AI routes serve it
            server=ServerSettings(poll_interval_s=0.3, grpc_port=grpc_port),
        )
    )
    app: FastAPI = create_app(workspace=ws)
    try:
        with (
            running(app) as url,
            httpx.Client(base_url=url, timeout=60) as http,
            triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}") as grpc,
        ):
            made = [
                {"name": "warm", "model": "cancer/1"},
                {"name": "lazy", "model": "cancer/2", "residency": "on_demand"},
                {"name": "broken", "model": "nope/1"},
            ]
            for body in made:
                assert http.post("/api/v1/deployments", json=body).status_code == 201
            wait_for(lambda: _status(http, "warm") == "ready", timeout=60)
            wait_for(lambda: _status(http, "broken") == "failed", timeout=60)
            serving: ServingComponent = app.state.serving
            yield Served(http, grpc, serving.dataplane)
    finally:
        ws.close()


def _status(http: httpx.Client, name: str) -> object:
    return http.get(f"/api/v1/deployments/{name}").json().get("status")


def _grpc_ready(grpc: triton_grpc.InferenceServerClient, name: str, version: str = "") -> object:
    try:
        return bool(grpc.is_model_ready(name, version))
    except triton_grpc.InferenceServerException as exc:
        return "missing" if exc.status() == "StatusCode.NOT_FOUND" else exc.status()


def _faces(served: Served, name: str) -> dict[str, object]:
    """What every face answers about ``name``: ready, not ready, or not found."""
    http = served.http
    answer = {200: True, 503: False, 404: "missing"}
    native = http.get(f"/api/v1/deployments/{name}")
    faces: dict[str, object] = {
        "v2 rest": answer[http.get(f"/v2/models/{name}/ready").status_code],
        "grpc": _grpc_ready(served.grpc, name),
        "mlflow ping": answer[http.get(f"/deployments/{name}/ping").status_code],
        "mlflow health": answer[http.get(f"/deployments/{name}/health").status_code],
        "native": native.json()["ready"] if native.status_code == 200 else answer[404],
    }
    if name == "lazy":  # the deployment the un-prefixed routes serve
        faces["mlflow /ping"] = answer[http.get("/ping").status_code]
        faces["vertex health"] = answer[http.get(VERTEX_HEALTH).status_code]
    return faces


def _plane(plane: DataPlane, name: str) -> object:
    try:
        return plane.ready(name).ready
    except NotFoundError:
        return "missing"


def _agree(served: Served, name: str, expected: object) -> None:
    assert _plane(served.plane, name) == expected
    faces = _faces(served, name)
    assert faces == dict.fromkeys(faces, expected), name


def _server_agrees(served: Served, expected: bool) -> None:
    http = served.http
    assert served.plane.server_ready().ready is expected
    readyz = http.get("/readyz")
    assert (readyz.status_code == 200) is expected
    assert readyz.json()["components"]["serving"]["detail"] == served.plane.server_ready().detail
    assert (http.get("/v2/health/ready").status_code == 200) is expected
    assert served.grpc.is_server_ready() is expected


def test_every_face_reports_the_data_planes_readiness(served: Served, cancer: pd.DataFrame) -> None:
    _agree(served, "warm", True)
    _agree(served, "lazy", True)  # not resident: its first request loads it
    assert served.plane.ready("lazy").resident is False
    _agree(served, "broken", False)
    _agree(served, "ghost", "missing")
    with pytest.raises(NotFoundError, match="does not serve version 99"):
        served.plane.ready("warm", "99")
    assert served.http.get("/v2/models/warm/versions/99/ready").status_code == 404
    assert _grpc_ready(served.grpc, "warm", "99") == "missing"
    assert _grpc_ready(served.grpc, "warm", "1") is True
    # Before it loads, an on-demand deployment serves the versions its references pin.
    assert served.http.get("/v2/models/lazy/versions/2/ready").status_code == 200
    assert _grpc_ready(served.grpc, "lazy", "2") is True
    refused = served.http.get("/v2/models/lazy/versions/9/ready")
    assert refused.status_code == 404
    assert "does not serve version 9 (it serves 2)" in refused.json()["error"]
    assert _grpc_ready(served.grpc, "lazy", "9") == "missing"
    wrong = served.http.post("/v2/models/lazy/versions/9/infer", json={"inputs": []})
    assert wrong.status_code == 404
    assert served.plane.ready("lazy").resident is False  # refused without loading it
    _server_agrees(served, False)  # one deployment failed to load
    index = {m["name"]: m for m in served.http.post("/v2/repository/index").json()}
    assert index["lazy"]["state"] == "UNAVAILABLE"  # the index says where it is loaded

    rows = cancer.drop(columns="target").head(2).to_dict(orient="records")
    answer = served.http.post("/api/v1/deployments/lazy/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    assert served.plane.ready("lazy").resident is True
    _agree(served, "lazy", True)

    assert served.http.delete("/api/v1/deployments/broken").status_code == 204
    _agree(served, "broken", "missing")
    _server_agrees(served, True)
    assert "2 deployments loaded, 0 loadable on demand" in served.plane.server_ready().detail


def test_every_face_describes_the_model_as_the_data_plane_does(served: Served) -> None:
    for name in ("warm", "lazy"):
        described = served.plane.metadata(name)
        rest = served.http.get(f"/v2/models/{name}").json()
        grpc = served.grpc.get_model_metadata(name, as_json=True)
        assert rest["name"] == grpc["name"] == described.name
        assert rest["platform"] == grpc["platform"] == described.platform
        assert rest["versions"] == grpc.get("versions", []) == described.versions
        assert [i["name"] for i in rest["inputs"]] == [t.name for t in described.inputs]
        assert [(i["name"], i["datatype"]) for i in grpc.get("inputs", [])] == [
            (i["name"], i["datatype"]) for i in rest["inputs"]
        ]
        config = served.http.get(f"/v2/models/{name}/config").json()
        assert config["max_batch_size"] == described.max_batch_size
        assert [i["name"] for i in config["input"]] == [t.name for t in described.inputs]
    assert served.plane.metadata("warm").inputs  # resident: read from the model
    assert served.plane.metadata("lazy").inputs == []  # not loaded yet: nothing read
