"""Differential conformance with ``mlflow models serve``: one corpus of models and payloads,
sent to both servers on real ports; predictions and status classes must agree.

Every model is registered in one MLflow store and served twice: by
``mlflow models serve --env-manager local`` (one process per model) and by one lanza
server holding a deployment per model. A case that differs on purpose is listed in
``DELIBERATE`` with its reason (the README lists the same differences).
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import time
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
import xgboost
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from lanza.server import create_app
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.integration.serving import conformance_models
from tests.servers import free_port, running, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
JSON = "application/json"


@dataclass(frozen=True)
class Case:
    """One request: its name, content type and body."""

    name: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What a server answered."""

    status: int
    body: Any


def _json(name: str, document: Any) -> Case:
    return Case(name, JSON, orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))


def frame_forms(frame: pd.DataFrame, prefix: str = "") -> list[Case]:
    """Every form ``mlflow models serve`` accepts for a frame."""
    records = orjson.loads(frame.to_json(orient="records", date_format="iso"))
    split = orjson.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    return [
        _json(prefix + "dataframe_split", {"dataframe_split": split}),
        _json(prefix + "dataframe_records", {"dataframe_records": records}),
        _json(prefix + "instances", {"instances": records}),
        _json(prefix + "inputs_columns", {"inputs": {k: list(v) for k, v in split_columns(split)}}),
        Case(prefix + "csv", "text/csv", frame.to_csv(index=False).encode()),
        Case(prefix + "parquet", "application/vnd.apache.parquet", parquet.getvalue()),
    ]


def split_columns(split: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """``dataframe_split`` as (column, values) pairs."""
    return [(c, [row[i] for row in split["data"]]) for i, c in enumerate(split["columns"])]


def edge_cases(frame: pd.DataFrame) -> list[Case]:
    """Requests both servers must refuse, or answer, alike."""
    columns = list(frame.columns)
    first = frame.iloc[:2]
    missing = first.drop(columns=columns[-1])
    text_in_number = orjson.loads(first.to_json(orient="split", index=False))
    number_column = next(
        (i for i, c in enumerate(columns) if pd.api.types.is_float_dtype(frame[c])), None
    )
    cases = [
        _json("missing_column", {"dataframe_split": _split(missing)}),
        _json("no_format_key", {"data": []}),
        _json("two_format_keys", {"instances": [], "inputs": []}),
        Case("not_json", JSON, b"{oops"),
        Case("unknown_content_type", "text/plain", b"a,b"),
        _json("unicode_extra_column", {"dataframe_split": _split(first.assign(**{"é": 1}))}),
    ]
    if number_column is not None:
        text_in_number["data"][0][number_column] = "not a number"
        cases.append(_json("text_in_number_column", {"dataframe_split": text_in_number}))
        ints = first.copy()
        ints[columns[number_column]] = ints[columns[number_column]].round().astype("int64")
        cases.append(_json("ints_in_double_column", {"dataframe_split": _split(ints)}))
        null = orjson.loads(first.to_json(orient="split", index=False))
        null["data"][0][number_column] = None
        cases.append(_json("null_in_number_column", {"dataframe_split": null}))
    return cases


def _split(frame: pd.DataFrame) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(
        frame.to_json(orient="split", index=False, date_format="iso")
    )
    return document


# ---------------------------------------------------------------- the model corpus


@dataclass
class Entry:
    """A registered model and the requests sent to it."""

    name: str
    cases: list[Case]


def _cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    data.columns = [c.replace(" ", "_") for c in data.columns]
    return data[["mean_radius", "mean_texture", "mean_smoothness", "worst_area", "target"]]


def register_corpus(tracking_uri: str, artifacts: Path) -> list[Entry]:
    """Log and register every model of the corpus; return the requests for each."""
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.create_experiment("conformance", artifact_location=artifacts.as_uri())
    entries: list[Entry] = []
    try:
        for build in (_sklearn, _pipeline, _xgboost, _tensor, _params, _datetime, _dict):
            with mlflow.start_run(experiment_id=experiment):
                entries.append(build())
    finally:
        mlflow.set_tracking_uri(None)
    return entries


def _sklearn() -> Entry:
    data = _cancer()
    x = data.drop(columns="target")
    model = LogisticRegression(max_iter=5000).fit(x, data["target"])
    signature = infer_signature(x, model.predict(x))
    mlflow.sklearn.log_model(
        model, name="m", signature=signature, registered_model_name="skl", pip_requirements=[]
    )
    sample = x.head(5)
    params = _json(
        "params_without_params_schema",
        {"dataframe_split": _split(sample), "params": {"anything": 1}},
    )
    return Entry("skl", [*frame_forms(sample), *edge_cases(x), params])


def _pipeline() -> Entry:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "city": rng.choice(["Lima", "Quito", "La Paz"], n),
            "zip": rng.choice(["02134", "10001", "94105"], n),
            "amount": rng.normal(100, 20, n).round(2),
        }
    )
    target = (frame["city"] == "Lima") ^ (frame["amount"] > 100)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("text", OneHotEncoder(handle_unknown="ignore"), ["city", "zip"])],
                    remainder="passthrough",
                ),
            ),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    ).fit(frame, target)
    signature = infer_signature(frame, model.predict(frame))
    mlflow.sklearn.log_model(
        model, name="m", signature=signature, registered_model_name="text", pip_requirements=[]
    )
    sample = frame.head(4)
    unseen = sample.assign(city=["Atlantis", "Lima", "Quito", "La Paz"])
    return Entry(
        "text",
        [
            *frame_forms(sample),
            *edge_cases(frame),
            _json("unseen_category", {"dataframe_split": _split(unseen)}),
            _json("int_in_text_column", {"dataframe_records": [{**_rec(sample), "zip": 2134}]}),
        ],
    )


