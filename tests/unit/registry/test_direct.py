"""Reading a version straight from MLflow's sqlite store gives what MLflow's client gives."""

from __future__ import annotations

import pytest

from lanza.registry.direct import read_version, sqlite_path
from lanza.workspace import Workspace


@pytest.fixture
def registered(workspace: Workspace) -> Workspace:
    """``fraud`` with versions 1-3: champion on 2, challenger on 3, version 1 tagged."""
    client = workspace.mlflow
    client.create_registered_model("fraud")
    for number in range(3):
        client.create_model_version("fraud", f"/models/fraud-{number}", description=f"v{number}")
    client.set_model_version_tag("fraud", "1", "lanza.archived", "true")
    client.set_registered_model_alias("fraud", "champion", "2")
    client.set_registered_model_alias("fraud", "challenger", "3")
    client.set_registered_model_alias("fraud", "shadow", "3")
    return workspace


@pytest.mark.parametrize(
    "reference", ["fraud/1", "fraud/2", "fraud/3", "fraud@champion", "fraud@challenger", "fraud"]
)
def test_a_version_reads_as_the_registry_resolves_it(registered: Workspace, reference: str) -> None:
    direct = read_version(registered.settings.tracking, reference)
    resolved = registered.registry.resolve(reference)
    assert direct is not None
    assert direct.ref == resolved.ref
    assert direct.aliases == sorted(resolved.aliases)
    assert (direct.source, direct.run_id, direct.status) == (
        resolved.source,
        resolved.run_id,
        resolved.status,
    )
    assert (direct.description, direct.tags, direct.created_at) == (
        resolved.description,
        resolved.tags,
        resolved.created_at,
    )


def test_a_moved_alias_is_read_at_once(registered: Workspace) -> None:
    uri = registered.settings.tracking
    assert read_version(uri, "fraud@champion").version == "2"  # type: ignore[union-attr]
    registered.mlflow.set_registered_model_alias("fraud", "champion", "3")
    assert read_version(uri, "fraud@champion").version == "3"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "reference",
    [
        "fraud/9",  # no such version
        "fraud@nobody",  # no such alias
        "ghost@champion",  # no such model
        "fraud@latest",  # MLflow's pseudo-alias: MLflow answers it
        "runs:/abc/model",  # not a registry reference
        "not a reference!",
    ],
)
def test_what_it_cannot_answer_plainly_is_left_to_mlflow(
    registered: Workspace, reference: str
) -> None:
    assert read_version(registered.settings.tracking, reference) is None


def test_a_deleted_version_is_not_read(registered: Workspace) -> None:
    registered.mlflow.delete_model_version("fraud", "1")
    assert read_version(registered.settings.tracking, "fraud/1") is None
    assert read_version(registered.settings.tracking, "fraud/2") is not None


def test_other_stores_and_mlflow_workspaces_are_left_to_mlflow(
    registered: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_version("postgresql://localhost/mlflow", "fraud/1") is None
    assert read_version("http://127.0.0.1:5000", "fraud/1") is None
    assert read_version("sqlite:///does/not/exist.db", "fraud/1") is None
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    assert read_version(registered.settings.tracking, "fraud/1") is None


def test_sqlite_paths_are_read_as_sqlalchemy_reads_them() -> None:
    assert str(sqlite_path("sqlite:////tmp/a%20b/mlflow.db")) == "/tmp/a b/mlflow.db"
    assert str(sqlite_path("sqlite:///mlflow.db")) == "mlflow.db"
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite://") is None
