"""``lanza train``: candidates from simplest to most complex, and the simplest adequate pick."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from lanza.cli.context import state
from lanza.cli.output import console, errors, print_json, print_table

if TYPE_CHECKING:
    from lanza.training.service import TrainOutcome, TrainRequest
    from lanza.training.trainer import Step
    from lanza.workspace import Workspace


def train_command(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="A CSV or Parquet file with one row per example.")],
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
    task: Annotated[
        str | None, typer.Option(help="classification or regression (inferred when omitted).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Registered model name (default: file stem).")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(help="roc_auc (binary), f1_macro (multiclass), rmse (regression), ..."),
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds for the whole run, kept within 10 %; candidates that would not fit "
            "are skipped and listed.",
        ),
    ] = None,
    folds: Annotated[
        int | None, typer.Option(min=2, help="Folds of cross-validation [default: 5].")
    ] = None,
    candidates: Annotated[
        str | None, typer.Option(help="Comma-separated subset of candidates to try.")
    ] = None,
    promote: Annotated[
        bool, typer.Option(help="Make the new version champion even if one exists.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Train candidates on DATA, pick the simplest adequate one, and register it.

    Example: lanza train churn.csv --target churned --name churn --time-budget 120
    """
    started = time.perf_counter()
    if task is not None and task not in ("classification", "regression"):
        raise typer.BadParameter("use classification or regression", param_hint="--task")
    from lanza.training.service import TrainRequest

    request = TrainRequest(
        data=data,
        target=target,
        name=name or _default_name(data),
        task=task,  # type: ignore[arg-type]
        metric=metric,
        time_budget=time_budget,
        folds=folds,
        candidates=[c.strip() for c in candidates.split(",")] if candidates else None,
        promote=promote,
        started=started,
    )
    outcome = run_training(state(ctx).workspace(), request, quiet=as_json)
    if as_json:
        print_json(outcome_json(outcome))
    else:
        show_outcome(outcome, state(ctx).workspace())


def run_training(workspace: Workspace, request: TrainRequest, quiet: bool = False) -> TrainOutcome:
    """Train with a progress bar in a terminal and one line per candidate as it ends.

    The lines are printed whether or not output is a terminal (CI logs, pipes), on
    stderr when stdout carries JSON.
    """
    out = errors if quiet else console
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=out, transient=True) as bar:
        task_id = bar.add_task("checking data", total=None)

        from lanza.training.service import train

        def step(event: Step) -> None:
            if event.state == "started":
                description = f"training {event.candidate} ({event.index}/{event.total})"
                bar.update(task_id, description=description, completed=event.index - 1)
                bar.update(task_id, total=event.total)
                return
            bar.update(task_id, completed=event.index)
            bar.console.print(progress_line(event), markup=False, highlight=False)
            bar.console.file.flush()

        return train(workspace, request, step)


def progress_line(event: Step) -> str:
    """One line for a candidate that finished, failed or was skipped."""
    return (
        f"[{event.elapsed:6.1f}s] {event.candidate:<24} {event.state:<8} {event.detail}"
    ).rstrip()


def show_outcome(outcome: TrainOutcome, workspace: Workspace) -> None:
    """The leaderboard, the rule's verdict and where to look next."""
    board, model, data = outcome.leaderboard, outcome.model, outcome.data
    console.print(
        f"[bold]{data.task}[/] on {len(data.features):,} rows × {data.features.shape[1]} "
        f"columns, target '{data.target_name}', metric {board.metric.name} "
        f"({'higher' if board.metric.greater_is_better else 'lower'} is better), "
        f"{data.folds}-fold CV"
    )
    if data.dropped_rows:
        console.print(f"{data.dropped_rows} rows without a target were left out.")
    for note in data.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    rows = board.rows()
    print_table(
        "Leaderboard (simplest first)",
        ["", "candidate", board.metric.name, "± std", "fit s", "ms/1 row", "µs/row@1k", "KB"],
        [_leaderboard_cells(r, board.metric.name) for r in rows],
    )
    for failed in board.failed:
        console.print(f"failed {failed.name}: {failed.reason}", markup=False, highlight=False)
    for skipped in board.skipped:
        console.print(f"skipped {skipped.name}: {skipped.reason}", markup=False, highlight=False)
    console.print(
        f"[bold green]{board.selection.reason}[/] Rule: the simplest candidate whose mean "
        "score is within one standard error of the best."
    )
    console.print(
        f"Registered [bold]{model.name}[/] version {model.version} as [bold]{model.alias}[/] "
        f"(MLflow run {model.run_id})."
    )
    console.print(
        f"Look at it: lanza models show {model.name}   |   lanza ui  "
        f"(MLflow on {workspace.settings.tracking})"
    )


def _leaderboard_cells(row: dict[str, object], metric: str) -> list[str]:
    if row["status"] != "ok":
        return ["✗", str(row["candidate"]), "failed", "", "", "", "", ""]
    return [
        "→" if row["picked"] else "",
        str(row["candidate"]),
        f"{row[metric]:.4f}",
        f"{row['std']:.4f}",
        f"{row['fit_s']:.2f}",
        f"{row['latency_ms_per_row']:.2f}",
        f"{row['batch_us_per_row']:.1f}",
        f"{row['size_kb']:,.0f}",
    ]


def outcome_json(outcome: TrainOutcome) -> dict[str, object]:
    """The outcome as a JSON document."""
    board = outcome.leaderboard
    return {
        "model": outcome.model.name,
        "version": outcome.model.version,
        "alias": outcome.model.alias,
        "run_id": outcome.model.run_id,
        "task": outcome.data.task,
        "metric": board.metric.name,
        "picked": board.selection.picked,
        "best": board.selection.best,
        "reason": board.selection.reason,
        "leaderboard": board.rows(),
        "skipped": [{"candidate": s.name, "reason": s.reason} for s in board.skipped],
        "failed": [{"candidate": f.name, "reason": f.reason} for f in board.failed],
        "notes": list(outcome.data.notes),
        "folds": outcome.data.folds,
        "rows": len(outcome.data.features),
        "columns_used": outcome.data.plan.used,
        "search_seconds": round(board.seconds, 3),
        "seconds": round(outcome.seconds, 3),
    }


def _default_name(data: Path) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in data.stem)
    return stem.strip("_-") or "model"
