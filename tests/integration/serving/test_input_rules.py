"""One set of input rules on every face, on real tables over a real port.

Palmer penguins (text categories, missing values) trained by lanza, and a model whose
signature has a datetime column: unseen categories and values outside the training
range are answered and flagged, a missing column is a 422 that names it, dates are
served on every face and every payload form. The rows a ``lanza batch --log-rate`` job
flags reach a server's ``/metrics`` (``source="batch"``) and its monitoring run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import requests
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from mlflow.utils.proto_json_utils import dump_input_data
from palmerpenguins import load_penguins

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.errors import DataError
from lanza.records import WARNINGS_HEADER
from lanza.server import create_app
from lanza.settings import MonitoringSettings, ServerSettings, Settings
from lanza.training.service import TrainRequest, train
from lanza.workspace import Workspace
from tests.servers import free_port, running, wait_for

pytestmark = pytest.mark.slow

DATED_MODEL = """
import mlflow
import pandas as pd


class Days(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        start = pd.Timestamp("2024-01-01")
        return (model_input["when"] - start).dt.days + model_input["x"]


mlflow.models.set_model(Days())
"""


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    """The Palmer penguins table, rows with a species."""
    frame: pd.DataFrame = load_penguins().dropna(subset=["species"]).reset_index(drop=True)
    return frame


@pytest.fixture(scope="session")
def rules_home(tmp_path_factory: pytest.TempPathFactory, penguins: pd.DataFrame) -> Path:
    """A home with penguins/1 (trained by lanza) and dated/1 (a pyfunc with a datetime input)."""
    import mlflow

    home = tmp_path_factory.mktemp("rules-home")
    ws = Workspace(Settings(home=home))
    train(ws, TrainRequest(penguins, "species", "penguins", candidates=["logistic_regression"]))
    heavy = penguins.dropna(subset=["body_mass_g"])
    train(ws, TrainRequest(heavy, "body_mass_g", "mass", candidates=["ridge_regression"]))
    code = home / "dated_model.py"
    code.write_text(DATED_MODEL)
    example = pd.DataFrame({"when": pd.to_datetime(["2024-01-02", "2024-03-01"]), "x": [1.0, 2.0]})
    mlflow.set_tracking_uri(ws.settings.tracking)
    try:
        with mlflow.start_run(experiment_id=ws.experiment_id("rules")):
            mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                input_example=example,
                registered_model_name="dated",
            )
    finally:
        mlflow.set_tracking_uri(None)
        ws.close()
    return home


@pytest.fixture
def rules_workspace(rules_home: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on the shared registry with its own lanza database; pickle allowed for
    the dated pyfunc."""
    settings = Settings(
        home=rules_home,
        database_url=f"sqlite:///{tmp_path}/lanza.db",
        allow_pickle=True,
        server=ServerSettings(poll_interval_s=0.3),
    )
    ws = Workspace(settings)
    yield ws
    ws.close()


@pytest.fixture
def server(rules_workspace: Workspace) -> Iterator[str]:
    with running(create_app(workspace=rules_workspace)) as url:
        for name, model in (("p", "penguins/1"), ("d", "dated/1"), ("m", "mass/1")):
            created = httpx.post(f"{url}/api/v1/deployments", json={"name": name, "model": model})
            assert created.status_code == 201, created.text
        wait_for(lambda: all(_ready(url, n) for n in "pdm"), timeout=60)
        yield url


def _ready(url: str, name: str) -> bool:
    return bool(httpx.get(f"{url}/api/v1/deployments/{name}").json().get("status") == "ready")


def _row(penguins: pd.DataFrame) -> dict[str, Any]:
    first = penguins.drop(columns="species").iloc[0].to_dict()
    return {k: (None if pd.isna(v) else v) for k, v in first.items()}


def test_unseen_out_of_range_and_null_are_answered_and_flagged(
    server: str, penguins: pd.DataFrame
) -> None:
    row = _row(penguins)
    rows = [
        row,
        {**row, "island": "Atlantis"},
        {**row, "bill_length_mm": 120},
        {**row, "sex": None},
    ]
    answer = httpx.post(f"{server}/api/v1/deployments/p/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["predictions"]) == 4
    low, high = penguins["bill_length_mm"].min(), penguins["bill_length_mm"].max()
    assert body["warnings"] == [
        [],
        ["Atlantis (island) was never seen in training; this answer is a guess."],
        [
            f"bill_length_mm 120 is outside the training range {low:g} to {high:g}; "
            "this answer is a guess."
        ],
        ["sex was not given; a typical value was used."],
    ]
    metrics = httpx.get(f"{server}/metrics").text
    for feature, reason in (("island", "unseen"), ("bill_length_mm", "out_of_range")):
        line = (
            f'lanza_input_warnings_total{{deployment="p",feature="{feature}",reason="{reason}"}} '
            "1.0"
        )
        assert line in metrics
    wait_for(lambda: httpx.get(f"{server}/api/v1/deployments/p/monitoring").status_code == 200)
    report = httpx.get(f"{server}/api/v1/deployments/p/monitoring").json()
    assert report["data_quality"]["flagged"] == 3
    assert {
        (c["feature"], c["reason"], c["rows"]) for c in report["data_quality"]["by_feature"]
    } == {
        ("island", "unseen", 1),
        ("bill_length_mm", "out_of_range", 1),
        ("sex", "missing", 1),
    }


def test_a_missing_column_is_a_422_unless_the_deployment_imputes(
    server: str, penguins: pd.DataFrame
) -> None:
    row = _row(penguins)
    del row["sex"]  # a column with missing values in training: still required
    refused = httpx.post(f"{server}/api/v1/deployments/p/predict", json={"instances": [row]})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "Column 'sex' is missing."
    mlflow = httpx.post(f"{server}/deployments/p/invocations", json={"instances": [row]})
    assert mlflow.status_code == 422
    assert mlflow.json()["message"] == "Column 'sex' is missing."
    changed = httpx.put(f"{server}/api/v1/deployments/p", json={"impute_missing_columns": True})
    assert changed.status_code == 200, changed.text
    wait_for(lambda: _ready(server, "p"))
    answer = httpx.post(f"{server}/api/v1/deployments/p/predict", json={"instances": [row]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["warnings"] == [["sex was not given; a typical value was used."]]


DATED = pd.DataFrame({"when": ["2024-01-11", "2024-02-01T06:00:00Z"], "x": [1.0, 0.5]})
EXPECTED = [11.0, 31.5]


@pytest.mark.parametrize("form", ["instances", "dataframe_records", "dataframe_split", "inputs"])
def test_a_datetime_signature_is_served_on_every_payload_form(server: str, form: str) -> None:
    body = {
        "instances": DATED.to_dict(orient="records"),
        "dataframe_records": DATED.to_dict(orient="records"),
        "dataframe_split": DATED.to_dict(orient="split", index=False),
        "inputs": DATED.to_dict(orient="list"),
    }[form]
    native = httpx.post(f"{server}/api/v1/deployments/d/predict", json={form: body})
    assert native.status_code == 200, native.text
    assert native.json()["predictions"] == EXPECTED
    mlflow = httpx.post(f"{server}/deployments/d/invocations", json={form: body})
    assert mlflow.status_code == 200, mlflow.text
    # The model answers an unnamed Series, which mlflow models serve writes as records.
    assert mlflow.json()["predictions"] == [{"0": value} for value in EXPECTED]


def test_a_datetime_signature_is_served_on_every_face(
    server: str, rules_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What un-prefixed routes serve, for this test only.
    monkeypatch.setattr(rules_workspace.settings, "serve_deployment", "d")
    csv = httpx.post(
        f"{server}/deployments/d/invocations",
        content=DATED.to_csv(index=False),
        headers={"content-type": "text/csv"},
    )
    assert csv.status_code == 200, csv.text
    assert csv.json()["predictions"] == [{"0": value} for value in EXPECTED]  # MLflow's form
    v2 = httpx.post(
        f"{server}/v2/models/d/infer",
        json={
            "inputs": [
                {"name": "when", "datatype": "BYTES", "shape": [2], "data": list(DATED["when"])},
                {"name": "x", "datatype": "FP64", "shape": [2], "data": list(DATED["x"])},
            ]
        },
    )
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == EXPECTED
    vertex = httpx.post(
        f"{server}/vertex/predict", json={"instances": DATED.to_dict(orient="records")}
    )
    assert vertex.status_code == 200, vertex.text
    assert vertex.json()["predictions"] == EXPECTED
    upload = httpx.post(
        f"{server}/api/v1/deployments/d/uploads",
        params={"filename": "dated.csv"},
        content=DATED.to_csv(index=False) + "soon,1.0\n",
    )
    assert upload.status_code == 201, upload.text
    report = upload.json()["validation"]
    assert (report["good"], report["bad"]) == (2, 1)
    assert report["row_problems"][0]["column"] == "when"
    bad = httpx.post(
        f"{server}/api/v1/deployments/d/predict",
        json={"instances": [{"when": "soon", "x": 1.0}]},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["message"] == (
        "Column 'when' must be a date or time such as '2024-05-01' or "
        "'2024-05-01T13:45:00'; row 0 has 'soon'."
    )


def test_batch_flags_rows_and_keeps_column_types(
    rules_workspace: Workspace, penguins: pd.DataFrame, tmp_path: Path
) -> None:
    frame = penguins.head(40).copy()
    frame["tag"] = range(1000, 1040)  # columns the model does not take, kept beside
    frame["price"] = [12.5 + i for i in range(40)]
    frame.loc[4, "island"] = "Atlantis"
    frame.loc[5, "bill_length_mm"] = 120.0
    frame.to_csv(tmp_path / "in.csv", index=False)
    options = BatchOptions(
        "penguins/1",
        str(tmp_path / "in.csv"),
        str(tmp_path / "out"),
        keep_columns=("tag", "price", "species"),
        chunk_rows=16,
    )
    summary = run_batch(rules_workspace, options)
    assert (summary.written, summary.errors) == (40, 0)
    table = pq.read_table(sorted((tmp_path / "out").glob("part-*.parquet"))[0])
    assert str(table.schema.field("tag").type) == "int64"
    assert str(table.schema.field("price").type) == "double"
    assert str(table.schema.field("species").type) == "string"
    out = ds.dataset(tmp_path / "out").to_table().to_pandas()
    assert out.columns.tolist() == ["tag", "price", "species", "prediction", "warnings"]
    assert out.loc[4, "warnings"] == (
        "Atlantis (island) was never seen in training; this answer is a guess."
    )
    assert "sex was not given; a typical value was used." in out.loc[3, "warnings"]
    assert out.loc[5, "warnings"].startswith("bill_length_mm 120 is outside the training range")
    assert pd.isna(out.loc[0, "warnings"])


def test_batch_reads_dates_and_refuses_a_missing_column(
    rules_workspace: Workspace, tmp_path: Path
) -> None:
    DATED.to_csv(tmp_path / "dated.csv", index=False)
    options = BatchOptions("dated/1", str(tmp_path / "dated.csv"), str(tmp_path / "out"))
    run_batch(rules_workspace, options)
    out = ds.dataset(tmp_path / "out").to_table().to_pandas()
    assert out["prediction"].tolist() == EXPECTED
    DATED[["x"]].to_csv(tmp_path / "short.csv", index=False)
    options = BatchOptions("dated/1", str(tmp_path / "short.csv"), str(tmp_path / "out2"))
    with pytest.raises(DataError, match="Column 'when' is missing from"):
        run_batch(rules_workspace, options)


def test_a_watched_batch_job_s_flags_reach_metrics_and_mlflow(
    rules_home: Path, penguins: pd.DataFrame, tmp_path: Path
) -> None:
    frame = penguins.dropna().drop(columns="species").head(40).reset_index(drop=True)
    frame.loc[[0, 7, 9], "island"] = "Atlantis"
    frame.loc[[2, 3, 4, 5, 6], "bill_length_mm"] = 120.0
    frame.to_csv(tmp_path / "nightly.csv", index=False)
    database = f"sqlite:///{tmp_path}/lanza.db"
    env = {**os.environ, "LANZA_HOME": str(rules_home), "LANZA_DATABASE_URL": database}
    command = [sys.executable, "-m", "lanza", "batch", "penguins/1", str(tmp_path / "nightly.csv")]
    command += [str(tmp_path / "out"), "--chunk-rows", "16", "--log-rate", "0.5"]
    subprocess.run([*command, "--log-as", "nightly"], env=env, check=True, timeout=300)

    settings = Settings(
        home=rules_home,
        database_url=database,
        server=ServerSettings(poll_interval_s=0.3),
        monitoring=MonitoringSettings(interval_s=0.5),
    )
    workspace = Workspace(settings)
    try:
        with running(create_app(workspace=workspace)) as url:
            made = httpx.post(
                f"{url}/api/v1/deployments", json={"name": "nightly", "model": "penguins/1"}
            )
            assert made.status_code == 201, made.text
            wanted = [
                'lanza_batch_input_warnings{deployment="nightly",feature="island",'
                'reason="unseen",source="batch"} 3.0',
                'lanza_batch_input_warnings{deployment="nightly",feature="bill_length_mm",'
                'reason="out_of_range",source="batch"} 5.0',
                'lanza_batch_scored_rows{deployment="nightly",source="batch"} 40.0',
            ]
            wait_for(lambda: all(w in httpx.get(f"{url}/metrics").text for w in wanted), 60)
            metrics = httpx.get(f"{url}/metrics").text
            # Only the two flags: no other batch series, nothing on the real-time counter.
            flagged = [line for line in metrics.splitlines() if "batch_input_warnings{" in line]
            assert sorted(flagged) == sorted(wanted[:2])
            assert 'lanza_input_warnings_total{deployment="nightly"' not in metrics
            data = httpx.get(f"{url}/api/v1/deployments/nightly/monitoring").json()
            assert data["data_quality"]["batch"] == {
                "rows": 40,
                "by_feature": [
                    {"feature": "bill_length_mm", "reason": "out_of_range", "rows": 5},
                    {"feature": "island", "reason": "unseen", "rows": 3},
                ],
            }
            assert data["data_quality"]["counts"] == {"out_of_range": 5, "unseen": 3}
            wait_for(lambda: "flagged_unseen_island" in _monitoring_run(workspace), 60)
        logged = _monitoring_run(workspace)
        assert logged["flagged_unseen_island"] == 3.0
        assert logged["flagged_out_of_range_bill_length_mm"] == 5.0
    finally:
        workspace.close()


def _monitoring_run(workspace: Workspace) -> dict[str, float]:
    """The latest figures of the monitoring run of deployment 'nightly' (none yet: {})."""
    experiment = workspace.mlflow.get_experiment_by_name("lanza-monitoring")
    if experiment is None:
        return {}
    query = "tags.`lanza.deployment` = 'nightly'"
    runs = workspace.mlflow.search_runs([experiment.experiment_id], query)
    return dict(runs[0].data.metrics) if runs else {}


def test_upload_and_form_apply_the_same_rules(server: str, penguins: pd.DataFrame) -> None:
    frame = penguins.drop(columns="species").head(4).copy()
    frame.loc[1, "island"] = "Atlantis"
    text = frame.to_csv(index=False)
    lines = text.splitlines()
    lines.append(",".join(lines[1].split(",")[:5]))  # a short line, as lanza batch refuses it
    body = "\n".join(lines) + "\n"
    made = httpx.post(
        f"{server}/api/v1/deployments/p/uploads", params={"filename": "p.csv"}, content=body
    )
    assert made.status_code == 201, made.text
    report = made.json()["validation"]
    assert (report["rows"], report["good"], report["bad"]) == (5, 4, 1)
    assert report["row_problems"] == [
        {
            "reason": "the line has 5 fields where the header has 7",
            "column": None,
            "row": 6,
            "value": None,
        }
    ]
    unseen = [w for w in report["warnings"] if w["column"] == "island"]
    assert unseen == [
        {
            "reason": "Atlantis (island) was never seen in training; this answer is a guess.",
            "column": "island",
            "row": 3,
            "value": "Atlantis",
        }
    ]
    upload = made.json()["upload"]
    got = httpx.get(f"{server}/api/v1/deployments/p/uploads/{upload['id']}/file")
    result = pd.read_csv(io.StringIO(got.text), dtype=str, keep_default_na=False)
    assert result.loc[1, "warnings"] == (
        "Atlantis (island) was never seen in training; this answer is a guess."
    )
    assert result.loc[4, "prediction"] == ""
    assert "5 fields" in result.loc[4, "error"]
    missing = httpx.post(
        f"{server}/api/v1/deployments/p/uploads",
        params={"filename": "p.csv"},
        content=frame.drop(columns="sex").to_csv(index=False),
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "Column 'sex' is missing from 'p.csv'."
    record = {**_row(penguins), "island": "Atlantis"}
    explained = httpx.post(f"{server}/api/v1/deployments/p/explain", json={"record": record})
    assert explained.status_code == 200, explained.text
    assert explained.json()["warnings"] == [
        "Atlantis (island) was never seen in training; this answer is a guess."
    ]


def test_the_predict_page_speaks_plain_words(server: str, browser: Any) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/deployments/m")
    page.locator("#predict-form").wait_for()
    assert page.get_attribute("#field-year", "placeholder") == "2007 to 2009"
    page.fill("#field-bill_length_mm", "")  # blank: filled with a typical value, and said so
    page.click("#predict")
    page.locator("#prediction").wait_for()
    shown = page.inner_text("#prediction")
    value = float(page.get_attribute("#prediction", "data-value") or "nan")
    assert shown == (f"{value:.1f}" if abs(value) < 10_000 else f"{value:,.1f}")  # no 4.131e+03
    assert page.inner_text("#warnings") == (
        "bill_length_mm was not given; a typical value was used."
    )
    assert "null" not in page.inner_text("#result")
    assert "body_mass_g" in page.inner_text("#contributions + .legend")
    page.screenshot(path=str(Path(os.environ.get("LANZA_SHOTS", "/tmp")) / "predict-mass.png"))
    assert errors == []


def test_flags_reach_the_mlflow_and_v2_clients(
    rules_home: Path, penguins: pd.DataFrame, tmp_path: Path
) -> None:
    grpc_port = free_port()
    ws = Workspace(
        Settings(
            home=rules_home,
            database_url=f"sqlite:///{tmp_path}/lanza.db",
            server=ServerSettings(poll_interval_s=0.3, grpc_port=grpc_port),
        )
    )
    row = _row(penguins)
    frame = pd.DataFrame([row, {**row, "island": "Atlantis"}, {**row, "bill_length_mm": 120}])
    try:
        with running(create_app(workspace=ws)) as url:
            made = httpx.post(
                f"{url}/api/v1/deployments", json={"name": "p", "model": "penguins/1"}
            )
            assert made.status_code == 201, made.text
            wait_for(lambda: _ready(url, "p"), timeout=60)
            native = httpx.post(
                f"{url}/api/v1/deployments/p/predict",
                json={"instances": frame.to_dict(orient="records")},
            ).json()
            first, *flagged = native["warnings"]
            assert first == []
            assert all(flagged)
            expected = {"flagged": 2, "rows": {"1": flagged[0], "2": flagged[1]}}

            # MLflow: the scoring client reads the body as ever; the flags are in a header.
            client = ScoringServerClient("127.0.0.1", int(url.rsplit(":", 1)[1]))
            answer = client.invoke(frame)
            assert list(answer.get_predictions().iloc[:, 0]) == native["predictions"]
            sent = {"data": dump_input_data(frame), "headers": {"content-type": "application/json"}}
            raw = requests.post(f"{url}/invocations", **sent, timeout=30)
            assert raw.content == orjson.dumps({"predictions": native["predictions"]})
            assert json.loads(raw.headers[WARNINGS_HEADER]) == expected
            plain = requests.post(
                f"{url}/invocations",
                data=dump_input_data(frame.head(1)),
                headers={"content-type": "application/json"},
                timeout=30,
            )
            assert WARNINGS_HEADER not in plain.headers

            # Open Inference v2, REST and gRPC: the response's parameters.
            http = triton_http.InferenceServerClient(url.removeprefix("http://"))
            result = http.infer("p", _tensors(triton_http, frame))
            response = result.get_response()
            assert json.loads(response["parameters"]["lanza_warnings"]) == expected
            labels = result.as_numpy(response["outputs"][0]["name"]).tolist()
            assert [label.decode() for label in labels] == native["predictions"]
            grpc = triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
            over_grpc = grpc.infer("p", _tensors(triton_grpc, frame)).get_response()
            assert json.loads(over_grpc.parameters["lanza_warnings"].string_param) == expected
            clean = http.infer("p", _tensors(triton_http, frame.head(1))).get_response()
            assert "parameters" not in clean
    finally:
        ws.close()


def _tensors(triton: Any, frame: pd.DataFrame) -> list[Any]:
    """One tritonclient input per column: text as BYTES, numbers as FP64 or INT64."""
    tensors = []
    for column in frame.columns:
        values = frame[column].to_numpy()
        kind = {"O": "BYTES", "f": "FP64", "i": "INT64"}[values.dtype.kind]
        tensor = triton.InferInput(column, [len(frame)], kind)
        tensor.set_data_from_numpy(values.astype(object) if kind == "BYTES" else values)
        tensors.append(tensor)
    return tensors
