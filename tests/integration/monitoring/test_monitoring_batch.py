"""A batch job's sampled rows reach the prediction log, and drift is seen in them."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from lanza.batch.job import run_batch
from lanza.batch.spec import BatchOptions
from lanza.errors import InvalidInputError
from lanza.monitoring.service import Monitor
from lanza.monitoring.tables import PredictionLogRow
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.monitoring.conftest import FEATURES


def test_sampled_batch_rows_are_logged_and_show_the_shifted_feature(
    monitored_settings: Settings, cancer: pd.DataFrame, tmp_path: Path
) -> None:
    rows = pd.concat([cancer[FEATURES]] * 2, ignore_index=True)
    rows["mean_radius"] += 3 * cancer["mean_radius"].std()
    rows.to_csv(tmp_path / "nightly.csv", index=False)
    workspace = Workspace(monitored_settings)
    try:
        options = BatchOptions(
            "cancer/1",
            str(tmp_path / "nightly.csv"),
            str(tmp_path / "out"),
            chunk_rows=300,
            log_rate=0.25,
            log_as="nightly",
        )
        summary = run_batch(workspace, options)
        assert summary.rows == len(rows)
        with workspace.database.session() as session:
            logged = session.scalars(
                select(PredictionLogRow).where(PredictionLogRow.deployment == "nightly")
            ).all()
        assert 0.15 * len(rows) < len(logged) < 0.35 * len(rows)
        assert {row.face for row in logged} == {"batch"}
        assert {row.model for row in logged} == {"cancer/1"}
        assert len({row.request_id for row in logged}) == len(logged)

        report = Monitor(workspace).report("nightly")
        drifted = {f["column"]: f["drifted"] for f in report["drift"]["features"]}
        assert drifted == dict.fromkeys(FEATURES, False) | {"mean_radius": True}
        window = monitored_settings.monitoring.window
        assert report["traffic"]["requests"] == min(len(logged), window)
        # Batch rows have no latency of their own: none is reported, not 0 ms.
        assert report["latency"] == {"p50_ms": None, "p99_ms": None}
        assert all(b["p50_ms"] is None for b in report["traffic"]["timeline"])
    finally:
        workspace.close()


def test_a_log_rate_outside_zero_to_one_is_refused(
    monitored_settings: Settings, tmp_path: Path
) -> None:
    workspace = Workspace(monitored_settings)
    try:
        options = BatchOptions("cancer/1", "in.csv", str(tmp_path / "out"), log_rate=2)
        with pytest.raises(InvalidInputError, match="--log-rate must be between 0 and 1"):
            run_batch(workspace, options)
    finally:
        workspace.close()


def test_a_gs_output_without_gcsfs_says_how_to_install_it(
    monitored_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if gcsfs were not installed
    monkeypatch.delitem(sys.modules["fsspec.registry"]._registry, "gs", raising=False)
    workspace = Workspace(monitored_settings)
    try:
        options = BatchOptions("cancer/1", "in.csv", "gs://bucket/out/")
        with pytest.raises(
            InvalidInputError, match=r"gs:// needs gcsfs: pip install 'lanza\[cloud\]'"
        ):
            run_batch(workspace, options)
        assert not (Path.cwd() / "gs:").exists()
    finally:
        workspace.close()
