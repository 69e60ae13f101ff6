"""Stream an input (file, folder, glob or fsspec URL; CSV, Parquet, JSON Lines) as chunks.

Memory is bounded by the chunk size: files are read as Arrow record batches and cut
into chunks of exactly ``chunk_rows`` rows (the last of each file may be shorter), so
chunk ``i`` always holds the same rows and a resumed job can skip what was committed.
CSV columns are read as text and cast to numbers by the scorer, so one bad value
sends one row to the errors file instead of stopping the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fsspec  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lanza.batch.spec import Chunk, RowError
from lanza.errors import DataError

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl"}
SUFFIXES |= {".json": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class InputSet:
    """The files of one input, in a stable order, on one fsspec filesystem."""

    fs: Any
    files: tuple[str, ...]
    sizes: tuple[int, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes over every file."""
        return sum(self.sizes)

    def parquet_rows(self) -> int | None:
        """Total rows from Parquet footers, or ``None`` when any file is not Parquet."""
        if any(kind_of(f) != "parquet" for f in self.files):
            return None
        total = 0
        for name in self.files:
            with self.fs.open(name, "rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total


def kind_of(path: str) -> str:
    """The reader for a file name, by its suffix."""
    lower = path.lower().removesuffix(".gz")
    for suffix, kind in SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    raise DataError(f"{path} is not CSV, Parquet or JSON Lines (by its suffix).")


def resolve_input(text: str) -> InputSet:
    """Every data file an input names: the file itself, a folder's files, or a glob's matches."""
    try:
        fs, path = fsspec.core.url_to_fs(text)
        if any(ch in path for ch in "*?["):
            found = sorted(fs.glob(path))
        elif fs.isdir(path):
            found = sorted(p for p in fs.find(path) if not _hidden(p))
        elif fs.exists(path):
            found = [path]
        else:
            raise DataError(f"The input {text} does not exist.")
        files = [f for f in found if _data_file(f)]
        sizes = [int(fs.size(f) or 0) for f in files]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"The input {text} cannot be listed: {exc}") from exc
    if not files:
        raise DataError(f"The input {text} holds no CSV, Parquet or JSON Lines files.")
    return InputSet(fs, tuple(files), tuple(sizes))


def _hidden(path: str) -> bool:
    return any(part.startswith((".", "_")) for part in path.split("/")[-1:])


def _data_file(path: str) -> bool:
    try:
        kind_of(path)
    except DataError:
        return False
    return True


