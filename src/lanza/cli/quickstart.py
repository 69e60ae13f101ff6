"""``lanza quickstart``: the main job in one command, on data that ships with scikit-learn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.output import console
from lanza.cli.train import run_training, show_outcome
from lanza.errors import NotFoundError

if TYPE_CHECKING:
    from lanza.workspace import Workspace

MODEL = "breast_cancer"
TARGET = "malignant"


def quickstart_command(
    ctx: typer.Context,
    retrain: Annotated[bool, typer.Option(help="Train again even if the model exists.")] = False,
    serve: Annotated[
        bool, typer.Option(help="Serve on 127.0.0.1:8000 at the end (--no-serve to skip).")
    ] = True,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    simulate: Annotated[
        bool, typer.Option(help="Send demo traffic (drift in one feature, feedback) once up.")
    ] = False,
) -> None:
    """Train on the breast-cancer table, register the pick as champion, deploy and serve it.

    Example: lanza quickstart --no-serve
    """
    workspace = state(ctx).workspace()
    data = write_dataset(workspace)
    console.print(f"[bold]lanza quickstart[/]: data {data}")
    if retrain or not _has_champion(workspace):
        from lanza.training.service import TrainRequest

        request = TrainRequest(data=data, target=TARGET, name=MODEL)
        show_outcome(run_training(workspace, request), workspace)
    else:
        champion = workspace.registry.resolve(f"{MODEL}@champion")
        console.print(f"{champion.ref} is already champion (use --retrain to train again).")
    _deploy(workspace)
    curl = try_it(workspace, port)
    if not serve:
        console.print(
            f"Deployed '{MODEL}'. Serve it with: lanza serve   then try:\n{curl}", soft_wrap=True
        )
        return
    from lanza.cli.serve import _export, run_server

    _export(state(ctx).overrides, "127.0.0.1", port, None, False)
    if simulate:
        from lanza.monitoring.simulate import start_simulation

        start_simulation(f"http://127.0.0.1:{port}", data, MODEL, TARGET)
    run_server(workspace, f"Serving on http://127.0.0.1:{port} (Ctrl+C to stop). Try:\n{curl}")


def _deploy(workspace: Workspace) -> None:
    from lanza.serving.spec import DeploymentSpec
    from lanza.serving.store import DeploymentStore

    store = DeploymentStore(workspace.database)
    try:
        store.get(MODEL)
        console.print(f"Deployment '{MODEL}' already exists (follows {MODEL}@champion).")
    except NotFoundError:
        store.create(DeploymentSpec(name=MODEL, model=f"{MODEL}@champion"))
        console.print(f"Deployed {MODEL}@champion as '{MODEL}'.")


def try_it(workspace: Workspace, port: int) -> str:
    """A curl that predicts on the first row of the quickstart table (saved as JSON)."""
    import json

    import pandas as pd

    folder = workspace.settings.home / "quickstart"
    row = pd.read_csv(folder / "breast_cancer.csv", nrows=1).drop(columns=[TARGET])
    body = folder / "row.json"
    body.write_text(json.dumps({"instances": row.to_dict(orient="records"), "probabilities": True}))
    return (
        f"  curl -s http://127.0.0.1:{port}/api/v1/deployments/{MODEL}/predict "
        f"-H 'Content-Type: application/json' -d @{body}"
    )


def write_dataset(workspace: Workspace) -> Path:
    """The breast-cancer table as a CSV under LANZA_HOME, with readable column names."""
    folder = workspace.settings.ensure_home() / "quickstart"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "breast_cancer.csv"
    if not path.exists():
        from sklearn.datasets import load_breast_cancer

        frame = load_breast_cancer(as_frame=True).frame
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        # sklearn codes malignant as 0; a positive class of "malignant" reads better.
        frame[TARGET] = (frame.pop("target") == 0).astype(int)
        frame.to_csv(path, index=False)
    return path


def _has_champion(workspace: Workspace) -> bool:
    try:
        workspace.registry.resolve(f"{MODEL}@champion")
    except NotFoundError:
        return False
    return True
