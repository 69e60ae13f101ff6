"""Every table of the data zoo, end to end: train, deploy, predict on every face, batch, pages.

One server serves a deployment per table; each table is trained under a small time
budget, then answered through the native API (records and split), every MLflow payload
form, Open Inference v2 and Vertex AI, scored by a batch job, and shown by the form page
and an upload. No step may fail, and every answer must be one of the table's labels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.servers import running, wait_for
from tests.zoo import TABLES, ZooTable

pytestmark = pytest.mark.slow
BUDGET_S = 15.0
ROWS = 6


@pytest.fixture(scope="module")
def zoo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = tmp_path_factory.mktemp("zoo-home")
    ws = Workspace(Settings(home=home, server=ServerSettings(poll_interval_s=0.3)))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def server(zoo_workspace: Workspace) -> Iterator[httpx.Client]:
    with (
        running(create_app(workspace=zoo_workspace)) as url,
        httpx.Client(base_url=url, timeout=120) as http,
    ):
        yield http


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a client sends them: missing values as null, numbers as numbers."""
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return rows


def _same(a: list[Any], b: list[Any]) -> bool:
    return all(
        (isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=1e-6))
        or x == y
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_zoo_table_end_to_end(
    table: ZooTable, zoo_workspace: Workspace, server: httpx.Client, tmp_path: Path
) -> None:
    frame = table.load()
    outcome = train(
        zoo_workspace, TrainRequest(frame, table.target, table.name, time_budget=BUDGET_S)
    )
    board = outcome.leaderboard
    assert board.results, board.failed
    columns = list(outcome.data.features.columns)
    labels = set(outcome.data.target.tolist())

    made = server.post(
        "/api/v1/deployments", json={"name": table.name, "model": f"{table.name}@champion"}
    )
    assert made.status_code == 201, made.text
    wait_for(
        lambda: server.get(f"/api/v1/deployments/{table.name}").json()["status"] == "ready", 120
    )

    # The columns the model reads: training leaves identifiers and constants out.
    used = frame[columns].head(ROWS)
    native = server.post(
        f"/api/v1/deployments/{table.name}/predict", json={"instances": _records(used)}
    )
    assert native.status_code == 200, native.text
    predictions = native.json()["predictions"]
    assert len(predictions) == ROWS
    if outcome.data.task == "classification":
        assert {str(p) for p in predictions} <= {str(v) for v in labels}
    else:
        assert all(isinstance(p, float) for p in predictions)

    split = json.loads(used.to_json(orient="split", index=False))
    bodies = {
        "dataframe_split": split,
        "dataframe_records": _records(used),
        "instances": _records(used),
        "inputs": json.loads(used.to_json(orient="columns")),
    }
    bodies["inputs"] = {k: list(v.values()) for k, v in bodies["inputs"].items()}
    for form, body in bodies.items():
        answer = server.post(f"/deployments/{table.name}/invocations", json={form: body})
        assert answer.status_code == 200, (form, answer.text)
        assert _same(answer.json()["predictions"], predictions), form
    csv = server.post(
        f"/deployments/{table.name}/invocations",
        content=used.to_csv(index=False),
        headers={"content-type": "text/csv"},
    )
    assert csv.status_code == 200, csv.text

    complete = used.dropna()
    if len(complete):
        inputs = []
        for column in columns:
            values = complete[column]
            numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
            inputs.append(
                {
                    "name": column,
                    "datatype": "FP64" if numeric else "BYTES",
                    "shape": [len(complete)],
                    "data": [float(v) for v in values] if numeric else [str(v) for v in values],
                }
            )
        v2 = server.post(f"/v2/models/{table.name}/infer", json={"inputs": inputs})
        assert v2.status_code == 200, v2.text

    source = tmp_path / f"{table.name}.csv"
    frame.drop(columns=table.target).to_csv(source, index=False)
    summary = run_batch(
        zoo_workspace,
        BatchOptions(
            model=f"{table.name}@champion", input=str(source), output=str(tmp_path / "out")
        ),
    )
    assert summary.rows == len(frame)
    assert summary.errors == 0
    scored = pd.read_parquet(tmp_path / "out")
    assert len(scored) == len(frame)

    form = server.get(f"/api/v1/deployments/{table.name}/form")
    assert form.status_code == 200, form.text
    assert [f["name"] for f in form.json()["fields"]] == columns
    upload = server.post(
        f"/api/v1/deployments/{table.name}/uploads",
        params={"filename": f"{table.name}.csv"},
        content=frame.drop(columns=table.target).head(50).to_csv(index=False).encode(),
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["upload"]["state"] == "succeeded", upload.text
