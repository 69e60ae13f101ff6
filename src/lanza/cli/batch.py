"""``lanza batch`` (score a dataset into numbered parts) and ``lanza jobs`` (the server's jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from lanza.cli.allocators import bound_for_batch
from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.batch.spec import BatchSummary
    from lanza.batch.spec import Progress as JobProgress
    from lanza.batch.store import JobStore, JobView

jobs_app = typer.Typer(help="Batch jobs queued on the server: list, show, cancel.")


def batch_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Model reference: NAME@ALIAS or NAME/VERSION.")],
    input: Annotated[str, typer.Argument(help="A file, folder, glob or fsspec URL.")],
    output: Annotated[
        str, typer.Argument(help="Output folder or fsspec URL (gs://…) for parts and the manifest.")
    ],
    engine: Annotated[str, typer.Option(help="local (every core) or ray.")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue after the last committed part.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="parquet, csv, jsonl or vertex (Vertex AI shape).")
    ] = "parquet",
    keep_columns: Annotated[
        str | None, typer.Option(help="Comma-separated input columns to keep (ids).")
    ] = None,
    probabilities: Annotated[bool, typer.Option(help="Add proba_<class> columns.")] = False,
    fail_fast: Annotated[bool, typer.Option(help="Stop at the first bad row.")] = False,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk and part.")] = 20_000,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto (a GPU when one helps).")] = "auto",
    log_rate: Annotated[
        float, typer.Option(help="Share of rows logged for drift monitoring (0 to 1).")
    ] = 0.0,
    log_as: Annotated[
        str | None, typer.Option(help="Deployment the logged rows count for [model name].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score INPUT with a registered model into OUTPUT, resumably and exactly once.

    Example: lanza batch fraud@champion "inputs/*.parquet" out/ --keep-columns id
    """
    bound_for_batch()  # first: Arrow picks its allocator when it first allocates
    from lanza.batch.job import JobHooks, run_batch
    from lanza.batch.spec import BatchOptions
    from lanza.batch.tracking import OUTBOX, OutboxTracker

    options = BatchOptions(
        model=ref,
        input=input,
        output=output,
        format=fmt,  # type: ignore[arg-type]
        engine=engine,  # type: ignore[arg-type]
        ray_address=ray_address,
        keep_columns=tuple(c.strip() for c in (keep_columns or "").split(",") if c.strip()),
        probabilities=probabilities,
        fail_fast=fail_fast,
        chunk_rows=chunk_rows,
        device=device,
        resume=resume,
        overwrite=overwrite,
        log_rate=log_rate,
        log_as=log_as,
    )
    columns = [
        TextColumn("scoring"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    ]
    workspace = state(ctx).workspace()
    settings = workspace.settings
    assert settings.artifact_root is not None
    # The MLflow run is logged by a process started as the job ends: MLflow's import
    # would cost this one more than scoring a million rows (see lanza.batch.tracking).
    tracker = OutboxTracker(settings.home / OUTBOX, settings.tracking, settings.artifact_root)
    with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("scoring", total=None, rate="")

        def show(progress: JobProgress) -> None:
            tracker.touch()
            bar.update(
                task,
                completed=progress.rows_done,
                total=progress.rows_total,
                rate=f"{progress.rate:,.0f} rows/s, {progress.errors} errors",
            )

        summary = run_batch(workspace, options, JobHooks(on_progress=show, tracker=tracker))
    _report(summary, as_json)


def _report(summary: BatchSummary, as_json: bool) -> None:
    if as_json:
        print_json(summary.to_dict())
        return
    console.print(
        f"[bold green]{summary.rows:,} rows[/] scored by {summary.model} on {summary.device} in "
        f"{summary.seconds:.1f} s ({summary.rows_per_s:,.0f} rows/s): {summary.written:,} "
        f"written to {summary.output} in {summary.parts} parts, {summary.errors:,} errors"
        + (f" (see {summary.output}/_errors/)" if summary.errors else "")
        + (f"; resumed after {summary.resumed_from:,} rows" if summary.resumed_from else "")
        + "."
    )


def _store(ctx: typer.Context) -> JobStore:
    from lanza.batch.store import JobStore

    return JobStore(state(ctx).workspace().database)


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    job_state: Annotated[
        str | None, typer.Option("--state", help="Only jobs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Batch jobs queued on the server, newest first.

    Example: lanza jobs list --state running
    """
    jobs = _store(ctx).list_jobs(limit, job_state)
    if as_json:
        print_json([j.to_dict() for j in jobs])
        return
    if not jobs:
        console.print("No batch jobs yet. Queue one: POST /api/v1/batch-jobs")
        return
    print_table(
        None,
        ["id", "state", "model", "rows", "errors", "rows/s", "created"],
        [[j.id, j.state, j.model, _rows(j), j.errors, j.rate, j.created_at] for j in jobs],
    )


@jobs_app.command("show")
def show_job(ctx: typer.Context, job_id: str, as_json: JsonFlag = False) -> None:
    """One job: state, rows done and total, rate, ETA, and what you can do next.

    Example: lanza jobs show 3f2a9c0d1b2e4f50
    """
    job = _store(ctx).get(job_id)
    if as_json:
        print_json(job.to_dict())
        return
    eta = f", about {job.eta_s:,.0f} s left" if job.eta_s is not None else ""
    console.print(f"[bold]{job.id}[/] {job.state}: {job.model}, {job.input} → {job.output}")
    console.print(f"{_rows(job)} rows, {job.errors:,} errors, {job.rate:,.0f} rows/s{eta}")
    if job.message:
        console.print(job.message)
    if job.actions:
        console.print("actions: " + ", ".join(job.actions))


@jobs_app.command("cancel")
def cancel_job(ctx: typer.Context, job_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a job: at once if queued, after its current chunk if running.

    Example: lanza jobs cancel 3f2a9c0d1b2e4f50
    """
    job = _store(ctx).cancel(job_id)
    if as_json:
        print_json(job.to_dict())
        return
    if job.state == "running":
        console.print(f"Job {job.id} will stop after its current chunk.")
    else:
        console.print(f"Job {job.id} is {job.state}.")


def _rows(job: JobView) -> str:
    total = f"/{job.rows_total:,}" if job.rows_total else ""
    return f"{job.rows_done:,}{total}"
