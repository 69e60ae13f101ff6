"""``lanza eval``: score a deployment or a prompt on a dataset, and compare two runs.

``lanza eval DATASET --target ...`` runs an evaluation (``run`` is the default command);
``lanza eval compare RUN_A RUN_B`` puts two runs side by side.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.llm.evaluation.tracking import LoggedRun


class _DatasetFirst(TyperGroup):
    """Runs ``run`` when the first word is not a command, so ``lanza eval DATA`` works."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DatasetFirst,
    help="Evaluate a deployment or prompt on a JSONL dataset; compare two runs.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(help="JSONL: input|inputs|messages, expected.")],
    target: Annotated[str, typer.Option(help="Deployment, or prompt NAME@ALIAS / NAME/VERSION.")],
    scorers: Annotated[
        str, typer.Option(help="Comma-separated: exact,contains,regex,similarity,judge.")
    ] = "exact,contains",
    deployment: Annotated[
        str | None, typer.Option(help="Deployment that runs a prompt target.")
    ] = None,
    judge: Annotated[str | None, typer.Option(help="Deployment that grades answers.")] = None,
    embeddings: Annotated[
        str | None, typer.Option(help="Embeddings deployment (default: packaged MiniLM).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Rows in flight at once.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Longest answer per row.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run every row against the target, score it, and log the run to MLflow.

    Example: lanza eval qa.jsonl --target support@production --deployment gpt
    --scorers exact,similarity,judge --judge gpt
    """
    from rich.progress import Progress

    from lanza.llm.evaluation.scorers import parse_scorers
    from lanza.llm.evaluation.service import EvalRequest, evaluate

    workspace = state(ctx).workspace()
    request = EvalRequest(
        dataset=dataset,
        target=target,
        scorers=parse_scorers(scorers),
        deployment=deployment,
        judge=judge,
        embeddings=embeddings,
        concurrency=max(1, concurrency or workspace.settings.llm.eval_concurrency),
        max_tokens=max_tokens,
    )
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("evaluating", total=None)
        outcome = asyncio.run(
            evaluate(
                workspace,
                request,
                on_start=lambda total: progress.update(task, total=total),
                advance=lambda: progress.advance(task),
            )
        )
    if as_json:
        print_json({"run_id": outcome.run_id, "target": outcome.target, **outcome.metrics})
        return
    print_table(
        f"Evaluation of {outcome.target}",
        ["metric", "value"],
        sorted(outcome.metrics.items()),
    )
    console.print(
        f"MLflow run [bold]{outcome.run_id}[/] in experiment "
        f"'{workspace.settings.llm.eval_experiment}'."
    )


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(help="First evaluation's MLflow run id.")],
    run_b: Annotated[str, typer.Argument(help="Second evaluation's MLflow run id.")],
    rows: Annotated[int, typer.Option(help="Rows that differ to show.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Two evaluation runs side by side: metrics, then the rows whose scores differ.

    Example: lanza eval compare 3f2a... 9b1c...
    """
    from lanza.llm.evaluation.tracking import EvaluationLog

    settings = state(ctx).workspace().settings
    assert settings.artifact_root is not None
    log = EvaluationLog(
        state(ctx).workspace().mlflow, settings.llm.eval_experiment, settings.artifact_root
    )
    a, b = log.load(run_a), log.load(run_b)
    metrics = _metric_rows(a, b)
    differing = _differing_rows(a, b)
    if as_json:
        print_json(
            {
                "a": {"run_id": a.run_id, "target": a.params.get("target")},
                "b": {"run_id": b.run_id, "target": b.params.get("target")},
                "metrics": [
                    dict(zip(["metric", "a", "b", "delta"], m, strict=True)) for m in metrics
                ],
                "differing_rows": differing,
            }
        )
        return
    console.print(f"A: {a.params.get('target')} ({a.run_id})")
    console.print(f"B: {b.params.get('target')} ({b.run_id})")
    print_table("Metrics", ["metric", "A", "B", "B - A"], metrics)
    print_table(
        f"Rows whose scores differ ({len(differing)})",
        ["id", "input", "A output", "A scores", "B output", "B scores"],
        [
            [d["id"], d["input"], d["a_output"], d["a_scores"], d["b_output"], d["b_scores"]]
            for d in differing[:rows]
        ],
    )


def _metric_rows(a: LoggedRun, b: LoggedRun) -> list[list[Any]]:
    names = sorted(set(a.metrics) | set(b.metrics))
    out = []
    for name in names:
        left, right = a.metrics.get(name), b.metrics.get(name)
        delta = right - left if left is not None and right is not None else None
        out.append([name, left, right, delta])
    return out


def _differing_rows(a: LoggedRun, b: LoggedRun) -> list[dict[str, Any]]:
    by_id = {str(r["id"]): r for r in b.rows}
    shared = _score_columns(a.rows) & _score_columns(b.rows)
    out = []
    for left in a.rows:
        right = by_id.get(str(left["id"]))
        if right is None:
            continue
        a_scores, b_scores = _scores(left, shared), _scores(right, shared)
        if a_scores != b_scores:
            out.append(
                {
                    "id": left["id"],
                    "input": _short(left.get("input")),
                    "a_output": _short(left.get("output") or left.get("error")),
                    "a_scores": a_scores,
                    "b_output": _short(right.get("output") or right.get("error")),
                    "b_scores": b_scores,
                }
            )
    return out


def _score_columns(rows: list[dict[str, Any]]) -> set[str]:
    return {k for row in rows[:1] for k in row if k.startswith("score_")}


def _scores(row: dict[str, Any], shared: set[str]) -> str:
    """The scores both runs have, as ``name=0.75 ...``."""
    parts = [
        f"{k.removeprefix('score_')}=" + (f"{v:.2f}" if isinstance(v, int | float) else "-")
        for k, v in sorted(row.items())
        if k in shared
    ]
    return " ".join(parts)


def _short(value: Any, width: int = 40) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"
