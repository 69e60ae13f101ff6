"""The native API over a real port: deployments CRUD, predictions, and every error status."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from lanza.server import create_app
from lanza.workspace import Workspace
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


def _ready(url: str, name: str) -> bool:
    return httpx.get(f"{url}/api/v1/deployments/{name}").json().get("status") == "ready"


def test_crud_predict_and_errors(serving_workspace: Workspace, cancer: pd.DataFrame) -> None:
    rows = cancer.drop(columns="target").head(3).to_dict(orient="records")
    with (
        running(create_app(workspace=serving_workspace)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        created = http.post("/api/v1/deployments", json={"name": "c", "model": "cancer@champion"})
        assert created.status_code == 201, created.text
        assert created.json()["status"] in ("loading", "ready")
        again = http.post("/api/v1/deployments", json={"name": "c", "model": "cancer/1"})
        assert again.status_code == 409
        assert again.json()["error"]["message"] == "Deployment 'c' already exists."
        wait_for(lambda: _ready(url, "c"))

        answer = http.post("/api/v1/deployments/c/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["predictions"]) == 3
        assert body["model"] == "cancer/1"
        assert len(body["request_id"]) == 32

        split = {
            "dataframe_split": {"columns": list(rows[0]), "data": [list(rows[0].values())]},
            "probabilities": True,
        }
        answer = http.post("/api/v1/deployments/c/predict", json=split).json()
        assert set(answer["probabilities"][0]) == {"0", "1"}
        assert abs(sum(answer["probabilities"][0].values()) - 1) < 1e-9

        positional = http.post(
            "/api/v1/deployments/c/predict", json={"instances": [list(rows[0].values())]}
        )
        assert positional.json()["predictions"] == [body["predictions"][0]]

        listed = http.get("/api/v1/deployments").json()
        assert [d["name"] for d in listed] == ["c"]
        assert listed[0]["serving"][0]["version"] == "cancer/1"

        updated = http.put("/api/v1/deployments/c", json={"max_batch_size": 8})
        assert updated.status_code == 200
        assert updated.json()["spec"]["max_batch_size"] == 8

        assert http.delete("/api/v1/deployments/c").status_code == 204
        gone = http.post("/api/v1/deployments/c/predict", json={"instances": rows})
        assert gone.status_code == 404
        assert "no deployment named 'c'" in gone.json()["error"]["message"]


BAD = [
    (
        {"instances": [{"mean_radius": 1.0}]},
        422,
        "Column 'mean_texture' is missing (and 2 more).",
    ),
    (
        {
            "instances": [
                {"mean_radius": "big", "mean_texture": 1, "mean_smoothness": 1, "worst_area": 1}
            ]
        },
        422,
        "Column 'mean_radius' must be a number; row 0",
    ),
    (
        {
            "instances": [
                {
                    "mean_radius": 1,
                    "mean_texture": 1,
                    "mean_smoothness": 1,
                    "worst_area": 1,
                    "zip": 3,
                }
            ]
        },
        422,
        "Column 'zip' is not an input",
    ),
    ({"instances": [[1, 2]]}, 422, "Row 0 has 2 values; the model takes 4 columns"),
    ({"instances": []}, 422, "no rows"),
    ({"rows": []}, 400, "exactly one of"),
    ({"instances": 3}, 400, "must be an array of rows"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_bad_requests_name_what_is_wrong(
    serving_workspace: Workspace, body: dict[str, object], status: int, message: str
) -> None:
    with (
        running(create_app(workspace=serving_workspace)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        http.post("/api/v1/deployments", json={"name": "c", "model": "cancer@champion"})
        wait_for(lambda: _ready(url, "c"))
        answer = http.post("/api/v1/deployments/c/predict", json=body)
        assert answer.status_code == status, answer.text
        assert message in answer.json()["error"]["message"]


def test_transport_errors(serving_workspace: Workspace) -> None:
    serving_workspace.settings.server.max_body_bytes = 1000
    with (
        running(create_app(workspace=serving_workspace)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        big = http.post(
            "/api/v1/deployments/x/predict",
            content=b"[" + b"1," * 800 + b"1]",
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413
        assert "limit is 1,000" in big.json()["error"]["message"]
        xml = http.post(
            "/api/v1/deployments/x/predict",
            content=b"<a/>",
            headers={"content-type": "application/xml"},
        )
        assert xml.status_code == 415
        broken = http.post(
            "/api/v1/deployments/x/predict",
            content=b"{",
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 400
        assert "not valid JSON" in broken.json()["error"]["message"]
        bad_spec = http.post("/api/v1/deployments", json={"name": "Bad Name", "model": "m@x"})
        assert bad_spec.status_code == 422
        assert "name" in bad_spec.json()["error"]["message"]
        missing_model = http.post(
            "/api/v1/deployments", json={"name": "ghost", "model": "ghost@champion"}
        )
        assert missing_model.status_code == 201
        wait_for(lambda: http.get("/api/v1/deployments/ghost").json()["status"] == "failed")
        failed = http.get("/api/v1/deployments/ghost").json()
        assert "no registered model named 'ghost'" in failed["error"]
        unavailable = http.post("/api/v1/deployments/ghost/predict", json={"instances": [[1]]})
        assert unavailable.status_code == 503
        assert http.get("/readyz").status_code == 503
        assert http.get("/healthz").status_code == 200


def test_deployments_survive_a_restart(serving_workspace: Workspace, cancer: pd.DataFrame) -> None:
    rows = cancer.drop(columns="target").head(2).to_dict(orient="records")
    with running(create_app(workspace=serving_workspace)) as url:
        httpx.post(f"{url}/api/v1/deployments", json={"name": "keep", "model": "cancer/2"})
    again = Workspace(serving_workspace.settings)
    with running(create_app(workspace=again)) as url:
        wait_for(lambda: _ready(url, "keep"))
        answer = httpx.post(f"{url}/api/v1/deployments/keep/predict", json={"instances": rows})
        assert answer.json()["model"] == "cancer/2"
        assert httpx.get(f"{url}/readyz").status_code == 200
