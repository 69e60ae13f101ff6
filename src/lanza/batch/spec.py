"""Typed messages of a batch job: what to run, what a chunk carries, how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from lanza.records import SampledRow

Format = Literal["parquet", "csv", "jsonl", "vertex"]
EngineName = Literal["local", "ray"]
FORMATS: tuple[str, ...] = ("parquet", "csv", "jsonl", "vertex")
ENGINES: tuple[str, ...] = ("local", "ray")
DEFAULT_CHUNK_ROWS = 20_000
GPU_CHUNK_ROWS = 100_000  # a GPU is kept busy by large model calls, not by many small ones


@dataclass(frozen=True)
class BatchOptions:
    """What one batch job does: the model, the data, and how to write the results."""

    model: str
    input: str
    output: str
    format: Format = "parquet"
    engine: EngineName = "local"
    ray_address: str | None = None
    keep_columns: tuple[str, ...] = ()
    probabilities: bool = False
    fail_fast: bool = False
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    resume: bool = False
    overwrite: bool = False
    workers: int | None = None
    device: str = "auto"
    log_rate: float = 0.0
    log_as: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with a job."""
        out = asdict(self)
        out["keep_columns"] = list(self.keep_columns)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchOptions:
        """The inverse of ``to_dict``."""
        values = dict(data)
        values["keep_columns"] = tuple(values.get("keep_columns") or ())
        return cls(**values)


@dataclass(frozen=True)
class RowError:
    """A row that could not be scored, with its 0-based row number in the whole input."""

    row: int
    reason: str
    source: str = ""


@dataclass
class Chunk:
    """Consecutive input rows: ``features`` go to the model, ``kept`` beside predictions."""

    index: int
    start: int
    rows: int
    source: str
    features: pa.Table
    kept: pa.Table
    errors: list[RowError] = field(default_factory=list)
    # Input row numbers of the rows in ``features`` when they are not ``start`` onwards
    # (a CSV block with malformed lines, which are in ``errors`` instead).
    numbers: np.ndarray[Any, Any] | None = None

    def load(self) -> Chunk:
        """The chunk itself, read already (a CSV or JSON Lines block is parsed by this call)."""
        return self

    def row_numbers(self) -> np.ndarray[Any, Any]:
        """The input row number of each row in ``features``."""
        if self.numbers is not None:
            return self.numbers
        return np.arange(self.start, self.start + self.features.num_rows)


@dataclass
class ScoredChunk:
    """A chunk's outputs: one table of good rows, and the rows that failed."""

    index: int
    start: int
    rows: int
    table: pa.Table
    errors: list[RowError] = field(default_factory=list)
    sample: list[SampledRow] = field(default_factory=list)
    flags: dict[tuple[str, str], int] = field(default_factory=dict)
    """Rows answered on a flagged value, per (feature, reason), as serving counts them."""


@dataclass
class Progress:
    """Where a running job is, reported after every committed part."""

    rows_done: int
    rows_total: int | None
    errors: int
    elapsed_s: float
    resumed_from: int = 0

    @property
    def rate(self) -> float:
        """Input rows per second in this run (rows committed before a resume do not count)."""
        done = self.rows_done - self.resumed_from
        return done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate, when the total is known."""
        if self.rows_total is None or self.rate <= 0:
            return None
        return max(self.rows_total - self.rows_done, 0) / self.rate


@dataclass(frozen=True)
class BatchSummary:
    """How a job ended: rows read, rows written, rows in error, speed."""

    model: str
    output: str
    rows: int
    written: int
    errors: int
    parts: int
    seconds: float
    resumed_from: int = 0
    device: str = "cpu"

    @property
    def rows_per_s(self) -> float:
        """Input rows per second in this run."""
        done = self.rows - self.resumed_from
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 1)}
