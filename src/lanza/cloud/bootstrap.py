"""``lanza container-start``: turn a bundle manifest into a served deployment.

In ``bundle`` mode the model versions beside the manifest are registered into the
container's own MLflow store under their original version numbers (so answers name
``fraud/3`` as they did where the model was trained), with their aliases and reference
samples; in ``registry`` mode they are already in the shared registry. Either way the
deployment is created (or brought up to the packaged spec) in lanza's database.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lanza.cloud.bundle import BundledModel, BundleManifest
from lanza.errors import ConflictError, NotFoundError
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace

log = logging.getLogger(__name__)
BUNDLE_TAG = "lanza.bundled_from"
EXPERIMENT = "lanza-container"


def install(workspace: Workspace, manifest: BundleManifest, folder: Path) -> None:
    """Make the manifest's models and deployment exist in the workspace's stores."""
    if manifest.source == "bundle":
        for model in manifest.models:
            _register(workspace, model, folder)
    else:
        for model in manifest.models:
            workspace.registry.get_version(model.name, model.version)
    _deploy(workspace, manifest)


def _register(workspace: Workspace, model: BundledModel, folder: Path) -> None:
    registry = workspace.registry
    if model.path is None:
        raise NotFoundError(f"The bundle has no artifacts for {model.ref}.")
    try:
        registry.get_version(model.name, model.version)
    except NotFoundError:
        pass
    else:  # already registered: a restart on a kept disk
        return
    source = (folder / model.path).resolve()
    tags = dict(model.tags)
    tags[BUNDLE_TAG] = model.ref
    if model.reference is not None:
        run_id, uri = _log_reference(workspace, folder / model.reference)
        tags |= {"lanza.train_run_id": run_id, "lanza.reference": uri}
    # MLflow numbers versions one past the highest ever created, deleted ones included:
    # placeholders raise the counter so the bundled version keeps its number.
    while True:
        created = registry.register(model.name, source.as_uri(), None, tags, model.description)
        if int(created.version) >= int(model.version):
            break
        registry.delete(model.name, created.version, force=True)
    if created.version != model.version:
        raise ConflictError(
            f"The container's registry already has versions past {model.ref}; "
            "start it on an empty LANZA_HOME."
        )
    for alias in model.aliases:
        registry.set_alias(model.name, alias, model.version, "promote", "container bundle")


def _log_reference(workspace: Workspace, sample: Path) -> tuple[str, str]:
    """A run holding the reference sample where monitoring looks for it."""
    client = workspace.mlflow
    found = client.get_experiment_by_name(EXPERIMENT)
    experiment = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    run = client.create_run(experiment, run_name="bundled-reference")
    client.log_artifact(run.info.run_id, str(sample), "reference")
    client.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id), f"{run.info.artifact_uri}/reference/{sample.name}"


def _deploy(workspace: Workspace, manifest: BundleManifest) -> None:
    store = DeploymentStore(workspace.database)
    spec = manifest.deployment
    try:
        current = store.get(spec.name).spec
    except NotFoundError:
        try:
            store.create(spec)
        except ConflictError:  # another replica created it first
            return
        log.info("created deployment %s", spec.name)
        return
    if current != spec:
        store.update(spec)
        log.info("updated deployment %s to the packaged spec", spec.name)
