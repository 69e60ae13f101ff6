"""Larger model calls on a GPU: the batch engine's chunk size, decided once per job."""

from __future__ import annotations

from lanza.batch.job import _chunking
from lanza.batch.manifest import Manifest
from lanza.batch.spec import DEFAULT_CHUNK_ROWS, GPU_CHUNK_ROWS, BatchOptions

OPTIONS = BatchOptions(model="m/1", input="in.csv", output="out")


def test_a_gpu_job_reads_larger_chunks() -> None:
    assert _chunking(OPTIONS, "cuda", None).chunk_rows == GPU_CHUNK_ROWS
    assert _chunking(OPTIONS, "cpu", None).chunk_rows == DEFAULT_CHUNK_ROWS


def test_chunks_chosen_by_the_user_are_kept_on_a_gpu() -> None:
    chosen = BatchOptions(model="m/1", input="in.csv", output="out", chunk_rows=5_000)
    assert _chunking(chosen, "cuda", None).chunk_rows == 5_000


def test_a_resumed_job_keeps_the_chunks_it_began_with() -> None:
    began_on_gpu = Manifest("m/1", {"chunk_rows": GPU_CHUNK_ROWS}, ["in.csv"])
    began_on_cpu = Manifest("m/1", {"chunk_rows": DEFAULT_CHUNK_ROWS}, ["in.csv"])
    resumed = BatchOptions(model="m/1", input="in.csv", output="out", resume=True)
    assert _chunking(resumed, "cpu", began_on_gpu).chunk_rows == GPU_CHUNK_ROWS
    assert _chunking(resumed, "cuda", began_on_cpu).chunk_rows == DEFAULT_CHUNK_ROWS
