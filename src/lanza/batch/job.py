"""Run one batch job end to end: resolve, load, open the output, score, commit, summarise.

The CLI and the server's background worker both call ``run_batch``; the caller passes
hooks to see progress and to cancel between chunks.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lanza.batch.engines import Engine, LocalEngine, default_workers
from lanza.batch.manifest import Manifest, PartRecord, open_output
from lanza.batch.readers import ChunkReader, InputSet, Unread, resolve_input
from lanza.batch.remote import RemoteFolder, output_folder
from lanza.batch.scoring import ScoreOptions
from lanza.batch.spec import (
    DEFAULT_CHUNK_ROWS,
    FORMATS,
    GPU_CHUNK_ROWS,
    BatchOptions,
    BatchSummary,
    Progress,
    ScoredChunk,
)
from lanza.batch.tracking import JobTracker, Tracker
from lanza.batch.writers import PartWriter
from lanza.errors import InvalidInputError, JobCancelledError
from lanza.runtime.schema import InputSchema

PREFETCH_BYTES = 64 << 20  # parsed input held while the model loads (20 chunks of 20 x 20k)

if TYPE_CHECKING:
    from lanza.monitoring.batchlog import BatchPredictionLog
    from lanza.runtime.base import ModelRuntime
    from lanza.workspace import Workspace


@dataclass
class JobHooks:
    """What the caller sees of a running job, and how it asks it to stop."""

    on_progress: Callable[[Progress], None] | None = None
    cancelled: Callable[[], bool] | None = None
    job_id: str | None = None
    on_run: Callable[[str | None], None] | None = None
    tracker: Tracker | None = None  # default: the job's MLflow run, written in-process


def run_batch(
    workspace: Workspace, options: BatchOptions, hooks: JobHooks | None = None
) -> BatchSummary:
    """Score ``options.input`` into ``options.output``; resumable and exactly once."""
    hooks = hooks or JobHooks()
    _check(options)
    folder = output_folder(options.output)
    began = time.monotonic()
    runtime, manifest, reader, chunks, total, options = _open(workspace, options, folder)
    # Libraries and the model live as long as the job: keep them out of full GC passes.
    gc.freeze()
    resumed_from = manifest.rows
    tracker = hooks.tracker or _tracker(workspace)
    tracker.start(options, runtime.ref, hooks.job_id)
    if hooks.on_run is not None:
        hooks.on_run(tracker.run_id)
    writer = PartWriter(folder, options.format)
    engine = make_engine(options, runtime)
    sampled = _sample_log(workspace, options, runtime, hooks.job_id or tracker.run_id)
    status = "FAILED"
    try:
        for scored in engine.run(chunks):
            _commit(manifest, folder, writer, scored)
            if sampled is not None:
                sampled.add(scored.sample)
                sampled.count(scored.index, scored.table.num_rows, scored.flags)
            if hooks.on_progress is not None:
                estimate = total or _estimate(manifest.rows, reader.fraction())
                elapsed = time.monotonic() - began
                hooks.on_progress(
                    Progress(manifest.rows, estimate, manifest.errors, elapsed, resumed_from)
                )
            if hooks.cancelled is not None and hooks.cancelled():
                status = "KILLED"
                raise JobCancelledError(
                    f"The job was cancelled after {manifest.rows:,} rows; "
                    "its committed parts are kept and it can be resumed."
                )
        manifest.complete = True
        manifest.save(folder)
        status = "FINISHED"
    finally:
        engine.close()
        summary = _summary(manifest, folder, time.monotonic() - began, resumed_from)
        summary = replace(summary, device=runtime.device)
        tracker.finish(summary, status)
    return summary


def _tracker(workspace: Workspace) -> Tracker:
    assert workspace.settings.artifact_root is not None
    return JobTracker(workspace.mlflow, workspace.settings.artifact_root)


def _open(
    workspace: Workspace, options: BatchOptions, folder: Path | RemoteFolder
) -> tuple[ModelRuntime, Manifest, ChunkReader, Iterator[Unread], int | None, BatchOptions]:
    """Load the model (the manifest's version on resume), open the output and the input.

    The model loads in a thread while this one reads and parses the input's first chunks:
    loading is mostly imports, which hold the GIL on one core, and Arrow parses on the
    other without it. What was read early is used if the job's chunks turn out the same
    (a model on a GPU takes larger ones); else the input is read again from the start.
    """
    inputs = resolve_input(options.input)
    readable = isinstance(folder, RemoteFolder) or folder.exists()
    previous = Manifest.load(folder) if options.resume and readable else None
    model = previous.model if previous else options.model
    loader = workspace.loader
    version = loader.resolve(model)
    # A download from a remote store imports MLflow (about 100 MB): no memory for early chunks.
    local = loader.on_this_machine(version)
    meta = loader.describe(version)
    schema = meta.schema
    guess = _chunking(options, "cpu", previous)
    early = None
    if schema is not None and local:
        skip = previous.next_index if previous else 0
        early = EarlyInput(_reader(inputs, schema, guess), schema, skip)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="lanza-load") as pool:
            loading = pool.submit(loader.load_version, version, options.device, meta)
            if early is not None:
                early.fill(loading.done)
            runtime = loading.result().runtime
        options = _chunking(options, runtime.device, previous)
        manifest = open_output(folder, options, runtime.ref, list(inputs.files))
    except BaseException:
        if early is not None:
            early.close()
        raise
    if early is not None and early.fits(runtime.schema, options.chunk_rows, manifest.next_index):
        return runtime, manifest, early.reader, early.chunks(), inputs.parquet_rows(), options
    if early is not None:
        early.close()
    reader = _reader(inputs, runtime.schema, options)
    chunks = reader.chunks(skip=manifest.next_index)
    return runtime, manifest, reader, chunks, inputs.parquet_rows(), options


def _reader(inputs: InputSet, schema: InputSchema, options: BatchOptions) -> ChunkReader:
    features = schema.names or None
    kept = list(options.keep_columns)
    if options.format == "vertex":  # Vertex AI's shape echoes each instance
        kept = list(dict.fromkeys([*(features or []), *kept]))
    return ChunkReader(
        inputs,
        features,
        kept,
        options.chunk_rows,
        required=set(schema.names),  # a column left out is an error (lanza.runtime.rules)
        numeric={c.name for c in schema.columns if c.numeric},
    )


class EarlyInput:
    """The input's first chunks, read and parsed while the model loads.

    At most ``PREFETCH_BYTES`` of parsed values are held. Anything that goes wrong here
    only means the input is read again once the model is loaded, where the job meets
    the same error at the same row as it would have.
    """

    def __init__(self, reader: ChunkReader, schema: InputSchema, skip: int) -> None:
        self.reader = reader
        self.schema = schema
        self.skip = skip
        self.ready: deque[Unread] = deque()
        self.failed = False
        self._rest = reader.chunks(skip=skip)
        width = len(reader.features or ()) + len(reader.kept) or 1
        self.limit = PREFETCH_BYTES // (reader.chunk_rows * width * 8)

    def fill(self, stop: Callable[[], bool]) -> None:
        """Parse chunks until ``stop()`` says the model is ready, or the budget is spent."""
        try:
            while len(self.ready) < self.limit and not stop():
                unread = next(self._rest, None)
                if unread is None:
                    return
                self.ready.append(unread.load())
        except Exception:
            self.failed = True

    def fits(self, schema: InputSchema, chunk_rows: int, skip: int) -> bool:
        """Whether the job reads the chunks this read: same columns, size and start."""
        same = (schema, chunk_rows, skip) == (self.schema, self.reader.chunk_rows, self.skip)
        return same and not self.failed

    def chunks(self) -> Iterator[Unread]:
        """The chunks read early (each let go as it is taken), then the rest."""
        while self.ready:
            yield self.ready.popleft()
        yield from self._rest

    def close(self) -> None:
        """Drop what was read and close the input's files."""
        self.ready.clear()
        self._rest.close()


def _sample_log(
    workspace: Workspace, options: BatchOptions, runtime: ModelRuntime, job: str | None
) -> BatchPredictionLog | None:
    """The prediction log for sampled rows, when the job asked for one."""
    if options.log_rate <= 0:
        return None
    from lanza.monitoring.batchlog import BatchPredictionLog

    deployment = options.log_as or runtime.ref.rsplit("/", 1)[0]
    return BatchPredictionLog(workspace, runtime, deployment, job or "local")


def _chunking(options: BatchOptions, device: str, previous: Manifest | None) -> BatchOptions:
    """Larger chunks on a GPU unless chosen; a resumed job keeps the chunks it began with."""
    if options.chunk_rows != DEFAULT_CHUNK_ROWS:
        return options
    if previous is not None:
        rows = int(previous.options.get("chunk_rows", DEFAULT_CHUNK_ROWS))
    elif device == "cuda":
        rows = GPU_CHUNK_ROWS
    else:
        return options
    return replace(options, chunk_rows=rows)


def _commit(
    manifest: Manifest, folder: Path | RemoteFolder, writer: PartWriter, scored: ScoredChunk
) -> None:
    name = writer.write_part(scored.index, scored.table) if scored.table.num_rows else None
    errors_file = writer.write_errors(scored.index, scored.errors) if scored.errors else None
    part = PartRecord(
        scored.index,
        name,
        scored.start,
        scored.rows,
        scored.table.num_rows,
        len(scored.errors),
        errors_file,
    )
    manifest.commit(folder, part)


def _summary(
    manifest: Manifest, folder: Path | RemoteFolder, seconds: float, resumed_from: int
) -> BatchSummary:
    return BatchSummary(
        model=manifest.model,
        output=str(folder),
        rows=manifest.rows,
        written=manifest.written,
        errors=manifest.errors,
        parts=len(manifest.parts),
        seconds=seconds,
        resumed_from=resumed_from,
    )


def _estimate(rows: int, fraction: float) -> int | None:
    return int(rows / fraction) if fraction > 0 else None


def _check(options: BatchOptions) -> None:
    if options.format not in FORMATS:
        raise InvalidInputError(f"Unknown format '{options.format}'; use {', '.join(FORMATS)}.")
    if options.chunk_rows < 1:
        raise InvalidInputError("--chunk-rows must be at least 1.")
    if options.resume and options.overwrite:
        raise InvalidInputError("Pass --resume or --overwrite, not both.")
    if not 0 <= options.log_rate <= 1:
        raise InvalidInputError(f"--log-rate must be between 0 and 1, not {options.log_rate}.")


def make_engine(options: BatchOptions, runtime: ModelRuntime) -> Engine:
    """The engine a job asked for, built once for the whole job."""
    score = ScoreOptions(options.probabilities, options.fail_fast, options.log_rate)
    workers = options.workers or default_workers()
    if options.engine == "local":
        return LocalEngine(runtime, score, workers)
    if options.engine == "ray":
        from lanza.batch.ray_engine import RayEngine

        return RayEngine(runtime, score, options.ray_address, workers)
    raise InvalidInputError(f"Unknown engine '{options.engine}'; use local or ray.")
