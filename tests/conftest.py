"""Fixtures shared by every test: isolated lanza homes, and Postgres databases made per test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

# Tests log scikit-learn models with mlflow.sklearn (skops, default trusted types) in the
# same process where lanza loads models. lanza imports skops without its list of
# scikit-learn estimators (it names the trusted types of every load itself); importing
# skops first, as a user's own code would, keeps that list for MLflow's calls.
import skops.io  # noqa: F401
from sklearn.datasets import load_breast_cancer

from lanza.settings import Settings
from lanza.workspace import Workspace

# The breast-cancer table's columns most tests use: small enough to send, enough to drift.
CANCER_FEATURES = ["mean_radius", "mean_texture", "mean_smoothness", "worst_area"]
PG_ADMIN = os.environ.get("LANZA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's LANZA_* or MLflow settings, or writes to the cwd."""
    for key in list(os.environ):
        if key.startswith("LANZA_") or key == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(key)
    monkeypatch.setenv("LANZA_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast-cancer table: ``CANCER_FEATURES`` and ``target``."""
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame[[*CANCER_FEATURES, "target"]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The LANZA_HOME of this test."""
    return tmp_path / "home"


@pytest.fixture
def workspace(home: Path) -> Iterator[Workspace]:
    """A workspace on sqlite under a temporary home."""
    ws = Workspace(Settings(home=home))
    yield ws
    ws.close()


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local Postgres server, dropped after the test."""
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}")
        pytest.skip("PostgreSQL is not reachable")
    name = f"lanza_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_workspace(request: pytest.FixtureRequest, home: Path) -> Iterator[Workspace]:
    """A workspace whose lanza database and MLflow store are sqlite, then Postgres."""
    if request.param == "sqlite":
        ws = Workspace(Settings(home=home))
    else:
        url = request.getfixturevalue("postgres_url")
        pg = url.replace("postgresql://", "postgresql+psycopg://")
        ws = Workspace(Settings(home=home, database_url=url, tracking_uri=pg))
    yield ws
    ws.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium from the system (``make browser`` installs it), driven by Playwright."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Chromium is not installed (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a test marked ``postgres`` that skips (for any reason) is reported as failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") and item.get_closest_marker("postgres"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where PostgreSQL tests must run: {report.longrepr}"
