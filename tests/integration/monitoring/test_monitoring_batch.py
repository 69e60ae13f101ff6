"""A batch job's sampled rows reach the prediction log, drift is seen in them, and every
scored row's flagged inputs count in data quality."""

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
from lanza.monitoring.tracking import figures
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.integration.monitoring.conftest import FEATURES


def _nightly(
    workspace: Workspace, rows: pd.DataFrame, tmp_path: Path, chunk_rows: int, log_rate: float
) -> int:
    """Score ``rows`` as a batch job logged under deployment 'nightly'; the rows scored."""
    rows.to_csv(tmp_path / "nightly.csv", index=False)
    options = BatchOptions(
        "cancer/1",
        str(tmp_path / "nightly.csv"),
        str(tmp_path / "out"),
        chunk_rows=chunk_rows,
        log_rate=log_rate,
        log_as="nightly",
    )
    return run_batch(workspace, options).rows


def test_sampled_batch_rows_are_logged_and_show_the_shifted_feature(
    monitored_settings: Settings, cancer: pd.DataFrame, tmp_path: Path
) -> None:
    rows = pd.concat([cancer[FEATURES]] * 2, ignore_index=True)
    rows["mean_radius"] += 3 * cancer["mean_radius"].std()
    workspace = Workspace(monitored_settings)
    try:
        assert _nightly(workspace, rows, tmp_path, 300, 0.25) == len(rows)
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


def test_every_flagged_batch_row_counts_in_data_quality(
    monitored_settings: Settings, cancer: pd.DataFrame, tmp_path: Path
) -> None:
    rows = cancer[FEATURES].head(400).reset_index(drop=True)
    far = rows.index % 4 == 0  # 100 rows far past the largest radius training saw
    rows.loc[far, "mean_radius"] = 1000.0
    rows.loc[rows.index % 10 == 1, "mean_texture"] = None  # 40 rows without a texture
    workspace = Workspace(monitored_settings)
    try:
        assert _nightly(workspace, rows, tmp_path, 150, 0.05) == len(rows)

        report = Monitor(workspace).report("nightly")
        data = report["data_quality"]
        # Every scored row counts, not only the 5 % logged as a sample.
        assert data["rows"] == len(rows)
        assert data["by_feature"] == [
            {"feature": "mean_radius", "reason": "out_of_range", "rows": int(far.sum())},
            {"feature": "mean_texture", "reason": "missing", "rows": 40},
        ]
        assert data["counts"] == {"out_of_range": 100, "missing": 40}
        assert data["flagged"] == 140
        reasons = [r["text"] for r in report["health"]["reasons"]]
        assert "25% of rows had out of range input values" in reasons
        assert figures(report)["flagged_out_of_range_mean_radius"] == 100.0
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
