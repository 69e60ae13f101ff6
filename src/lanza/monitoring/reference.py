"""What training registered with a model version: its reference sample and its scores.

The sample (``lanza.reference``, a parquet of training rows with the target) and the
performance estimator (``monitoring/``, see ``lanza.monitoring.estimation``) are
downloaded once through the workspace's explicit MLflow client and kept on disk
under ``<home>/monitoring/reference`` and in memory.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from lanza.monitoring import estimation
from lanza.monitoring.drift import ReferenceProfile
from lanza.monitoring.estimation import Estimator
from lanza.workspace import Workspace

log = logging.getLogger("lanza.monitoring")

REFERENCE_PATH = "reference/reference.parquet"


@dataclass(frozen=True)
class Reference:
    """A model version's training facts that monitoring compares with."""

    model: str
    frame: pd.DataFrame | None
    target: str | None
    task: str | None
    metric: str | None
    cv_mean: float | None
    classes: list[str] | None = field(default=None)
    estimator: Estimator | None = field(default=None)

    @property
    def features(self) -> list[str]:
        """Reference columns other than the target."""
        if self.frame is None:
            return []
        return [c for c in self.frame.columns if c != self.target]

    @cached_property
    def profile(self) -> ReferenceProfile | None:
        """The sample prepared for drift once, kept for every round (see ``drift``)."""
        return None if self.frame is None else ReferenceProfile(self.frame)


class ReferenceCache:
    """Reference per ``NAME/VERSION``, loaded once (a missing sample gives ``frame=None``)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.folder = workspace.settings.home / "monitoring" / "reference"
        self._cache: dict[str, Reference] = {}
        self._lock = threading.Lock()

    def get(self, model: str) -> Reference:
        """The reference of ``NAME/VERSION``; raises NotFoundError for an unknown version."""
        with self._lock:
            if model not in self._cache:
                self._cache[model] = self._load(model)
            return self._cache[model]

    def _load(self, model: str) -> Reference:
        name, version = model.rsplit("/", 1)
        # Through the loader: a version on this machine is read from the local store,
        # so every server process's first report does not import MLflow for its tags.
        tags = self.workspace.loader.resolve(f"{name}/{version}").tags
        classes = json.loads(tags["lanza.classes"]) if "lanza.classes" in tags else None
        cv_mean = tags.get("lanza.cv_mean")
        run_id = tags.get("lanza.train_run_id")
        return Reference(
            model,
            self._frame(name, version, run_id),
            tags.get("lanza.target"),
            tags.get("lanza.task"),
            tags.get("lanza.metric"),
            float(cv_mean) if cv_mean else None,
            [str(c) for c in classes] if classes is not None else None,
            self._estimator(name, version, run_id),
        )

    def _estimator(self, name: str, version: str, run_id: str | None) -> Estimator | None:
        """The version's performance estimator, when training registered one."""
        local = self.folder / name / version / estimation.FOLDER
        if not (local / estimation.FILE).exists():
            if run_id is None:
                return None
            staging = self.folder / name / version
            staging.mkdir(parents=True, exist_ok=True)
            try:
                self.workspace.mlflow.download_artifacts(run_id, estimation.FOLDER, str(staging))
            except Exception:
                return None
        try:
            return Estimator.load(local)
        except Exception as exc:
            log.warning("the performance estimator of %s/%s cannot be read: %s", name, version, exc)
            return None

    def _frame(self, name: str, version: str, run_id: str | None) -> pd.DataFrame | None:
        local = self.folder / name / version / "reference.parquet"
        if not local.exists():
            if run_id is None:
                return None
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                got = self.workspace.mlflow.download_artifacts(
                    run_id, REFERENCE_PATH, str(local.parent)
                )
            except Exception:
                return None
            Path(got).replace(local)
        return pd.read_parquet(local)
