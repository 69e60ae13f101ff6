"""``lanza datasets``: named evaluation datasets, built from traces or imported from JSONL.

A named dataset is read by ``lanza eval NAME`` as a JSONL path would be.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table
from lanza.errors import InvalidInputError

if TYPE_CHECKING:
    from lanza.llm.evaluation.datasets import DatasetLibrary

app = typer.Typer(help="Evaluation datasets built from traces or JSONL.", no_args_is_help=True)


def _library(ctx: typer.Context) -> DatasetLibrary:
    from lanza.llm.evaluation.datasets import DatasetLibrary

    return DatasetLibrary.of(state(ctx).workspace().settings.home)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset's name, for lanza eval NAME.")],
    from_traces: Annotated[
        bool, typer.Option("--from-traces", help="One row per trace that matches.")
    ] = False,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="Import a JSONL dataset instead.")
    ] = None,
    name_filter: Annotated[str | None, typer.Option(help="Part of the traces' name.")] = None,
    tag: Annotated[str | None, typer.Option(help="A tag on any span of the trace.")] = None,
    status: Annotated[str, typer.Option(help="success, error or running.")] = "success",
    after: Annotated[datetime | None, typer.Option(help="Started at or after (UTC).")] = None,
    before: Annotated[datetime | None, typer.Option(help="Started before (UTC).")] = None,
    min_latency_ms: Annotated[float | None, typer.Option(help="Slow traces only.")] = None,
    min_tokens: Annotated[int | None, typer.Option(help="Long traces only.")] = None,
    limit: Annotated[int, typer.Option(help="Most rows (newest traces first).")] = 1000,
    corrections_only: Annotated[
        bool, typer.Option(help="Only traces whose feedback carries a correction.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a dataset of this name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Build a dataset: inputs from each trace's root span; expected answers from feedback
    corrections, else from the root's output.

    Example: lanza datasets create support-qa --from-traces --name-filter support --tag prod
    """
    from pydantic import ValidationError

    from lanza.llm.evaluation.dataset import load_dataset
    from lanza.llm.evaluation.datasets import rows_from_traces
    from lanza.llm.tracing.queries import TraceQuery, TraceReader

    library = _library(ctx)
    library.path(name)
    if from_traces == (from_file is not None):
        raise InvalidInputError("Say where the rows come from: --from-traces or --from-file.")
    if from_file is not None:
        load_dataset(from_file)  # a bad file fails here, naming its line
        lines = from_file.read_text().splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        info = library.write(name, rows, overwrite)
    else:
        try:
            query = TraceQuery(
                name=name_filter,
                tag=tag,
                status=status,
                start_after=after,
                start_before=before,
                min_latency_ms=min_latency_ms,
                min_tokens=min_tokens,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise InvalidInputError(f"--{problem['loc'][0]}: {problem['msg']}.") from exc
        if limit < 1:
            raise InvalidInputError("--limit must be at least 1.")
        reader = TraceReader(state(ctx).workspace().database)
        with console.status("reading traces", spinner="dots"):
            rows = rows_from_traces(reader, query, limit, corrections_only)
        info = library.write(name, rows, overwrite)
    if as_json:
        print_json(info.view())
        return
    console.print(
        f"Dataset [bold]{info.name}[/]: {info.rows} rows ({info.corrected} from corrections) "
        f"in {info.path}. Evaluate it with: lanza eval {info.name} --target DEPLOYMENT"
    )


@app.command("list")
def list_datasets(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every named dataset.

    Example: lanza datasets list
    """
    found = _library(ctx).all()
    if as_json:
        print_json([d.view() for d in found])
        return
    print_table(
        None,
        ["name", "rows", "from corrections", "modified", "path"],
        [[d.name, d.rows, d.corrected, d.modified[:19], d.path] for d in found],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: str,
    rows: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """A dataset's first rows.

    Example: lanza datasets show support-qa
    """
    library = _library(ctx)
    info, examples = library.info(name), library.rows(name, max(1, rows))
    if as_json:
        print_json({**info.view(), "examples": examples})
        return
    print_table(
        f"{info.name}: {info.rows} rows",
        ["id", "input", "expected", "from"],
        [
            [
                e.get("id"),
                _short(e.get("input") or e.get("messages") or e.get("inputs")),
                _short(e.get("expected")),
                e.get("expected_from", "-"),
            ]
            for e in examples
        ],
    )


def _short(value: object, width: int = 50) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"
