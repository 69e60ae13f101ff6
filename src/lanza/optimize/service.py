"""``optimize``: convert a registered version to ONNX, check it, time it, register it.

Parity is checked on the rows ``lanza advise`` measures on: the reference sample
``lanza train`` registers, else the input example MLflow saved, else rows generated from
the signature (``lanza.advisor.service.reference_rows``), so a model registered with
MLflow alone converts too; the report says which rows it used.

The new version is registered under the same model name, with no alias moved: it
carries tags naming the version it came from, the parity and the speed-up, and the
source's reference sample and task tags, so monitoring and ``lanza advise`` work on it
as on the original. Nothing is registered when the predictions do not match.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.models import Model

from lanza.advisor.service import reference_rows
from lanza.errors import ConversionError
from lanza.optimize.checks import Parity, Speed, compare, time_both
from lanza.optimize.convert import convert
from lanza.registry import ModelVersionInfo
from lanza.runtime.base import ModelRuntime
from lanza.runtime.flavours import PyfuncRuntime, SklearnRuntime
from lanza.runtime.onnxrt import OnnxRuntime
from lanza.runtime.rules import check_frame
from lanza.runtime.xgb import XGBoostRuntime
from lanza.workspace import Workspace

EXPERIMENT = "lanza-optimize"
KEPT_TAGS = ("lanza.task", "lanza.target", "lanza.metric", "lanza.reference", "lanza.classes")


@dataclass(frozen=True)
class Optimized:
    """What ``lanza optimize`` did: the source, the new version, parity, speed, rewrites."""

    source: ModelVersionInfo
    created: ModelVersionInfo
    parity: Parity
    speed: Speed
    rewrites: list[str]
    sample_source: str = "reference sample"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "source": self.source.ref,
            "model": self.created.ref,
            "runtime": "onnxruntime",
            "parity": {
                "sample_source": self.sample_source,
                "rows": self.parity.rows,
                "max_abs_diff": self.parity.max_abs_diff,
                "label_mismatches": self.parity.label_mismatches,
                "tolerance": self.parity.tolerance,
            },
            "speed": {
                "batch_rows": self.speed.batch_rows,
                "single_ms": [self.speed.single_before_s * 1e3, self.speed.single_after_s * 1e3],
                "batch_ms": [self.speed.batch_before_s * 1e3, self.speed.batch_after_s * 1e3],
                "single_speedup": round(self.speed.single_speedup, 2),
                "batch_speedup": round(self.speed.batch_speedup, 2),
            },
            "rewrites": self.rewrites,
        }


def optimize(
    workspace: Workspace, reference: str, tolerance: float = 1e-4, seconds: float = 2.0
) -> Optimized:
    """Convert ``reference`` to ONNX and register it as a new version if it matches."""
    source = workspace.registry.resolve(reference)
    before = workspace.loader.load_version(source).runtime
    estimator = raw_estimator(before, source.ref)
    converted = convert(estimator, before.schema, source.ref)
    # The reference sample lanza train registers, else the model's input example, else
    # rows generated from its signature: any registered model can be checked.
    sample, sample_source = reference_rows(workspace, source, before.schema)
    frame = check_frame(sample, before.schema) if before.schema.columns else sample
    signature = Model.load(str(workspace.loader.download(source))).signature
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        _save(converted.model, folder, signature, converted.classes, source.ref)
        after = OnnxRuntime(
            source.name, "new", folder / "model.onnx", before.schema, converted.classes
        )
        parity = compare(_with_probabilities(before, estimator), after, frame, tolerance)
        if not parity.ok:
            raise ConversionError(
                f"{source.ref} converted to ONNX, but its predictions differ by up to "
                f"{parity.max_abs_diff:.3g} (tolerance {tolerance:g}; "
                f"{parity.label_mismatches} of {parity.rows} labels changed) on the "
                f"{sample_source}, so nothing was registered; pass --tolerance to accept it."
            )
        speed = time_both(before, after, frame, seconds)
        created = _register(
            workspace, source, folder, parity, speed, converted.rewrites, sample_source
        )
    return Optimized(source, created, parity, speed, converted.rewrites, sample_source)


def _with_probabilities(runtime: ModelRuntime, estimator: Any) -> ModelRuntime:
    """The source as parity should see it: a pickled scikit-learn model loads as a pyfunc,
    which answers labels only; its estimator answers probabilities (and names its classes)."""
    if not isinstance(runtime, PyfuncRuntime) or not hasattr(estimator, "predict"):
        return runtime
    return SklearnRuntime(runtime.name, runtime.version, estimator, runtime.schema)


def raw_estimator(runtime: ModelRuntime, ref: str) -> Any:
    """The scikit-learn, XGBoost or LightGBM object behind a runtime, or why there is none."""
    if isinstance(runtime, SklearnRuntime | XGBoostRuntime):
        model = runtime.model
    elif isinstance(runtime, PyfuncRuntime):
        model = runtime.model.get_raw_model()
    elif isinstance(runtime, OnnxRuntime):
        raise ConversionError(f"{ref} already runs with ONNX Runtime.")
    else:
        raise ConversionError(
            f"{ref} is a {type(runtime).__name__.removesuffix('Runtime')} model; lanza optimize "
            "converts scikit-learn, XGBoost and LightGBM models."
        )
    if type(model).__name__ == "Booster":
        raise ConversionError(
            f"{ref} is a bare {type(model).__module__.split('.')[0]} Booster; register its "
            "scikit-learn wrapper (e.g. XGBClassifier, LGBMRegressor) to convert it."
        )
    return model


def _save(graph: Any, folder: Path, signature: Any, classes: list[Any] | None, ref: str) -> None:
    import mlflow.onnx

    mlflow.onnx.save_model(
        graph,
        str(folder),
        signature=signature,
        metadata={"lanza.classes": classes, "lanza.optimized_from": ref},
        save_as_external_data=False,
    )


def _register(
    workspace: Workspace,
    source: ModelVersionInfo,
    folder: Path,
    parity: Parity,
    speed: Speed,
    rewrites: list[str],
    sample_source: str,
) -> ModelVersionInfo:
    client = workspace.mlflow
    experiment = workspace.experiment_id(EXPERIMENT)
    run = client.create_run(experiment, tags={"mlflow.runName": f"optimize {source.ref}"})
    run_id = run.info.run_id
    figures = {
        "max_abs_diff": parity.max_abs_diff,
        "label_mismatches": parity.label_mismatches,
        "single_speedup": speed.single_speedup,
        "batch_speedup": speed.batch_speedup,
    }
    for key, value in figures.items():
        client.log_metric(run_id, key, float(value))
    client.log_artifacts(run_id, str(folder), "model")
    client.set_terminated(run_id, "FINISHED")
    tags = {k: v for k, v in source.tags.items() if k in KEPT_TAGS}
    tags |= {
        "lanza.optimized_from": source.ref,
        "lanza.runtime": "onnxruntime",
        "lanza.onnx.max_abs_diff": f"{parity.max_abs_diff:.3g}",
        "lanza.onnx.label_mismatches": str(parity.label_mismatches),
        "lanza.onnx.parity_rows": str(parity.rows),
        "lanza.onnx.parity_sample": sample_source,
        "lanza.onnx.single_speedup": f"{speed.single_speedup:.2f}",
        "lanza.onnx.batch_speedup": f"{speed.batch_speedup:.2f}",
        "lanza.onnx.rewrites": json.dumps(rewrites),
    }
    description = (
        f"{source.ref} in ONNX: largest difference {parity.max_abs_diff:.3g} on "
        f"{parity.rows} rows ({sample_source}); {speed.single_speedup:.1f}x faster per row, "
        f"{speed.batch_speedup:.1f}x per batch of {speed.batch_rows}."
    )
    artifact = f"{run.info.artifact_uri}/model"
    return workspace.registry.register(source.name, artifact, run_id, tags, description)