def _rec(frame: pd.DataFrame) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(frame.head(1).to_json(orient="records"))[0]
    return record


def _xgboost() -> Entry:
    data = _cancer()
    x = data.drop(columns="target")
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(x, data["target"])
    signature = infer_signature(x, model.predict(x))
    mlflow.xgboost.log_model(
        model, name="m", signature=signature, registered_model_name="xgb", pip_requirements=[]
    )
    return Entry("xgb", [*frame_forms(x.head(5)), *edge_cases(x)])


def _tensor() -> Entry:
    data = _cancer()
    x = data.drop(columns="target").to_numpy()
    model = LogisticRegression(max_iter=5000).fit(x, data["target"])
    mlflow.sklearn.log_model(
        model, name="m", input_example=x[:2], registered_model_name="tensor", pip_requirements=[]
    )
    rows = x[:3].tolist()
    frame = pd.DataFrame(x[:3])
    frame.columns = [str(c) for c in frame.columns]
    return Entry(
        "tensor",
        [
            _json("instances_rows", {"instances": rows}),
            _json("inputs_rows", {"inputs": rows}),
            _json("inputs_ints", {"inputs": [[round(v) for v in row] for row in rows]}),
            _json("dataframe_split", {"dataframe_split": _split(frame)}),
            Case("csv", "text/csv", frame.to_csv(index=False).encode()),
            _json("wrong_width", {"inputs": [row[:3] for row in rows]}),
            _json("text_value", {"inputs": [["a", 1, 2, 3]]}),
        ],
    )


def _params() -> Entry:
    frame = pd.DataFrame({"x": [1.0, 2.5, -3.0]})
    params = ParamSchema(
        [
            ParamSpec("scale", "double", 1.0),
            ParamSpec("k", "long", 1),
            ParamSpec("label", "string", "none"),
        ]
    )
    signature = ModelSignature(
        inputs=Schema([ColSpec("double", "x")]),
        outputs=Schema([ColSpec("double", "total"), ColSpec("string", "label")]),
        params=params,
    )
    mlflow.pyfunc.log_model(
        name="m",
        python_model=conformance_models.ScaledFrame(),
        signature=signature,
        registered_model_name="params",
        pip_requirements=[],
    )
    split = _split(frame)
    return Entry(
        "params",
        [
            *frame_forms(frame),
            _json(
                "params_all",
                {"dataframe_split": split, "params": {"scale": 2.0, "k": 3, "label": "a"}},
            ),
            _json("params_int_for_double", {"inputs": {"x": [1.0]}, "params": {"scale": 2}}),
            _json("params_unknown_ignored", {"dataframe_split": split, "params": {"zzz": 1}}),
            _json("params_wrong_type", {"dataframe_split": split, "params": {"k": "three"}}),
            _json("params_float_for_long", {"dataframe_split": split, "params": {"k": 2.5}}),
            _json("params_not_object", {"dataframe_split": split, "params": [1, 2]}),
        ],
    )


def _datetime() -> Entry:
    frame = pd.DataFrame(
        {"when": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-12-31"]), "n": [0, 1, 2]}
    )
    signature = ModelSignature(
        inputs=Schema([ColSpec("datetime", "when"), ColSpec("long", "n")]),
        outputs=Schema([ColSpec("long", "day")]),
    )
    mlflow.pyfunc.log_model(
        name="m",
        python_model=conformance_models.DayOfYear(),
        signature=signature,
        registered_model_name="dates",
        pip_requirements=[],
    )
    text = frame.assign(when=frame["when"].dt.strftime("%Y-%m-%d"))
    return Entry(
        "dates", [*frame_forms(text), _json("iso_timestamps", {"dataframe_split": _split(frame)})]
    )


def _dict() -> Entry:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.5]})
    signature = ModelSignature(inputs=Schema([ColSpec("double", "x")]))
    mlflow.pyfunc.log_model(
        name="m",
        python_model=conformance_models.Columns(),
        signature=signature,
        registered_model_name="columns",
        pip_requirements=[],
    )
    return Entry("columns", frame_forms(frame))


