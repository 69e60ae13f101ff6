"""Record a training run in MLflow and register its pick.

One parent run per ``lanza train``, a nested run per candidate, the leaderboard and the
selection as artifacts, and the picked pipeline saved in the skops format with its
signature, an input example and a reference sample of the training data.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow.sklearn
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from lanza.experiments import experiment_id
from lanza.monitoring import estimation
from lanza.registry.registry import CHALLENGER, CHAMPION, ModelVersionInfo, Registry
from lanza.runtime.rules import describe_inputs
from lanza.runtime.serialization import VerifiedCache, dump_model, trusted_types
from lanza.training.candidates import final_estimator
from lanza.training.data import TrainingData
from lanza.training.trainer import CandidateResult, Leaderboard
from lanza.workspace import Workspace

EXPERIMENT = "lanza-training"
REFERENCE_PATH = "reference/reference.parquet"


@dataclass(frozen=True)
class TrainedModel:
    """What a training run produced in the registry."""

    name: str
    version: str
    alias: str
    run_id: str
    experiment_id: str
    reason: str


class TrainingTracker:
    """Writes training runs to MLflow through an explicit client."""

    def __init__(
        self,
        client: MlflowClient,
        registry: Registry,
        artifact_root: str,
        verified: VerifiedCache | None = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.artifact_root = artifact_root.rstrip("/")
        self.verified = verified
        self._datasets: dict[str, Any] = {}

    def warm_up(self, data: TrainingData) -> None:
        """Pay, before a budgeted search, the costs that recording would pay after it.

        The dataset's schema is inferred, and MLflow maps every installed package to its
        modules (once per process, for saving a model): seconds each on a large table or
        a busy machine. Done here, the search's clock counts them and the time kept for
        recording covers only what depends on the pick.
        """
        self._dataset(data)
        try:
            from mlflow.utils.requirements_utils import _check_requirement_satisfied

            _check_requirement_satisfied("scikit-learn")
        except Exception:  # a private helper: without it, recording pays the cost
            return

    def experiment_id(self, name: str = EXPERIMENT) -> str:
        """The experiment's id, created with lanza's artifact root when missing."""
        return experiment_id(self.client, name, self.artifact_root)

    def record(
        self,
        model_name: str,
        data: TrainingData,
        board: Leaderboard,
        params: dict[str, Any],
        promote: bool = False,
        reference_rows: int = 5000,
    ) -> TrainedModel:
        """Log the parent and nested runs, register the pick and set its alias."""
        with warnings.catch_warnings():
            # MLflow's hints on schemas and dataset sources are for its own users' code.
            warnings.simplefilter("ignore", UserWarning)
            return self._record(model_name, data, board, params, promote, reference_rows)

    def _record(
        self,
        model_name: str,
        data: TrainingData,
        board: Leaderboard,
        params: dict[str, Any],
        promote: bool,
        reference_rows: int,
    ) -> TrainedModel:
        experiment = self.experiment_id()
        parent = self.client.create_run(
            experiment, run_name=f"train-{model_name}", tags={"lanza.kind": "training"}
        )
        run_id = parent.info.run_id
        created: ModelVersionInfo | None = None
        try:
            self._log_parent(run_id, data, board, params)
            for result in board.results:
                self._log_candidate(experiment, run_id, result, board)
            self._log_artifacts(run_id, data, board, reference_rows)
            created = self._register(model_name, run_id, data, board)
            alias = self._alias_for(model_name, created, promote)
            self.client.set_terminated(run_id, "FINISHED")
        except BaseException:
            if created is not None:
                self.registry.delete(model_name, created.version, force=True)
            self.client.set_terminated(run_id, "FAILED")
            raise
        return TrainedModel(
            model_name, created.version, alias, run_id, experiment, board.selection.reason
        )

    def _log_parent(
        self, run_id: str, data: TrainingData, board: Leaderboard, params: dict[str, Any]
    ) -> None:
        pick = board.pick
        now = int(time.time() * 1000)
        all_params = {
            **params,
            "task": data.task,
            "target": data.target_name,
            "metric": board.metric.name,
            "rows": len(data.features),
            "columns": data.features.shape[1],
            "picked": pick.name,
        }
        self.client.log_batch(
            run_id,
            metrics=[
                Metric(f"cv_{board.metric.name}", pick.mean, now, 0),
                Metric(f"cv_{board.metric.name}_std", pick.std, now, 0),
                Metric("search_seconds", board.seconds, now, 0),
            ],
            params=[Param(k, str(v)[:6000]) for k, v in all_params.items()],
            tags=[
                RunTag("lanza.dataset_digest", data.digest),
                RunTag("lanza.selection", board.selection.reason),
                RunTag("lanza.notes", "\n".join(data.notes)[:5000]),
                RunTag(
                    "lanza.skipped",
                    "\n".join(f"{s.name}: {s.reason}" for s in board.skipped)[:5000],
                ),
                RunTag(
                    "lanza.failed",
                    "\n".join(f"{f.name}: {f.reason}" for f in board.failed)[:5000],
                ),
            ],
        )
        self.client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(self._dataset(data), [InputTag("mlflow.data.context", "training")])
            ],
        )

    def _dataset(self, data: TrainingData) -> Any:
        """The training table as an MLflow dataset: its digest, source and inferred schema.

        Inferring the schema reads every value of text columns (seconds on a large
        table), so it is made once per table and kept.
        """
        if data.digest in self._datasets:
            return self._datasets[data.digest]
        frame = data.features.assign(**{data.target_name: data.target})
        named = Path(data.source).name if data.source.startswith("/") else "training-data"
        if data.source.startswith("/"):
            dataset = from_pandas(
                frame, source=data.source, targets=data.target_name, name=named, digest=data.digest
            )
        else:
            dataset = from_pandas(frame, targets=data.target_name, name=named, digest=data.digest)
        self._datasets = {data.digest: dataset._to_mlflow_entity()}
        return self._datasets[data.digest]

    def _log_candidate(
        self, experiment: str, parent_id: str, result: CandidateResult, board: Leaderboard
    ) -> None:
        run = self.client.create_run(
            experiment,
            run_name=result.name,
            tags={"mlflow.parentRunId": parent_id, "lanza.kind": "candidate"},
        )
        now = int(time.time() * 1000)
        metric = board.metric.name
        metrics = [
            Metric(f"cv_{metric}", result.mean, now, 0),
            Metric(f"cv_{metric}_std", result.std, now, 0),
            Metric("fit_seconds", result.fit_seconds, now, 0),
            Metric("latency_ms_per_row", result.latency_ms, now, 0),
            Metric("batch_us_per_row", result.batch_latency_us, now, 0),
            Metric("model_size_bytes", float(result.size_bytes), now, 0),
        ]
        metrics += [Metric(f"fold_{metric}", s, now, i) for i, s in enumerate(result.scores)]
        params = [Param("candidate", result.name), Param("complexity", str(result.complexity))]
        params += [
            Param(f"model.{k}", str(v)[:500])
            for k, v in result.model.named_steps["model"].get_params().items()
        ]
        self.client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=params,
            tags=[RunTag("lanza.picked", str(result.name == board.pick.name))],
        )
        self.client.set_terminated(run.info.run_id, "FINISHED")

    def _log_artifacts(
        self, run_id: str, data: TrainingData, board: Leaderboard, reference_rows: int
    ) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "leaderboard.json").write_text(json.dumps(board.rows(), indent=2))
            (folder / "selection.json").write_text(
                json.dumps(
                    {
                        "rule": "simplest candidate whose mean CV score is within one standard "
                        "error of the best",
                        **board.selection.__dict__,
                        "skipped": [s.__dict__ for s in board.skipped],
                        "failed": [{"name": f.name, "reason": f.reason} for f in board.failed],
                        "notes": list(data.notes),
                        "folds": data.folds,
                        "search_seconds": round(board.seconds, 3),
                    },
                    indent=2,
                )
            )
            self.client.log_artifacts(run_id, str(folder))
            reference = folder / "reference"
            reference.mkdir()
            sample = data.features.assign(**{data.target_name: data.target})
            if len(sample) > reference_rows:
                sample = sample.sample(reference_rows, random_state=0)
            sample.to_parquet(reference / "reference.parquet", index=False)
            self.client.log_artifacts(run_id, str(reference), "reference")
            estimator = folder / estimation.FOLDER
            pick = board.pick.model
            held_out = board.pick.held_out
            if estimation.fit_and_save(
                pick, data.features, data.target, data.task, estimator, held_out
            ):
                self.client.log_artifacts(run_id, str(estimator), estimation.FOLDER)
            model_dir = folder / "model"
            self._save_model(board.pick.model, data, model_dir)
            self.client.log_artifacts(run_id, str(model_dir), "model")
            if self.verified is not None:
                # This process built the model: the first load anywhere on this machine
                # can skip the skops check it would only pass.
                for saved in model_dir.glob("*.skops"):
                    self.verified.add(saved.read_bytes(), board.pick.model)

    @staticmethod
    def _save_model(model: Any, data: TrainingData, path: Path) -> None:
        example = data.features.head(5)
        # Integer columns are declared as doubles so that a missing value at serving time
        # is a NaN the pipeline imputes, not a schema error.
        sample = data.features.head(200)
        ints = [c for c in sample.columns if pd.api.types.is_integer_dtype(sample[c])]
        sample = sample.astype(dict.fromkeys(ints, "float64"))
        signature = infer_signature(sample, model.predict(example.head(1)))
        mlflow.sklearn.save_model(
            model,
            str(path),
            serialization_format="skops",
            skops_trusted_types=trusted_types(dump_model(model)),
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(model),
            # What training saw of each input, so serving can flag what it never saw.
            metadata={"lanza.inputs": describe_inputs(data.features)},
        )

    def _register(
        self, name: str, run_id: str, data: TrainingData, board: Leaderboard
    ) -> ModelVersionInfo:
        run = self.client.get_run(run_id)
        pick = board.pick
        tags = {
            "lanza.task": data.task,
            "lanza.target": data.target_name,
            "lanza.metric": board.metric.name,
            "lanza.cv_mean": f"{pick.mean:.6f}",
            "lanza.cv_std": f"{pick.std:.6f}",
            "lanza.candidate": pick.name,
            "lanza.dataset_digest": data.digest,
            "lanza.train_run_id": run_id,
            "lanza.reference": f"{run.info.artifact_uri}/{REFERENCE_PATH}",
            "lanza.training_rows": str(len(data.features)),
            "lanza.latency_ms_per_row": f"{pick.latency_ms:.4f}",
        }
        if data.task == "classification":
            tags["lanza.classes"] = json.dumps(data.classes)
        return self.registry.register(
            name, f"{run.info.artifact_uri}/model", run_id, tags, board.selection.reason
        )

    def _alias_for(self, name: str, created: ModelVersionInfo, promote: bool) -> str:
        model = self.registry.get_model(name)
        first = CHAMPION not in model.aliases
        alias = CHAMPION if first or promote else CHALLENGER
        reason = "first version" if first else ("--promote" if promote else "new candidate")
        if alias == CHAMPION:
            self.registry.promote(name, created.version, CHAMPION, reason)
        else:
            self.registry.set_alias(name, CHALLENGER, created.version, "promote", reason)
        return alias


def _requirements(model: Any) -> list[str]:
    packages = ["scikit-learn", "skops", "numpy", "pandas"]
    if "xgboost" in type(final_estimator(model)).__module__:
        packages.append("xgboost")
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            if package == "xgboost":
                pins.append(f"xgboost=={version('xgboost-cpu')}")
    return pins


def tracker(workspace: Workspace) -> TrainingTracker:
    """The tracker writing ``workspace``'s training runs, with its verified-model cache."""
    assert workspace.settings.artifact_root is not None
    return TrainingTracker(
        workspace.mlflow,
        workspace.registry,
        workspace.settings.artifact_root,
        VerifiedCache(workspace.settings.model_cache / ".verified"),
    )
