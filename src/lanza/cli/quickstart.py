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
) -> None:
    """Train on the breast-cancer table, register the pick as champion, and show the way.

    Example: lanza quickstart
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
    console.print(f"Next: lanza models show {MODEL}   |   lanza ui")


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
