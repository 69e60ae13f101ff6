"""MLflow experiments that lanza makes: each under lanza's artifact root, made on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def experiment_id(client: MlflowClient, name: str, artifact_root: str) -> str:
    """The id of experiment ``name``, created at ``ARTIFACT_ROOT/NAME`` when missing.

    Two processes may make it at once (a batch drain beside a server): the loser reads
    the winner's.
    """
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = f"{artifact_root.rstrip('/')}/{name}"
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)
