"""From a model reference to a loaded runtime: resolve, download once, pick the flavour.

Flavours, first match wins: ``onnx`` (ONNX Runtime), ``pytorch``, ``xgboost`` (XGBoost's
own file), scikit-learn in skops, then any ``python_function`` when pickle is allowed.
The device is placed once here (see ``lanza.runtime.devices``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from lanza.errors import LanzaError, ModelLoadError, NotFoundError, UntrustedModelError
from lanza.registry.direct import read_version
from lanza.registry.versions import ModelVersionInfo
from lanza.runtime import serialization
from lanza.runtime.base import ModelRuntime
from lanza.runtime.devices import move_xgboost, place, xgboost_step
from lanza.runtime.flavours import PyfuncRuntime, SklearnRuntime
from lanza.runtime.mlmodel import ModelFile, read_model_file
from lanza.runtime.onnxrt import OnnxRuntime
from lanza.runtime.pytorch import TorchRuntime, exported
from lanza.runtime.ready import ReadyCache
from lanza.runtime.serialization import VerifiedCache
from lanza.runtime.xgb import XGBoostRuntime, load_xgboost

if TYPE_CHECKING:
    from lanza.registry.registry import Registry


@dataclass(frozen=True)
class LoadedModel:
    """A runtime with the registry version it came from and what loading cost."""

    runtime: ModelRuntime
    version: ModelVersionInfo
    load_seconds: float


class ModelLoader:
    """Loads registered model versions through the registry, caching artifacts on disk.

    ``registry`` is a function that builds the registry, called on first need: a version
    already on disk, named by a reference a local MLflow store answers directly
    (``lanza.registry.direct``), loads without MLflow in the process.
    """

    def __init__(
        self,
        registry: Callable[[], Registry],
        cache_dir: Path,
        allow_pickle: bool = False,
        tracking_uri: str | None = None,
        ready: ReadyCache | None = None,
    ) -> None:
        self._registry = registry
        self.cache_dir = cache_dir
        self.allow_pickle = allow_pickle
        self.tracking_uri = tracking_uri
        self.ready = ready

    @cached_property
    def registry(self) -> Registry:
        """The registry, built on first use."""
        return self._registry()

    def load(self, reference: str, device: str = "cpu") -> LoadedModel:
        """Resolve ``reference`` now and load the version it points to."""
        return self.load_version(self.resolve(reference), device)

    def resolve(self, reference: str) -> ModelVersionInfo:
        """The version ``reference`` points to now: read from a local store when the version
        is on disk already, else asked of the registry."""
        if self.tracking_uri is not None:
            found = read_version(self.tracking_uri, reference)
            if found is not None and self.on_this_machine(found):
                return found
        return self.registry.resolve(reference)

    def on_this_machine(self, version: ModelVersionInfo) -> bool:
        """Whether loading the version needs no download: it is in the cache, or its
        artifacts are a local folder (lanza's default artifact store)."""
        return self._cached(version).exists() or local_folder(version.source) is not None

    def _cached(self, version: ModelVersionInfo) -> Path:
        return self.cache_dir / version.name / version.version / "MLmodel"

    def load_version(
        self, version: ModelVersionInfo, device: str = "cpu", meta: ModelFile | None = None
    ) -> LoadedModel:
        """Load one registered version on ``device`` (``cpu``, ``cuda`` or ``auto``);
        ``meta``: its ``describe`` when the caller read it already."""
        began = time.perf_counter()
        meta = meta or self.describe(version)
        runtime = self._runtime(version, self._cached(version).parent, meta, device)
        return LoadedModel(runtime, version, time.perf_counter() - began)

    def describe(self, version: ModelVersionInfo) -> ModelFile:
        """The version's MLmodel file (flavours, schema): known before the model loads."""
        path = self.download(version)
        try:
            return read_model_file(path)
        except Exception as exc:
            raise ModelLoadError(f"{version.ref} has no readable MLmodel file: {exc}") from exc

    def download(self, version: ModelVersionInfo) -> Path:
        """The version's artifacts on local disk, downloaded once per version."""
        target = self._cached(version).parent
        if (target / "MLmodel").exists():
            return target
        # One staging folder per thread: deployments of one version load concurrently.
        staging = target.with_name(f".{version.version}.{os.getpid()}.{threading.get_ident()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            local = local_folder(version.source)
            if local is not None:  # a copy, as MLflow's local artifact store makes, sans MLflow
                shutil.copytree(local, staging / local.name)
            else:
                self._fetch(version, staging)
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
        if not (target / "MLmodel").exists():
            shutil.rmtree(target, ignore_errors=True)
            try:
                found.parent.rename(target)
            except OSError:  # another loader renamed its copy first
                if not (target / "MLmodel").exists():
                    raise
        shutil.rmtree(staging, ignore_errors=True)
        return target

    def _fetch(self, version: ModelVersionInfo, staging: Path) -> None:
        import mlflow.artifacts

        source = version.source
        if source.startswith("models:/"):  # an MLflow 3 logged model: resolved by our
            # client, as the fluent resolver would read the process's global tracking URI
            client = self.registry.client
            source = client.get_model_version_download_uri(version.name, version.version)
        mlflow.artifacts.download_artifacts(
            artifact_uri=source,
            dst_path=str(staging),
            tracking_uri=str(self.registry.client.tracking_uri),
        )

    def _runtime(
        self,
        version: ModelVersionInfo,
        path: Path,
        meta: ModelFile,
        device: str = "cpu",
    ) -> ModelRuntime:
        flavours = meta.flavors
        schema = meta.schema
        sklearn = flavours.get("sklearn")
        name, number = version.name, version.version
        try:
            if "onnx" in flavours:
                place(device, "other", version.ref)
                classes = (meta.metadata or {}).get("lanza.classes")
                model_file = path / flavours["onnx"].get("data", "model.onnx")
                return OnnxRuntime(name, number, model_file, schema, classes)
            if "pytorch" in flavours:
                archive = exported(path, flavours["pytorch"])
                if not archive:
                    self._check_pickle(version)
                target = place(device, "torch", version.ref)
                return TorchRuntime(name, number, path, schema, target, archive)
            if "xgboost" in flavours:
                target = place(device, "xgboost", version.ref)
                flavour = flavours["xgboost"]
                model_file = path / str(flavour.get("data", "model.xgb"))
                model = self._ready(
                    version, "xgboost", model_file, partial(load_xgboost, path, flavour)
                )
                return XGBoostRuntime(name, number, model, schema, target)
            if sklearn and sklearn.get("serialization_format") == "skops":
                model_file = path / sklearn["pickled_model"]
                verified = VerifiedCache(self.cache_dir / ".verified")
                if self.ready is None:
                    model = verified.load(model_file.read_bytes())
                else:
                    build = partial(checked, verified, model_file)
                    model = self._ready(version, "skops", model_file, build)
                runtime = SklearnRuntime(name, number, model, schema)
                booster = xgboost_step(runtime.model)
                runtime.device = place(
                    device, "other" if booster is None else "xgboost", version.ref
                )
                if booster is not None and runtime.device != "cpu":
                    move_xgboost(booster, runtime.device)
                return runtime
            if "python_function" not in flavours:
                raise ModelLoadError(f"{version.ref} has no flavour lanza can serve.")
            place(device, "other", version.ref)
            self._check_pickle(version)
            os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
            return PyfuncRuntime(name, number, path, schema)
        except LanzaError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"{version.ref} failed to load: {exc}") from exc

    def _ready(
        self, version: ModelVersionInfo, flavour: str, model_file: Path, build: Callable[[], Any]
    ) -> Any:
        """The model object of ``model_file``: its ready-to-load form when cached, else
        ``build()`` (cached for the next load)."""
        if self.ready is None:
            return build()
        key = self.ready.key(self.tracking_uri or "", version, flavour, model_file)
        return self.ready.load(key, build)

    def _check_pickle(self, version: ModelVersionInfo) -> None:
        if not self.allow_pickle:
            raise UntrustedModelError(
                f"{version.ref} is stored with pickle, which can run any code when loaded; "
                "set LANZA_ALLOW_PICKLE=true if you trust where it came from."
            )


def checked(verified: VerifiedCache, model_file: Path) -> Any:
    """A skops model, from the signed pickle training left when it built it, else through
    the skops check of lanza's trusted types."""
    blob = model_file.read_bytes()
    found = verified.peek(blob)
    return found if found is not None else serialization.load_model(blob)


def local_folder(source: str) -> Path | None:
    """The folder of a ``file:`` URI or absolute path that holds an MLmodel file, else ``None``."""
    if source.startswith("file:"):
        parsed = urlparse(source)
        if parsed.netloc not in ("", "localhost"):
            return None
        path = Path(unquote(parsed.path))
    elif source.startswith("/"):
        path = Path(source)
    else:
        return None
    return path if (path / "MLmodel").is_file() else None
