"""``lanza ui``: the MLflow UI on lanza's tracking store."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from lanza.cli.context import state
from lanza.cli.output import console
from lanza.processes import run_group


def ui_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
) -> None:
    """Open the MLflow UI on the same tracking store and registry lanza uses.

    Example: lanza ui --port 5000
    """
    settings = state(ctx).workspace().settings
    if settings.tracking.startswith(("http://", "https://")):
        console.print(f"Your MLflow server already has a UI: {settings.tracking}")
        return
    if settings.tracking.startswith("sqlite"):
        settings.ensure_home()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        settings.tracking,
        "--default-artifact-root",
        str(settings.artifact_root),
        "--host",
        host,
        "--port",
        str(port),
    ]
    console.print(f"MLflow UI on http://{host}:{port} (Ctrl+C to stop)")
    code = run_group(command)
    raise typer.Exit(0 if code in (130, -signal.SIGINT) else code)
