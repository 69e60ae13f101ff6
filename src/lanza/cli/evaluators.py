"""``lanza evaluators``: online evaluators that score live traces in the background.

The CLI writes the table a running server reads every second, so a new evaluator
scores the next matching trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.llm.online.store import EvaluatorStore

app = typer.Typer(
    help="Score a sample of live traces with judges and checks.", no_args_is_help=True
)


def _store(ctx: typer.Context) -> EvaluatorStore:
    from lanza.llm.online.store import EvaluatorStore

    return EvaluatorStore(state(ctx).workspace().database)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The evaluator's name.")],
    scorers: Annotated[str, typer.Option(help="Comma list of judge, regex, similarity.")],
    filter_: Annotated[
        str, typer.Option("--filter", help="Terms like 'name=support run_type=chain'.")
    ] = "",
    sample: Annotated[float, typer.Option(help="Share of matching traces scored (0-1].")] = 1.0,
    judge: Annotated[str | None, typer.Option(help="LLM deployment that grades.")] = None,
    embedder: Annotated[str | None, typer.Option(help="Embeddings deployment.")] = None,
    pattern: Annotated[str | None, typer.Option(help="Regex the answer should match.")] = None,
    alert_below: Annotated[
        float | None, typer.Option(help="Alert when the window mean falls below this.")
    ] = None,
    alert_scorer: Annotated[str | None, typer.Option(help="Scorer the alert watches.")] = None,
    alert_window: Annotated[int, typer.Option(help="Latest scores in the window.")] = 200,
    webhook: Annotated[str | None, typer.Option(help="URL POSTed when the alert fires.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace one of that name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create an online evaluator.

    Example: lanza evaluators add support --filter "name=support run_type=chain"
    --sample 0.1 --scorers judge,similarity --judge gpt --alert-below 3.5
    """
    from lanza.llm.online.store import parse_evaluator

    spec = parse_evaluator(
        {
            "name": name,
            "filter": filter_,
            "sample": sample,
            "scorers": [s.strip() for s in scorers.split(",") if s.strip()],
            "judge": judge,
            "embedder": embedder,
            "pattern": pattern,
            "alert_below": alert_below,
            "alert_scorer": alert_scorer,
            "alert_window": alert_window,
            "webhook": webhook,
        }
    )
    _store(ctx).create(spec, replace=replace)
    if as_json:
        print_json(spec.model_dump())
        return
    console.print(
        f"Evaluator [bold]{name}[/] scores {spec.sample:.0%} of traces matching "
        f"'{spec.filter or 'everything'}' with {', '.join(spec.scorers)}."
    )


@app.command("list")
def list_evaluators(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every online evaluator.

    Example: lanza evaluators list
    """
    specs = _store(ctx).list()
    if as_json:
        print_json([s.model_dump() for s in specs])
        return
    if not specs:
        console.print("No evaluators yet. Add one: lanza evaluators add NAME --scorers judge ...")
        return
    rows = [
        [s.name, s.filter or "(all)", s.sample, ",".join(s.scorers), s.judge, s.alert_below]
        for s in specs
    ]
    print_table(None, ["name", "filter", "sample", "scorers", "judge", "alert below"], rows)


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """One evaluator, with the mean of its latest scores and prompt versions compared.

    Example: lanza evaluators show support
    """
    store = _store(ctx)
    spec = store.get(name)
    means = {s: store.window(name, s, spec.alert_window) for s in spec.scorers}
    summary = {s: (sum(v) / len(v) if v else None, len(v)) for s, v in means.items()}
    arms = store.arms(name, spec.scorers[0])
    if as_json:
        print_json(spec.model_dump() | {"window": summary, "arms": arms})
        return
    print_table(name, ["setting", "value"], list(spec.model_dump().items()))
    print_table(
        "latest scores", ["scorer", "mean", "n"], [[s, m, n] for s, (m, n) in summary.items()]
    )
    if arms["arms"]:
        rows = [[a["arm"], a["n"], a["mean"], _interval(a["ci95"])] for a in arms["arms"]]
        print_table(f"prompt versions ({arms['scorer']})", ["arm", "n", "mean", "95 % CI"], rows)


@app.command("delete")
def delete(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Delete an evaluator (its scores stay on the traces).

    Example: lanza evaluators delete support
    """
    _store(ctx).delete(name)
    if as_json:
        print_json({"deleted": name})
        return
    console.print(f"Evaluator [bold]{name}[/] deleted.")


queues_app = typer.Typer(help="Annotation queues: traces for people to review.")
queues_app.info.no_args_is_help = True
app.add_typer(queues_app, name="queues")


@queues_app.command("add")
def add_queue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The queue's name (its page: /annotate/NAME).")],
    filter_: Annotated[str, typer.Option("--filter", help="Trace terms, as for evaluators.")] = "",
    evaluator: Annotated[str | None, typer.Option(help="Only traces it scored.")] = None,
    scorer: Annotated[str, typer.Option(help="The scorer --below looks at.")] = "judge",
    below: Annotated[float | None, typer.Option(help="Only scores under this.")] = None,
    disagreement: Annotated[
        bool, typer.Option("--disagreement", help="Only traces whose scorers disagree.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create an annotation queue.

    Example: lanza evaluators queues add doubtful --evaluator support --scorer judge --below 3
    """
    from lanza.llm.annotation.queues import AnnotationQueues, QueueSpec
    from lanza.llm.annotation.routes import parse_queue

    spec: QueueSpec = parse_queue(
        {
            "name": name,
            "filter": filter_,
            "evaluator": evaluator,
            "scorer": scorer,
            "below": below,
            "disagreement": disagreement,
        }
    )
    AnnotationQueues(state(ctx).workspace().database).create(spec)
    if as_json:
        print_json(spec.model_dump())
        return
    console.print(f"Queue [bold]{name}[/] made; review it at http://127.0.0.1:8000/annotate/{name}")


@queues_app.command("list")
def list_queues(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every annotation queue.

    Example: lanza evaluators queues list
    """
    from lanza.llm.annotation.queues import AnnotationQueues

    specs = AnnotationQueues(state(ctx).workspace().database).all()
    if as_json:
        print_json([s.model_dump() for s in specs])
        return
    rows = [[s.name, s.filter or "(all)", s.evaluator, s.below, s.disagreement] for s in specs]
    print_table(None, ["name", "filter", "evaluator", "below", "disagreement"], rows)


@queues_app.command("delete")
def delete_queue(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Delete an annotation queue (its reviews stay on the traces).

    Example: lanza evaluators queues delete doubtful
    """
    from lanza.llm.annotation.queues import AnnotationQueues

    AnnotationQueues(state(ctx).workspace().database).delete(name)
    if as_json:
        print_json({"deleted": name})
        return
    console.print(f"Queue [bold]{name}[/] deleted.")


@queues_app.command("agreement")
def agreement(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Cohen's kappa between a queue's reviewers and each evaluator scorer.

    Example: lanza evaluators queues agreement doubtful
    """
    from lanza.llm.annotation.queues import AnnotationQueues

    result = AnnotationQueues(state(ctx).workspace().database).agreement(name)
    if as_json:
        print_json(result)
        return
    rows = [
        [f"{r['evaluator']}.{r['scorer']}", r["pairs"], r["agreement"], r["kappa"]]
        for r in result["evaluators"]
    ]
    print_table(f"{name}: {result['reviews']} reviews", ["scorer", "pairs", "agree", "kappa"], rows)


def _interval(bounds: list[float] | None) -> str:
    """A 95 % interval as text; one score has none."""
    return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]" if bounds else "- (one score)"