# ---------------------------------------------------------------- deliberate differences

EXTRA = (
    "lanza refuses a column the model does not take (422 naming it) unless the deployment "
    "says extra_columns: ignore"
)
MLFLOW_CSV = (
    "mlflow models serve cannot parse this CSV (its reader fails on the signature's types); "
    "lanza reads it"
)
RAISES = "a model that raises answers 500 in lanza (the model failed); MLflow answers 400"
DELIBERATE: dict[tuple[str, str], str] = {
    ("skl", "null_in_number_column"): RAISES,
    ("text", "null_in_number_column"): RAISES,
    ("skl", "unicode_extra_column"): EXTRA,
    ("xgb", "unicode_extra_column"): EXTRA,
    (
        "text",
        "int_in_text_column",
    ): "lanza's input rules refuse a number in a text column (422) rather than cast it",
    ("tensor", "csv"): MLFLOW_CSV,
    ("dates", "csv"): MLFLOW_CSV,
    (
        "dates",
        "parquet",
    ): "mlflow models serve refuses Parquet's datetime64[us] in a datetime column; lanza reads it",
}
# Deployments that drop extra columns, as mlflow models serve does.
IGNORE_EXTRA = {"text"}


# ---------------------------------------------------------------- the two servers


@dataclass
class Servers:
    """Where each model is served by MLflow, and the lanza server's URL."""

    mlflow: dict[str, str]
    lanza: str
    entries: list[Entry]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    home = tmp_path_factory.mktemp("conformance")
    settings = Settings(
        home=home / "lanza",
        allow_pickle=True,
        server=ServerSettings(poll_interval_s=0.3),
    )
    tracking = settings.tracking
    entries = register_corpus(tracking, home / "artifacts")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    logs = home / "logs"
    logs.mkdir()
    try:
        for entry in entries:
            port = free_port()
            log = (logs / f"{entry.name}.log").open("wb")
            processes[entry.name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlflow",
                    "models",
                    "serve",
                    "-m",
                    f"models:/{entry.name}/1",
                    "-p",
                    str(port),
                    "--env-manager",
                    "local",
                    "--workers",
                    "1",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=home,
            )
            urls[entry.name] = f"http://127.0.0.1:{port}"
        workspace = Workspace(settings)
        with running(create_app(workspace=workspace)) as url:
            for entry in entries:
                body = {
                    "name": entry.name,
                    "model": f"{entry.name}/1",
                    "max_batch_size": 1,
                    "extra_columns": "ignore" if entry.name in IGNORE_EXTRA else "refuse",
                }
                created = httpx.post(f"{url}/api/v1/deployments", json=body, timeout=60)
                assert created.status_code in (200, 201), created.text
            wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, timeout=120)
            for name, base in urls.items():
                _wait_mlflow(base, processes[name], logs / f"{name}.log")
            yield Servers(urls, url, entries)
        workspace.close()
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_mlflow(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow models serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"mlflow models serve did not start: {log.read_text()[-2000:]}")


def _ask(url: str, case: Case) -> Answer:
    response = httpx.post(
        url, content=case.body, headers={"content-type": case.content_type}, timeout=60
    )
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(response.status_code, body)


def _same(left: Any, right: Any) -> bool:
    if (
        isinstance(left, float | int)
        and isinstance(right, float | int)
        and not isinstance(left, bool)
    ):
        if isinstance(left, float) and math.isnan(left):
            return isinstance(right, float) and math.isnan(right)
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _same(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    return bool(left == right)


def differences(servers: Servers, entry: Entry) -> dict[str, str]:
    """Each case where the servers disagree, with both answers."""
    found: dict[str, str] = {}
    for case in entry.cases:
        theirs = _ask(f"{servers.mlflow[entry.name]}/invocations", case)
        ours = _ask(f"{servers.lanza}/deployments/{entry.name}/invocations", case)
        agree = theirs.status // 100 == ours.status // 100
        if agree and theirs.status < 300:
            agree = _same(theirs.body.get("predictions"), ours.body.get("predictions"))
        if not agree:
            found[case.name] = (
                f"mlflow {theirs.status} {str(theirs.body)[:300]} | "
                f"lanza {ours.status} {str(ours.body)[:300]}"
            )
    return found


MODELS = ["skl", "text", "xgb", "tensor", "params", "dates", "columns"]


@pytest.mark.parametrize("model", MODELS)
def test_lanza_answers_as_mlflow_models_serve(servers: Servers, model: str) -> None:
    entry = next(e for e in servers.entries if e.name == model)
    found = differences(servers, entry)
    unexpected = {k: v for k, v in found.items() if (model, k) not in DELIBERATE}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    stale = [k for (m, k) in DELIBERATE if m == model and k not in found]
    assert not stale, f"listed as deliberate but the servers agree: {stale}"
