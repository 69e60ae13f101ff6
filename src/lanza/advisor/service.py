"""``advise``: load a registered model, measure it here, and apply the rules."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lanza.advisor.measure import Measurement, measure
from lanza.advisor.prices import PriceTable
from lanza.advisor.rules import Advice, advise
from lanza.errors import DataError
from lanza.hardware.devices import Hardware, detect
from lanza.registry import ModelVersionInfo
from lanza.workspace import Workspace


@dataclass(frozen=True)
class Report:
    """Everything ``lanza advise`` shows."""

    version: ModelVersionInfo
    hardware: Hardware
    measurements: list[Measurement]
    prices: PriceTable
    advice: Advice


def run_advice(
    workspace: Workspace,
    reference: str,
    rps: float,
    p99_ms: float,
    rows_per_day: float,
    seconds: float = 0.5,
) -> Report:
    """Measure the model on this machine and recommend how to run it."""
    if rps < 0 or rows_per_day < 0 or p99_ms <= 0:
        raise DataError("--rps and --rows-per-day must be >= 0 and --p99-ms > 0.")
    if rps == 0 and rows_per_day == 0:
        raise DataError("Give --rps (real-time load), --rows-per-day (batch volume), or both.")
    loaded = workspace.loader.load(reference)
    sample = reference_sample(workspace, loaded.version)
    measurements = measure(loaded.runtime, sample, seconds)
    prices = PriceTable.load(workspace.settings.advisor.prices_path)
    deep = loaded.runtime.__class__.__name__.lower().startswith(("torch", "pytorch"))
    advice = advise(measurements, prices, rps, p99_ms, rows_per_day, deep)
    return Report(loaded.version, detect(), measurements, prices, advice)


def reference_sample(workspace: Workspace, version: ModelVersionInfo) -> pd.DataFrame:
    """Rows to measure on: the reference sample registered with the model, target dropped."""
    import mlflow.artifacts

    uri = version.tags.get("lanza.reference")
    if not uri:
        raise DataError(
            f"{version.ref} has no reference sample to measure on "
            "(train it with lanza train, which registers one)."
        )
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=uri, tracking_uri=str(workspace.mlflow.tracking_uri)
    )
    frame = pd.read_parquet(path)
    return frame.drop(columns=[version.tags.get("lanza.target", "")], errors="ignore")
