"""``lanza traces``: list, search and read traces, and add feedback to them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table
from lanza.errors import InvalidInputError

if TYPE_CHECKING:
    from lanza.llm.tracing.queries import TraceReader

app = typer.Typer(help="Browse traces of LLM applications and add feedback.", no_args_is_help=True)


def _reader(ctx: typer.Context) -> TraceReader:
    from lanza.llm.tracing.queries import TraceReader

    return TraceReader(state(ctx).workspace().database)


@app.command("list")
def list_traces(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Part of the trace's name.")] = None,
    status: Annotated[str | None, typer.Option(help="success, error or running.")] = None,
    tag: Annotated[str | None, typer.Option(help="A tag on any span of the trace.")] = None,
    after: Annotated[datetime | None, typer.Option(help="Started at or after (UTC).")] = None,
    before: Annotated[datetime | None, typer.Option(help="Started before (UTC).")] = None,
    min_latency_ms: Annotated[float | None, typer.Option(help="Slowest only.")] = None,
    min_tokens: Annotated[int | None, typer.Option(help="Most tokens only.")] = None,
    limit: Annotated[int, typer.Option(help="Traces per page (1-500).")] = 20,
    offset: Annotated[int, typer.Option(help="Traces to skip.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Traces, newest first, filtered.

    Example: lanza traces list --status error --min-latency-ms 500
    """
    from pydantic import ValidationError

    from lanza.llm.tracing.queries import TraceQuery

    try:
        query = TraceQuery(
            name=name,
            status=status,
            tag=tag,
            start_after=after,
            start_before=before,
            min_latency_ms=min_latency_ms,
            min_tokens=min_tokens,
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InvalidInputError(f"--{problem['loc'][0]}: {problem['msg']}.") from exc
    page = _reader(ctx).list(query)
    if as_json:
        print_json(page)
        return
    print_table(
        None,
        ["trace", "name", "status", "started", "latency ms", "spans", "tokens", "cost $"],
        [
            [
                t["trace_id"],
                t["name"],
                t["status"],
                (t["start_time"] or "-")[:19],
                t["latency_ms"],
                t["span_count"],
                t["total_tokens"],
                t["cost_usd"],
            ]
            for t in page["traces"]
        ],
    )
    if page["next_offset"] is not None:
        console.print(f"More: --offset {page['next_offset']}")


@app.command("show")
def show(ctx: typer.Context, trace_id: str, as_json: JsonFlag = False) -> None:
    """One trace as a tree of spans, with timings, tokens, cost and feedback.

    Example: lanza traces show 5eab47e7-a68f-4093-8c00-1e1de8a730fc
    """
    from rich.tree import Tree

    found = _reader(ctx).get(trace_id)
    if as_json:
        print_json(found)
        return
    tree = Tree(f"[bold]{found['name']}[/] {found['trace_id']} ({found['status']})")
    for root in found["spans"]:
        _grow(tree, root)
    console.print(tree)
    for item in found["feedback"]:
        console.print(f"feedback {item['key']}: score={item['score']} {item['comment'] or ''}")


def _grow(parent: Any, span: dict[str, Any]) -> None:
    latency = f"{span['latency_ms']:.1f} ms" if span["latency_ms"] is not None else "running"
    tokens = ""
    if span["prompt_tokens"] is not None or span["completion_tokens"] is not None:
        tokens = f", {span['prompt_tokens'] or 0}+{span['completion_tokens'] or 0} tokens"
    error = f" [red]{span['error']}[/]" if span["error"] else ""
    branch = parent.add(f"{span['name']} [dim]{span['run_type']}[/] {latency}{tokens}{error}")
    for child in span["children"]:
        _grow(branch, child)


@app.command("feedback")
def feedback(
    ctx: typer.Context,
    trace_id: str,
    key: Annotated[str, typer.Option(help="What is judged, e.g. 'correctness'.")],
    score: Annotated[float | None, typer.Option(help="A number, e.g. 0 or 1.")] = None,
    comment: Annotated[str | None, typer.Option(help="Free text.")] = None,
    correction: Annotated[str | None, typer.Option(help="The right answer (JSON or text).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Attach a score, comment or correction to a trace.

    Example: lanza traces feedback 5eab47e7-a68f-4093-8c00-1e1de8a730fc --key correct --score 1
    """
    from pydantic import ValidationError

    from lanza.llm.tracing.queries import FeedbackIn

    try:
        item = FeedbackIn(key=key, score=score, comment=comment, correction=_parsed(correction))
    except ValidationError as exc:
        raise InvalidInputError(f"Feedback is not valid: {exc.errors()[0]['msg']}.") from exc
    stored = _reader(ctx).add_feedback(trace_id, item)
    if as_json:
        print_json(stored)
        return
    console.print(f"Feedback '{key}' added to trace {trace_id}.")


def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