class ChunkReader:
    """Reads an ``InputSet`` chunk by chunk, keeping only the columns a job needs."""

    def __init__(
        self,
        inputs: InputSet,
        features: list[str] | None,
        kept: list[str],
        chunk_rows: int,
        required: set[str] | None = None,
        numeric: set[str] | None = None,
    ) -> None:
        self.inputs = inputs
        self.features = features
        self.kept = kept
        self.chunk_rows = chunk_rows
        self.required = required if required is not None else set(features or ())
        self.bytes_done = 0
        self.numeric = numeric or set()
        self._pending: list[RowError] = []
        self._reported: dict[str, int] = {}

    def fraction(self) -> float:
        """How much of the input's bytes have been read, 0 to 1."""
        total = self.inputs.total_bytes
        return min(self.bytes_done / total, 1.0) if total else 0.0

    def chunks(self, skip: int = 0) -> Iterator[Chunk]:
        """Every chunk in order; the first ``skip`` chunks are read past but not built."""
        index = start = 0
        for number, name in enumerate(self.inputs.files):
            before = sum(self.inputs.sizes[:number])
            for table in self._tables(name):
                rows = table.num_rows
                if index >= skip:
                    yield self._chunk(index, start, name, table)
                else:
                    self._pending.clear()
                index, start = index + 1, start + rows
            self.bytes_done = before + self.inputs.sizes[number]

    def _chunk(self, index: int, start: int, name: str, table: pa.Table) -> Chunk:
        present = set(table.column_names)
        names = self.features if self.features is not None else list(table.column_names)
        features = table.select([n for n in names if n in present])
        errors, self._pending = self._pending, []
        kept = table.select(self.kept)
        return Chunk(index, start, table.num_rows, name, features, kept, errors)

    def _tables(self, name: str) -> Iterator[pa.Table]:
        """A file's chunks; a CSV whose numbers do not all parse is read again as text.

        The fast path parses model columns straight to float64. A value that is not a
        number stops that parser, so the file is reopened with every column as text,
        the rows already chunked are skipped, and the scorer sends the bad rows to
        the errors file.
        """
        done = 0
        try:
            for table in self._read(name, numbers=True):
                done += table.num_rows
                yield table
            return
        except _RetryAsTextError:
            pass
        yield from self._read(name, numbers=False, skip=done)

    def _read(self, name: str, numbers: bool, skip: int = 0) -> Iterator[pa.Table]:
        try:
            with self.inputs.fs.open(name, "rb", compression="infer") as handle:
                batches = self._batches(name, handle, numbers)
                yield from rebatch(_drop(batches, skip), self.chunk_rows)
        except DataError:
            raise
        except pa.ArrowInvalid as exc:
            if numbers and kind_of(name) == "csv" and "conversion error" in str(exc):
                raise _RetryAsTextError from exc
            raise DataError(f"{name} cannot be read: {_first_line(exc)}") from exc
        except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{name} cannot be read: {_first_line(exc)}") from exc

    def _batches(self, name: str, handle: Any, numbers: bool) -> Iterator[pa.RecordBatch]:
        kind = kind_of(name)
        if kind == "parquet":
            parquet = pq.ParquetFile(handle)
            self._check_columns(name, parquet.schema_arrow.names)
            columns = self._wanted(parquet.schema_arrow.names)
            yield from parquet.iter_batches(batch_size=self.chunk_rows, columns=columns)
        elif kind == "csv":
            yield from self._csv(name, handle, numbers)
        else:
            reader = pajson.open_json(handle)
            self._check_columns(name, reader.schema.names)
            for batch in reader:
                yield batch.select(self._wanted(batch.schema.names))
                self._tell(name, handle)

    def _csv(self, name: str, handle: Any, numbers: bool) -> Iterator[pa.RecordBatch]:
        header = _csv_header(handle)
        self._check_columns(name, header)
        wanted = self._wanted(header)
        types = dict.fromkeys(wanted, pa.string())
        if numbers:
            types |= dict.fromkeys((c for c in self.numeric if c in types), pa.float64())
        seen = [0]  # a second pass meets the same malformed lines first: report them once

        def invalid(row: Any) -> str:
            seen[0] += 1
            if seen[0] > self._reported.get(name, 0):
                self._reported[name] = seen[0]
                reason = (
                    f"a line has {row.actual_columns} fields where the header has "
                    f"{row.expected_columns}: {str(row.text)[:80]!r}"
                )
                self._pending.append(RowError(-1, reason, name))
            return "skip"

        reader = pacsv.open_csv(
            handle,
            # One thread: malformed lines are then met in order, so each lands in the
            # same chunk on every run (and a resumed run skips exactly the reported ones).
            read_options=pacsv.ReadOptions(block_size=1 << 20, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, column_types=types, strings_can_be_null=True
            ),
        )
        for batch in reader:
            yield batch
            self._tell(name, handle)

    def _tell(self, name: str, handle: Any) -> None:
        number = self.inputs.files.index(name)
        try:
            self.bytes_done = sum(self.inputs.sizes[:number]) + int(handle.tell())
        except (OSError, ValueError):
            return

    def _wanted(self, names: list[str]) -> list[str]:
        if self.features is None:
            return list(names)
        present = set(names)
        return [n for n in dict.fromkeys([*self.features, *self.kept]) if n in present]

    def _check_columns(self, name: str, names: list[str]) -> None:
        present = set(names)
        for column in [*sorted(self.required), *self.kept]:
            if column not in present:
                raise DataError(f"Column '{column}' is missing from {name}.")


class _RetryAsTextError(Exception):
    """The fast CSV path met a value that is not a number."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _drop(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches after their first ``rows`` rows."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows) if rows else batch
        rows = 0


def _csv_header(handle: Any) -> list[str]:
    line = handle.readline()
    handle.seek(0)
    text = line.decode("utf-8-sig") if isinstance(line, bytes) else str(line)
    return next(csv.reader(io.StringIO(text)), [])


def rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows from batches of any size (the last may be shorter)."""
    buffer: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        buffer.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(buffer)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            buffer = rest.to_batches() if rest.num_rows else []
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(buffer)
