"""``lanza package``: a container build context for one deployment.

The context holds a Dockerfile (slim Python matching the model's environment, a
non-root user, pinned requirements, a health check), a ``.dockerignore``, a README of
build and run commands, the bundle manifest and, in ``bundle`` mode, the model
artifacts and their reference samples.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

from lanza import __version__
from lanza.cloud.bundle import BundledModel, BundleManifest, Source, merge_requirements
from lanza.cloud.dockerfile import dockerfile, dockerignore, readme
from lanza.errors import InvalidInputError
from lanza.registry.references import parse_reference
from lanza.serving.spec import DeploymentSpec
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

REFERENCE = "reference/reference.parquet"


@dataclass(frozen=True)
class PackageOptions:
    """How to package one deployment."""

    deployment: str
    output: Path
    source: Source = "bundle"
    lanza_wheel: Path | None = None
    overwrite: bool = False
    ray: bool = False


@dataclass(frozen=True)
class BuildContext:
    """A written build context."""

    folder: Path
    deployment: str
    source: Source
    base_image: str
    models: list[str]
    requirements: list[str]
    files: list[str] = field(default_factory=list)


def package(workspace: Workspace, options: PackageOptions) -> BuildContext:
    """Write the build context of ``options.deployment`` into ``options.output``."""
    spec = DeploymentStore(workspace.database).get(options.deployment).spec
    folder = _fresh(options.output, options.overwrite)
    models = _models(workspace, spec)
    environments: dict[str, list[str]] = {}
    python = "3.11"
    for model in models:
        artifacts = workspace.loader.download(
            workspace.registry.get_version(model.name, model.version)
        )
        environments[model.ref] = _lines(artifacts / "requirements.txt")
        python = _python(artifacts / "python_env.yaml") or python
        if options.source == "bundle":
            model.path = f"bundle/models/{model.name}/{model.version}"
            shutil.copytree(artifacts, folder / model.path)
            model.reference = _reference(workspace, model, folder)
    requirements = [_lanza_requirement(options, folder), *merge_requirements(environments)]
    if options.source == "registry":
        requirements.append(_pinned("google-cloud-storage"))
    if options.ray:  # the image also runs the Ray cluster of a batch RayJob
        requirements.append(_pinned("ray").replace("ray", "ray[data]", 1))
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n")
    BundleManifest(
        lanza_version=__version__, source=options.source, deployment=spec, models=models
    ).save(folder)
    base = f"python:{python}-slim"
    wheel = options.lanza_wheel is not None
    (folder / "Dockerfile").write_text(dockerfile(base, spec.name, options.source, wheel))
    (folder / ".dockerignore").write_text(dockerignore())
    (folder / "README.md").write_text(readme(spec.name, options.source))
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return BuildContext(
        folder, spec.name, options.source, base, [m.ref for m in models], requirements, files
    )


def _fresh(folder: Path, overwrite: bool) -> Path:
    """An empty context folder; ``deploy/`` (files of ``lanza cloud``) is kept."""
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise InvalidInputError(f"{folder} is not empty; pass --overwrite to replace it.")
        for child in folder.iterdir():
            if child.name == "deploy":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _models(workspace: Workspace, spec: DeploymentSpec) -> list[BundledModel]:
    """The versions the deployment's routes and shadow point at now, with their aliases."""
    found: dict[str, BundledModel] = {}
    references = [route.model for route in spec.routes] + ([spec.shadow] if spec.shadow else [])
    for text in references:
        ref = parse_reference(text)
        if ref.name is None:
            raise InvalidInputError(
                f"'{text}' is not a registered model; only registered models can be packaged."
            )
        info = workspace.registry.resolve(ref)
        model = found.setdefault(
            info.ref,
            BundledModel(
                name=info.name, version=info.version, tags=info.tags, description=info.description
            ),
        )
        if ref.alias is not None and ref.alias not in model.aliases:
            model.aliases.append(ref.alias)
    return sorted(found.values(), key=lambda m: (m.name, int(m.version)))


def _reference(workspace: Workspace, model: BundledModel, folder: Path) -> str | None:
    """Copy the training reference sample so monitoring works inside the container."""
    run_id = model.tags.get("lanza.train_run_id")
    if run_id is None:
        return None
    target = folder / "bundle" / "references" / model.name / model.version
    target.mkdir(parents=True, exist_ok=True)
    try:
        got = Path(workspace.mlflow.download_artifacts(run_id, REFERENCE, str(target)))
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        return None
    return got.resolve().relative_to(folder.resolve()).as_posix()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _python(path: Path) -> str | None:
    """``3.11`` from an MLflow ``python_env.yaml`` (the slim images are per minor version)."""
    if not path.exists():
        return None
    found = str((yaml.safe_load(path.read_text()) or {}).get("python", ""))
    return ".".join(found.split(".")[:2]) or None


def _lanza_requirement(options: PackageOptions, folder: Path) -> str:
    if options.lanza_wheel is None:
        return f"lanza=={__version__}"
    wheel = options.lanza_wheel
    if not wheel.is_file() or wheel.suffix != ".whl":
        raise InvalidInputError(f"{wheel} is not a wheel file.")
    (folder / "wheels").mkdir()
    shutil.copy2(wheel, folder / "wheels" / wheel.name)
    return f"./wheels/{wheel.name}"


def _pinned(package: str) -> str:
    try:
        return f"{package}=={version(package)}"
    except PackageNotFoundError:
        return package
