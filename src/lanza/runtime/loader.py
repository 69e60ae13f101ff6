"""From a model reference to a loaded runtime: resolve, download once, pick the flavour."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow.artifacts
from mlflow.models import Model

from lanza.errors import LanzaError, NotFoundError
from lanza.registry import ModelVersionInfo, Registry
from lanza.runtime.base import ModelRuntime
from lanza.runtime.flavours import PyfuncRuntime, SklearnRuntime
from lanza.runtime.schema import InputSchema
from lanza.training.serialization import UntrustedModelError, VerifiedCache


class ModelLoadError(LanzaError):
    """A model version exists but cannot be loaded."""

    status_code = 503
    code = "model_load_failed"


@dataclass(frozen=True)
class LoadedModel:
    """A runtime with the registry version it came from and what loading cost."""

    runtime: ModelRuntime
    version: ModelVersionInfo
    load_seconds: float


class ModelLoader:
    """Loads registered model versions through the registry, caching artifacts on disk."""

    def __init__(self, registry: Registry, cache_dir: Path, allow_pickle: bool = False) -> None:
        self.registry = registry
        self.cache_dir = cache_dir
        self.allow_pickle = allow_pickle

    def load(self, reference: str) -> LoadedModel:
        """Resolve ``reference`` now and load the version it points to."""
        return self.load_version(self.registry.resolve(reference))

    def load_version(self, version: ModelVersionInfo) -> LoadedModel:
        """Load one registered version."""
        began = time.perf_counter()
        path = self.download(version)
        try:
            meta = Model.load(str(path))
        except Exception as exc:
            raise ModelLoadError(f"{version.ref} has no readable MLmodel file: {exc}") from exc
        schema = InputSchema.from_signature(meta.signature)
        runtime = self._runtime(version, path, meta, schema)
        return LoadedModel(runtime, version, time.perf_counter() - began)

    def download(self, version: ModelVersionInfo) -> Path:
        """The version's artifacts on local disk, downloaded once per version."""
        target = self.cache_dir / version.name / version.version
        if (target / "MLmodel").exists():
            return target
        staging = target.with_name(f".{version.version}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            mlflow.artifacts.download_artifacts(
                artifact_uri=version.source,
                dst_path=str(staging),
                tracking_uri=str(self.registry.client.tracking_uri),
            )
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise NotFoundError(
                f"The artifacts of {version.ref} cannot be fetched from {version.source}: {exc}"
            ) from exc
        found = next(staging.rglob("MLmodel"), None)
        if found is None:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelLoadError(f"{version.ref} has no MLmodel file at {version.source}.")
        # Rename is atomic: a concurrent loader sees either nothing or a whole model.
        shutil.rmtree(target, ignore_errors=True)
        found.parent.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
        return target

    def _runtime(
        self, version: ModelVersionInfo, path: Path, meta: Model, schema: InputSchema | None
    ) -> ModelRuntime:
        flavours = meta.flavors
        sklearn = flavours.get("sklearn")
        try:
            if sklearn and sklearn.get("serialization_format") == "skops":
                return SklearnRuntime(
                    version.name,
                    version.version,
                    path / sklearn["pickled_model"],
                    schema,
                    VerifiedCache(self.cache_dir / ".verified"),
                )
            if "python_function" not in flavours:
                raise ModelLoadError(f"{version.ref} has no flavour lanza can serve.")
            if not self.allow_pickle:
                raise UntrustedModelError(
                    f"{version.ref} is stored with pickle, which can run any code when loaded; "
                    "set LANZA_ALLOW_PICKLE=true if you trust where it came from."
                )
            os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
            return PyfuncRuntime(version.name, version.version, path, schema)
        except LanzaError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"{version.ref} failed to load: {exc}") from exc
