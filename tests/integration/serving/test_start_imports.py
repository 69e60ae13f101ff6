"""A server's start path imports only what serving needs.

``lanza serve`` answers its first prediction within about two seconds only if building
the app, starting it and loading one scikit-learn model leave MLflow (and what it pulls:
pandas' peers, OpenTelemetry, protobuf), Alembic on a database already migrated, the
metrics scikit-learn keeps for monitoring, fsspec and the deep-learning stacks unimported.
Each was once imported there, at seconds a start; they load on first use instead (a
prompt, an evaluation, a monitoring step, a batch job). A fresh interpreter shows it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from lanza.serving.spec import DeploymentSpec
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace
from tests.conftest import CANCER_FEATURES

ROOT = Path(__file__).resolve().parents[3]
# Never imported by a start that serves one scikit-learn deployment, first answer included.
NOT_BY_FIRST_PREDICTION = [
    "mlflow",
    "alembic",
    "fsspec",
    "opentelemetry.sdk",
    "google.protobuf",
    "torch",
    "ray",
    "transformers",
    "grpc",
]
# Never imported by importing the server and building its app: scikit-learn and SciPy
# come with the model, if it needs them.
NOT_AT_IMPORT = [*NOT_BY_FIRST_PREDICTION, "sklearn", "scipy"]

SCRIPT = """
import asyncio, json, sys
import httpx
import lanza.server

def loaded(names):
    return [n for n in names if n in sys.modules]

async def main():
    app = lanza.server.create_app()
    report = {"import": loaded(NAMES)}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lanza") as client:
            answer = await client.post("/api/v1/deployments/d/predict", json=BODY)
        report["status"] = answer.status_code
        report["first_prediction"] = loaded(NAMES)
    print(json.dumps(report))

asyncio.run(main())
"""


def test_the_start_path_imports_no_heavy_module(
    serving_workspace: Workspace, cancer: pd.DataFrame, tmp_path: Path
) -> None:
    settings = serving_workspace.settings
    DeploymentStore(serving_workspace.database).create(  # migrates the database, as any
        DeploymentSpec(name="d", model="cancer@champion")  # earlier command did
    )
    row = cancer[CANCER_FEATURES].iloc[0].to_dict()
    names = NOT_AT_IMPORT
    script = SCRIPT.replace("NAMES", repr(names)).replace("BODY", repr({"instances": [row]}))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "LANZA_HOME": str(settings.home),
        "LANZA_DATABASE_URL": settings.database,
        "MLFLOW_TRACKING_URI": settings.tracking,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert [n for n in report["import"] if n in NOT_AT_IMPORT] == []
    assert [n for n in report["first_prediction"] if n in NOT_BY_FIRST_PREDICTION] == []
