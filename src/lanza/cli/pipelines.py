"""``lanza pipelines``: retrain-and-promote pipelines applied from lanza.yaml.

A run trains a challenger, tries it beside the champion for the pipeline's window and
promotes it only if it is better by the margin; ``lanza serve`` (or ``lanza
scheduler``) decides runs whose window is over. ``lanza models rollback`` undoes a
promotion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.automation.pipelines import PipelineRunner

app = typer.Typer(help="List, run and inspect retrain pipelines.", no_args_is_help=True)


def _runner(ctx: typer.Context) -> PipelineRunner:
    from lanza.automation.pipelines import PipelineRunner

    return PipelineRunner(state(ctx).workspace())


@app.command("list")
def list_pipelines(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every pipeline and how its latest run ended.

    Example: lanza pipelines list
    """
    from lanza.automation.routes import pipeline_summaries

    found = pipeline_summaries(_runner(ctx))
    if as_json:
        print_json(found)
        return
    rows = []
    for item in found:
        latest = item["latest_run"] or {}
        spec = item["spec"]
        rows.append(
            (
                item["name"],
                spec["model"],
                spec["deployment"],
                latest.get("state"),
                latest.get("created_at"),
            )
        )
    print_table("Pipelines", ["name", "model", "deployment", "last run", "started"], rows)


@app.command("run")
def run_pipeline(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    as_json: JsonFlag = False,
) -> None:
    """Retrain now and start the challenger's trial; the server decides after the window.

    Example: lanza pipelines run churn-retrain
    """
    runner = _runner(ctx)
    run = runner.get(runner.start(name, "manual"))
    if as_json:
        print_json(run)
        return
    console.print(f"Run {run['id']}: {run['state']} (step {run['step']}).", highlight=False)
    if run["reason"]:
        console.print(run["reason"], highlight=False, markup=False)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    as_json: JsonFlag = False,
) -> None:
    """A pipeline's runs, latest first, with each decision and its reason.

    Example: lanza pipelines show churn-retrain
    """
    runner = _runner(ctx)
    runner.spec(name)
    runs = runner.runs(name)
    if as_json:
        print_json(runs)
        return
    print_table(
        f"Runs of {name}",
        ["id", "trigger", "state", "step", "started", "reason"],
        [
            (r["id"][:12], r["trigger"], r["state"], r["step"], r["created_at"], r["reason"])
            for r in runs
        ],
    )
