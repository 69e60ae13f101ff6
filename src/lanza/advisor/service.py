"""``advise``: load a registered model, measure it here, and apply the rules.

Rows to measure on, in order of preference: the reference sample ``lanza train``
registers, the input example MLflow saved with the model, or rows generated from the
model's signature. The report says which it used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.advisor.measure import (
    MAX_SPREAD,
    Measured,
    Measurement,
    ServerMeasurement,
    check_spread,
    measure,
)
from lanza.advisor.prices import PriceTable
from lanza.advisor.rules import Advice, advise
from lanza.errors import DataError, InvalidInputError
from lanza.hardware.devices import Hardware, detect
from lanza.registry import ModelVersionInfo
from lanza.runtime.schema import InputSchema
from lanza.serving.spec import DeploymentSpec
from lanza.workspace import Workspace

GENERATED_ROWS = 256
# A deployment's micro-batching defaults (lanza.serving.spec), which the server path runs.
BATCHING: dict[str, Any] = {
    name: DeploymentSpec.model_fields[name].default for name in ("max_batch_size", "max_delay_ms")
}


@dataclass(frozen=True)
class Report:
    """Everything ``lanza advise`` shows."""

    version: ModelVersionInfo
    hardware: Hardware
    sample_source: str
    cpu: Measured
    gpu: Measured | None
    gpu_source: str
    prices: PriceTable
    advice: Advice


@dataclass(frozen=True)
class AdviseRequest:
    """What ``lanza advise`` was asked."""

    reference: str
    rps: float = 0.0
    p99_ms: float = 100.0
    rows_per_day: float = 0.0
    seconds: float = 0.5
    cores: list[int] | None = None
    max_spread: float = MAX_SPREAD
    measurements: Path | None = None
    measure_only: bool = False


def run_advice(workspace: Workspace, request: AdviseRequest) -> Report:
    """Measure the model on this machine and recommend how to run it."""
    if request.rps < 0 or request.rows_per_day < 0 or request.p99_ms <= 0:
        raise DataError("--rps and --rows-per-day must be >= 0 and --p99-ms > 0.")
    if request.rps == 0 and request.rows_per_day == 0 and not request.measure_only:
        raise DataError("Give --rps (real-time load), --rows-per-day (batch volume), or both.")
    hardware = detect()
    loaded = workspace.loader.load(request.reference)
    sample, source = reference_rows(workspace, loaded.version, loaded.runtime.schema)
    cpu = measure(loaded.runtime, sample, request.seconds, cores=request.cores, **BATCHING)
    check_spread(cpu, request.max_spread)
    gpu, gpu_source = None, "no GPU on this machine"
    if hardware.has_gpu:
        on_gpu = workspace.loader.load(request.reference, device="auto").runtime
        if getattr(on_gpu, "device", "cpu") == "cuda":
            gpu = measure(on_gpu, sample, request.seconds, cores=request.cores, **BATCHING)
            check_spread(gpu, request.max_spread)
            gpu_source = f"measured here on {hardware.gpus[0].name if hardware.gpus else 'cuda'}"
        else:
            gpu_source = "this model's framework does not run on a GPU"
    if gpu is None and request.measurements is not None:
        gpu, gpu_source = read_gpu_measurements(request.measurements, loaded.version.ref)
    prices = PriceTable.load(workspace.settings.advisor.prices_path)
    note = (
        f"{gpu_source} (run `lanza advise {loaded.version.ref} --measure-only --json` on a "
        "machine with one and pass its output with --measurements)"
    )
    advice = advise(
        cpu, prices, request.rps, request.p99_ms, request.rows_per_day, gpu, gpu_note=note
    )
    return Report(loaded.version, hardware, source, cpu, gpu, gpu_source, prices, advice)


def reference_rows(
    workspace: Workspace, version: ModelVersionInfo, schema: InputSchema
) -> tuple[pd.DataFrame, str]:
    """Rows to measure on, and where they came from (see the module docstring)."""
    if version.tags.get("lanza.reference"):
        return reference_sample(workspace, version), "reference sample"
    example = _input_example(workspace, version, schema)
    if example is not None and len(example):
        return example, "input example"
    if schema.columns:
        return generated_rows(schema), "rows generated from the signature"
    if schema.tensors:
        return generated_tensors(schema), "rows generated from the signature"
    raise DataError(
        f"{version.ref} has no reference sample, no input example and no column signature "
        "to measure on; register it with a signature or an input example."
    )


def reference_sample(workspace: Workspace, version: ModelVersionInfo) -> pd.DataFrame:
    """The reference sample registered with the model by ``lanza train``, target dropped."""
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


def generated_rows(schema: InputSchema, rows: int = GENERATED_ROWS) -> pd.DataFrame:
    """Plausible rows from a column signature: numbers near zero, short text, dates."""
    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {}
    for column in schema.columns:
        kind = column.type
        if kind in ("double", "float"):
            columns[column.name] = rng.normal(size=rows)
        elif kind in ("long", "integer"):
            columns[column.name] = rng.integers(0, 10, rows)
        elif kind == "boolean":
            columns[column.name] = rng.random(rows) < 0.5
        elif kind == "datetime":
            columns[column.name] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
                rng.integers(0, 365, rows), unit="D"
            )
        else:
            columns[column.name] = rng.choice(["a", "b", "c"], rows).astype(object)
    return pd.DataFrame(columns)


def generated_tensors(schema: InputSchema, rows: int = GENERATED_ROWS) -> pd.DataFrame:
    """Plausible rows for a tensor signature: each tensor's shape (a free size taken as 1),
    numbers near zero, in the form the data plane gives a tensor model."""
    rng = np.random.default_rng(0)
    columns: dict[str, list[Any]] = {}
    for spec in schema.tensors:
        shape = (rows, *(max(d, 1) for d in spec.shape[1:]))
        kind = np.dtype(spec.dtype).kind if spec.dtype not in ("str", "string") else "U"
        if kind == "f":
            values: np.ndarray[Any, Any] = rng.normal(size=shape)
        elif kind in "iu":
            values = rng.integers(0, 10, shape)
        elif kind == "b":
            values = rng.random(shape) < 0.5
        else:
            values = rng.choice(np.array(["a", "b", "c"], dtype=object), shape)
        columns[spec.label] = values.astype(spec.dtype if kind in "fiub" else object).tolist()
    return _tensor_frame(columns, rows, schema)


def _tensor_frame(columns: dict[str, list[Any]], count: int, schema: InputSchema) -> pd.DataFrame:
    """Tensor rows checked as a request's are: one column per tensor, a row's array per cell."""
    from lanza.runtime.tensors import validate_tensors

    checked = validate_tensors(columns, None, count, schema)
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in checked.items()})


def _input_example(
    workspace: Workspace, version: ModelVersionInfo, schema: InputSchema
) -> pd.DataFrame | None:
    """The input example MLflow saved with the model, as a frame, when there is one."""
    from mlflow.models import Model

    folder = workspace.loader.download(version)
    try:
        example = Model.load(str(folder)).load_input_example(str(folder))
    except Exception:  # an unreadable example is the same as none: fall through
        return None
    if schema.tensors and isinstance(example, np.ndarray | dict):
        arrays = example if isinstance(example, dict) else {schema.tensors[0].label: example}
        values = {str(k): np.asarray(v).tolist() for k, v in arrays.items()}
        count = len(next(iter(values.values()), []))
        return _tensor_frame(values, count, schema) if count else None
    if isinstance(example, pd.DataFrame):
        return example
    if isinstance(example, dict) and all(np.ndim(v) <= 1 for v in example.values()):
        return pd.DataFrame({k: np.atleast_1d(v) for k, v in example.items()})
    if isinstance(example, np.ndarray) and example.ndim == 2:
        return pd.DataFrame(example)
    return None


def measurements_json(report: Report) -> dict[str, Any]:
    """The measurements alone, as ``--measure-only --json`` prints and ``--measurements`` reads."""
    return {
        "model": report.version.ref,
        "hardware": asdict(report.hardware),
        "cpu": asdict(report.cpu),
        "gpu": asdict(report.gpu) if report.gpu else None,
    }


def read_gpu_measurements(path: Path, ref: str) -> tuple[Measured | None, str]:
    """The GPU figures of a ``--measure-only --json`` file, with where they came from."""
    try:
        data = json.loads(path.read_text())
        raw = data.get("gpu")
        if raw is None:
            return None, f"{path} holds no GPU measurement"
        measured = Measured(
            raw["device"],
            list(raw["cores"]),
            [Measurement(**m) for m in raw["batches"]],
            ServerMeasurement(**raw["server"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInputError(
            f"--measurements {path} is not the output of lanza advise --measure-only --json "
            f"({exc})."
        ) from exc
    gpus = data.get("hardware", {}).get("gpus") or [{}]
    card = gpus[0].get("name", "a GPU")
    model = data.get("model", "?")
    where = f"measured on {card}, read from {path}"
    if model.split("/")[0].split("@")[0] != ref.split("/", maxsplit=1)[0]:
        where += f" (measured for {model})"
    return measured, where
