"""The ``lanza`` command: global flags, command groups, and one place that reports errors."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lanza import __version__
from lanza.cli import alerts, deployments, keys, models
from lanza.cli import cloud as cloud_cli
from lanza.cli import datasets as datasets_cli
from lanza.cli import eval as eval_cli
from lanza.cli import evaluators as evaluators_cli
from lanza.cli import llm as llm_cli
from lanza.cli import prompts as prompts_cli
from lanza.cli import traces as traces_cli
from lanza.cli.apply import apply_command, export_command, plan_command
from lanza.cli.batch import batch_command, jobs_app
from lanza.cli.context import state
from lanza.cli.deployments import deploy_command
from lanza.cli.hardware import advise_command, info_command
from lanza.cli.monitor import monitor_command
from lanza.cli.optimize import optimize_command
from lanza.cli.output import fail
from lanza.cli.package import container_start_command, package_command
from lanza.cli.pipelines import app as pipelines_app
from lanza.cli.predict import predict_command
from lanza.cli.quickstart import quickstart_command
from lanza.cli.scheduler import scheduler_command
from lanza.cli.serve import serve_command
from lanza.cli.train import train_command
from lanza.cli.ui import ui_command
from lanza.errors import LanzaError

app = typer.Typer(
    name="lanza",
    help="From a training table to production, and healthy there.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models.app, name="models")
app.command("train")(train_command)
app.command("quickstart")(quickstart_command)
app.command("ui")(ui_command)
app.command("serve")(serve_command)
app.command("deploy")(deploy_command)
app.add_typer(deployments.app, name="deployments")
app.add_typer(keys.app, name="keys")
app.add_typer(llm_cli.app, name="llm")
app.add_typer(traces_cli.app, name="traces")
app.add_typer(prompts_cli.app, name="prompts")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(evaluators_cli.app, name="evaluators")
app.add_typer(datasets_cli.app, name="datasets")
app.command("predict")(predict_command)
app.command("info")(info_command)
app.command("advise")(advise_command)
app.command("optimize")(optimize_command)
app.command("batch")(batch_command)
app.add_typer(jobs_app, name="jobs")
app.command("monitor")(monitor_command)
app.add_typer(alerts.app, name="alerts")
app.command("plan")(plan_command)
app.command("apply")(apply_command)
app.command("export")(export_command)
app.command("scheduler")(scheduler_command)
app.add_typer(pipelines_app, name="pipelines")
app.command("package")(package_command)
app.command("container-start")(container_start_command)
app.add_typer(cloud_cli.app, name="cloud")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lanza {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="State folder [env: LANZA_HOME].")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI [env: LANZA_TRACKING_URI].")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="lanza's database URL [env: LANZA_DATABASE_URL].")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """lanza: train the simplest model that works, and run it in production."""
    state(ctx).overrides.update(home=home, tracking_uri=tracking_uri, database_url=database_url)


def main() -> None:
    """Entry point: run the app and turn every failure into one sentence and an exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except LanzaError as exc:
        fail(exc.message)
        sys.exit(1)
    except KeyboardInterrupt:
        fail("interrupted.")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("LANZA_DEBUG"):
            raise
        fail(f"unexpected {exc.__class__.__name__}: {exc} (set LANZA_DEBUG=1 for details).")
        sys.exit(2)
